package actions

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Event reasons, stable for kubectl field selectors and alerts.
const (
	EventReasonDetected = "GPUMinerDetected"
	EventReasonDeleted  = "GPUMinerPodDeleted"
)

// ErrPodNotFound means the pod a finding is about no longer exists.
var ErrPodNotFound = errors.New("pod not found")

// EventRecorder records a finding where cluster users look for it.
type EventRecorder interface {
	Record(ctx context.Context, f Finding) error
}

// maxEventMessage bounds an Event's message (events.k8s.io limits a note to
// 1 kB; core/v1 readers truncate long ones anyway).
const maxEventMessage = 1024

// KubeEvents records findings as core/v1 Warning Events on the pod: reason
// GPUMinerDetected for a detection, GPUMinerPodDeleted for a deletion. One
// Event per pod (by UID) and reason, its count and message updated each
// cycle, as client-go's recorder aggregates repeats. It needs get on pods and
// create and patch on events.
type KubeEvents struct {
	Client kubernetes.Interface
	// Component is the event source; "miner-detector" when empty.
	Component string
	// Now is the clock for event timestamps; time.Now when nil.
	Now func() time.Time
}

// Record writes the finding's Event. A detection on a pod that does not exist
// is an error wrapping ErrPodNotFound. A deletion's Event is written even
// when the pod is already gone (then without its UID).
func (k KubeEvents) Record(ctx context.Context, f Finding) error {
	reason := EventReasonDetected
	if f.Kind == FindingDeleted {
		reason = EventReasonDeleted
	}
	var uid types.UID
	pod, err := k.Client.CoreV1().Pods(f.Pod.Namespace).Get(ctx, f.Pod.Pod, metav1.GetOptions{})
	switch {
	case err == nil:
		uid = pod.UID
	case apierrors.IsNotFound(err) && f.Kind == FindingDeleted:
	case apierrors.IsNotFound(err):
		return fmt.Errorf("record event %s on pod %s: %w: %w", reason, f.Pod, ErrPodNotFound, err)
	default:
		return fmt.Errorf("record event %s on pod %s: get pod: %w", reason, f.Pod, err)
	}

	ref := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: f.Pod.Namespace, Name: f.Pod.Pod, UID: uid}
	name := eventName(f.Pod.Pod, uid, reason)
	if err := k.upsert(ctx, f.Pod.Namespace, name, ref, reason, eventMessage(f), f.Node, f.Strikes); err != nil {
		return fmt.Errorf("record event %s on pod %s: %w", reason, f.Pod, err)
	}
	return nil
}

// upsert writes a Warning Event: created the first time, then its count,
// time and message patched in place (a JSON merge patch). The count is the
// caller's (one per cycle that found it), so the old Event is never read:
// create and patch on events are all it needs.
func (k KubeEvents) upsert(ctx context.Context, namespace, name string, ref corev1.ObjectReference,
	reason, message, host string, count int) error {
	now := metav1.NewTime(k.now())
	component := cmp.Or(k.Component, "miner-detector")
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: name, Namespace: namespace},
		InvolvedObject:      ref,
		Reason:              reason,
		Message:             message,
		Type:                corev1.EventTypeWarning,
		Source:              corev1.EventSource{Component: component, Host: host},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: component,
		ReportingInstance:   component,
	}
	api := k.Client.CoreV1().Events(namespace)
	_, err := api.Create(ctx, ev, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create: %w", err)
	}
	patch, err := json.Marshal(map[string]any{"count": max(count, 1), "lastTimestamp": now, "message": message})
	if err != nil {
		return fmt.Errorf("encode patch: %w", err)
	}
	if _, err := api.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch event %s: %w", name, err)
	}
	return nil
}

func (k KubeEvents) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// eventName is the pod's name, a dot and a hash of its UID and the reason:
// the same for every cycle of one finding, different for a new pod reusing
// the name.
func eventName(pod string, uid types.UID, reason string) string {
	h := fnv.New64a()
	h.Write([]byte(uid))
	h.Write([]byte{0})
	h.Write([]byte(reason))
	suffix := fmt.Sprintf(".%016x", h.Sum64())
	const maxName = 253
	if len(pod)+len(suffix) > maxName {
		pod = pod[:maxName-len(suffix)]
	}
	return pod + suffix
}

// eventMessage is the finding in one paragraph with its numbers.
func eventMessage(f Finding) string {
	var b strings.Builder
	if f.Kind == FindingDeleted {
		fmt.Fprintf(&b, "Deleted by miner-detector (%s). ", f.Action)
	}
	b.WriteString(strings.Join(f.GPULines(), "; "))
	if f.Kind != FindingDeleted {
		fmt.Fprintf(&b, ". Strike %d; %s", f.Strikes, f.Action)
	}
	if f.Owner != nil {
		fmt.Fprintf(&b, ". Owner %s", f.Owner)
	}
	if ev := f.Report.Evidence.Owner; ev != nil {
		fmt.Fprintf(&b, " (judged on its owner's window: %d pods, mean %.1f%% stddev %.2f)", len(ev.Pods), ev.Mean, ev.StdDev)
	}
	return truncateMessage(b.String())
}

// truncateMessage bounds an Event message, cutting on a rune boundary.
func truncateMessage(msg string) string { return truncate(msg, maxEventMessage) }
