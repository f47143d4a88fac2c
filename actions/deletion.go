package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/miner-detector/miner-detector/analyzer"
)

var (
	// ErrStaleEvidence means the live pod is not the pod the evidence is
	// about (another node, or created after the evidence began): the
	// deletion was refused.
	ErrStaleEvidence = errors.New("stale evidence")
	// ErrPodGone means the pod no longer exists or is already terminating:
	// nothing to delete, and not a failure.
	ErrPodGone = errors.New("pod already gone")
)

// DeleteRequest asks to delete one pod on the strength of its evidence.
type DeleteRequest struct {
	Pod analyzer.PodKey
	// Node is where the evidence was seen; the live pod must run there.
	Node string
	// EvidenceStart is the end of the earliest chunk holding a sample of
	// the pod; the live pod must have been created by then.
	EvidenceStart time.Time
	// Reason is why, for logs.
	Reason string
}

// PodDeleter deletes pods.
type PodDeleter interface {
	Delete(ctx context.Context, req DeleteRequest) error
}

// KubeDeleter deletes pods through the Kubernetes API, the old detector's
// action (the pod's controller restarts it). Before deleting it checks that
// the live pod is the one the evidence is about, and deletes with a UID
// precondition so a pod recreated under the same name in between is never
// touched. It needs get and delete on pods.
type KubeDeleter struct {
	Client kubernetes.Interface
}

// Delete deletes the pod, or returns an error wrapping ErrStaleEvidence when
// the live pod is not the evidence's pod, or ErrPodGone when there is nothing
// to delete.
func (d KubeDeleter) Delete(ctx context.Context, req DeleteRequest) error {
	if req.Node == "" || req.EvidenceStart.IsZero() {
		return fmt.Errorf("delete pod %s: request lacks evidence (node %q, evidence start %v): refusing", req.Pod, req.Node, req.EvidenceStart)
	}
	api := d.Client.CoreV1().Pods(req.Pod.Namespace)
	pod, err := api.Get(ctx, req.Pod.Pod, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("delete pod %s: %w", req.Pod, ErrPodGone)
	case err != nil:
		return fmt.Errorf("delete pod %s: get: %w", req.Pod, err)
	case pod.DeletionTimestamp != nil:
		return fmt.Errorf("delete pod %s: %w (terminating since %s)", req.Pod, ErrPodGone, pod.DeletionTimestamp.UTC().Format(time.RFC3339))
	case pod.Spec.NodeName != req.Node:
		return fmt.Errorf("delete pod %s: %w: live pod runs on node %q, the evidence is from node %q", req.Pod, ErrStaleEvidence, pod.Spec.NodeName, req.Node)
	case pod.CreationTimestamp.After(req.EvidenceStart):
		return fmt.Errorf("delete pod %s: %w: live pod created %s, after the evidence began %s (recreated under the same name?)",
			req.Pod, ErrStaleEvidence, pod.CreationTimestamp.UTC().Format(time.RFC3339), req.EvidenceStart.UTC().Format(time.RFC3339))
	}
	uid := pod.UID
	err = api.Delete(ctx, req.Pod.Pod, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("delete pod %s: %w", req.Pod, ErrPodGone)
	case apierrors.IsConflict(err):
		return fmt.Errorf("delete pod %s: %w: pod replaced between check and delete (uid %s): %w", req.Pod, ErrStaleEvidence, uid, err)
	default:
		return fmt.Errorf("delete pod %s: %w", req.Pod, err)
	}
}
