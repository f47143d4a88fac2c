package actions

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// EventReasonBusyWithoutPod is the reason of the Event on a Node whose GPU is
// busy while no pod holds it.
const EventReasonBusyWithoutPod = "GPUBusyWithoutPod"

// NodeFinding is a busy GPU that no pod holds: something outside
// Kubernetes' accounting uses it. It is recorded on the Node, never acted on.
type NodeFinding struct {
	Node, GPU, UUID, MIGInstance string
	// Cycles counts consecutive cycles with the finding (the Event's count).
	Cycles int
	Reason string
}

// Key identifies the finding across cycles.
func (f NodeFinding) Key() string {
	k := f.Node + "/" + f.GPU + "/" + f.UUID
	if f.MIGInstance != "" {
		k += "/mig-" + f.MIGInstance
	}
	return k
}

// RecordNode writes the finding as a Warning Event on the Node (in the
// "default" namespace, where the API server keeps events of cluster-scoped
// objects): created once, then its count and message patched each cycle.
// It needs create and patch on events there, which the chart's ClusterRole
// grants.
func (k KubeEvents) RecordNode(ctx context.Context, f NodeFinding) error {
	name := eventName(f.Node, types.UID(f.Key()), EventReasonBusyWithoutPod)
	msg := fmt.Sprintf("GPU %s (%s) on %s is busy and no pod holds it: %s. Check processes on the node "+
		"and pods that see all GPUs (NVIDIA_VISIBLE_DEVICES=all without a nvidia.com/gpu request).", f.GPU, f.UUID, f.Node, f.Reason)
	if f.MIGInstance != "" {
		msg = fmt.Sprintf("MIG instance %s of ", f.MIGInstance) + msg
	}
	msg = truncateMessage(msg)
	ref := corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: f.Node}
	if err := k.upsert(ctx, metav1.NamespaceDefault, name, ref, EventReasonBusyWithoutPod, msg, f.Node, f.Cycles); err != nil {
		return fmt.Errorf("record event %s on node %s: %w", EventReasonBusyWithoutPod, f.Node, err)
	}
	return nil
}
