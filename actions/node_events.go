package actions

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	now := metav1.NewTime(k.now())
	component := or(k.Component, "miner-detector")
	name := eventName(f.Node, types.UID(f.Key()), EventReasonBusyWithoutPod)
	msg := fmt.Sprintf("GPU %s (%s) on %s is busy and no pod holds it: %s. Check processes on the node "+
		"and pods that see all GPUs (NVIDIA_VISIBLE_DEVICES=all without a nvidia.com/gpu request).", f.GPU, f.UUID, f.Node, f.Reason)
	if f.MIGInstance != "" {
		msg = fmt.Sprintf("MIG instance %s of ", f.MIGInstance) + msg
	}
	if len(msg) > maxEventMessage {
		msg = msg[:maxEventMessage-3] + "..."
	}
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		InvolvedObject:      corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: f.Node},
		Reason:              EventReasonBusyWithoutPod,
		Message:             msg,
		Type:                corev1.EventTypeWarning,
		Source:              corev1.EventSource{Component: component, Host: f.Node},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: component,
		ReportingInstance:   component,
	}
	api := k.Client.CoreV1().Events(metav1.NamespaceDefault)
	_, err := api.Create(ctx, ev, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("record event %s on node %s: create: %w", EventReasonBusyWithoutPod, f.Node, err)
	}
	patch, err := json.Marshal(map[string]any{"count": max(f.Cycles, 1), "lastTimestamp": now, "message": msg})
	if err != nil {
		return fmt.Errorf("record event %s on node %s: encode patch: %w", EventReasonBusyWithoutPod, f.Node, err)
	}
	if _, err := api.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("record event %s on node %s: patch event %s: %w", EventReasonBusyWithoutPod, f.Node, name, err)
	}
	return nil
}
