package actions

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

// Owner is the top controller of a pod: the object that recreates it when it
// is deleted (a Deployment through its ReplicaSet, a StatefulSet, a
// DaemonSet, a CronJob through its Job, a Job, or any custom controller such
// as a notebook operator). A pod without a controller is its own owner
// (Kind "Pod").
type Owner struct {
	Namespace  string `json:"namespace"`
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
}

// Key identifies the owner in the action state and in metrics:
// "namespace/Kind/name".
func (o Owner) Key() string { return o.Namespace + "/" + o.Kind + "/" + o.Name }

// String is the owner as kubectl names it: "deployment/miner".
func (o Owner) String() string { return strings.ToLower(o.Kind) + "/" + o.Name }

// IsPod reports whether the pod is its own owner (no controller).
func (o Owner) IsPod() bool { return o.Kind == "Pod" }

// Stoppable reports whether escalation can stop the owner: scale a
// Deployment, StatefulSet or ReplicaSet to zero, or suspend a Job or
// CronJob. A DaemonSet, a bare pod or a custom controller cannot be.
func (o Owner) Stoppable() bool {
	switch o.Kind {
	case "Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob":
		return true
	}
	return false
}

// ErrOwnerPodGone is wrapped by an OwnerResolver when the pod no longer
// exists, so its owner cannot be read.
var ErrOwnerPodGone = errors.New("pod gone: owner unknown")

// OwnerResolver finds a pod's top controller.
type OwnerResolver interface {
	Owner(ctx context.Context, pod analyzer.PodKey) (Owner, error)
}

// OwnerStopper stops an owner whose pods keep mining after being deleted:
// scales it to zero or suspends it, and annotates it with who did it, why
// and how to undo it. It returns the command that undoes it.
type OwnerStopper interface {
	Stop(ctx context.Context, o Owner, req StopRequest) (undo string, err error)
}

// StopRequest is why an owner is stopped.
type StopRequest struct {
	// Reason is the escalation in words, for the annotation.
	Reason string
	// At is when the decision was made (the evidence end).
	At time.Time
}

// OwnerEventRecorder records an escalation as an Event on the owner object.
type OwnerEventRecorder interface {
	RecordOwner(ctx context.Context, o Owner, reason, message string) error
}

// Event reasons of escalation, stable for field selectors and alerts.
const (
	EventReasonRepeatOffender = "GPUMinerRepeatOffender"
	EventReasonOwnerStopped   = "GPUMinerOwnerStopped"
)

// Annotations written on a stopped owner.
const (
	AnnotationStoppedBy = "miner-detector.io/stopped-by"
	AnnotationStoppedAt = "miner-detector.io/stopped-at"
	AnnotationReason    = "miner-detector.io/reason"
	AnnotationUndo      = "miner-detector.io/undo"
	// AnnotationReplicas keeps a scaled owner's replicas before it was
	// scaled to zero, for the undo command.
	AnnotationReplicas = "miner-detector.io/replicas-before"
)

// OwnerState is what the action state keeps of one owner whose pods were
// judged miners: the evidence that survives its pods' restarts.
type OwnerState struct {
	Owner Owner `json:"owner"`
	// Pods are the names of its pods judged a miner, oldest first, at most
	// maxOwnerPods: the analyzer merges their samples into the owner's window.
	Pods []string `json:"pods"`
	// Deletions are the evidence times of its pods' deletions (on evidence
	// strong enough to escalate on) within the escalation period.
	Deletions []time.Time `json:"deletions,omitempty"`
	// LastMiner is the evidence time of the latest miner verdict on one of
	// its pods; the record lapses an escalation period after it.
	LastMiner time.Time `json:"lastMiner"`
	// Escalated is set once the escalation (Event on the owner, Slack) was
	// recorded; Stopped once the owner was scaled to zero or suspended,
	// with Undo the command that reverses it.
	Escalated   bool      `json:"escalated,omitempty"`
	EscalatedAt time.Time `json:"escalatedAt,omitzero"`
	Stopped     bool      `json:"stopped,omitempty"`
	Undo        string    `json:"undo,omitempty"`
}

// maxOwnerPods bounds the pods an owner's record keeps.
const maxOwnerPods = 10

// addPod records a pod of the owner judged a miner.
func (s *OwnerState) addPod(pod string) {
	if slices.Contains(s.Pods, pod) {
		return
	}
	s.Pods = append(s.Pods, pod)
	if len(s.Pods) > maxOwnerPods {
		s.Pods = slices.Clone(s.Pods[len(s.Pods)-maxOwnerPods:])
	}
}

// recentDeletions keeps the deletions within period before now and returns
// how many there are.
func (s *OwnerState) recentDeletions(now time.Time, period time.Duration) int {
	s.Deletions = slices.DeleteFunc(slices.Clone(s.Deletions), func(t time.Time) bool { return now.Sub(t) > period })
	return len(s.Deletions)
}

// PodOwners maps every pod the state remembers of an owner to that owner's
// key: the analyzer's owner window (analyzer.Config.Owners) starts from it.
func (s State) PodOwners() map[analyzer.PodKey]string {
	out := map[analyzer.PodKey]string{}
	for key, os := range s.Owners {
		for _, p := range os.Pods {
			out[analyzer.PodKey{Namespace: os.Owner.Namespace, Pod: p}] = key
		}
	}
	return out
}
