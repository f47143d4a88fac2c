package actions

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/miner-detector/miner-detector/analyzer"
)

// ErrOwnerIncomplete is wrapped by KubeOwners when it could read the pod's
// controller (a ReplicaSet or a Job) but not that controller's own
// controller (Forbidden, NotFound, a timeout). The Owner returned with it is
// that ReplicaSet or Job: usable as a key, so the cycle is never blocked, but
// possibly not the top controller (a Deployment behind the ReplicaSet, a
// CronJob behind the Job). Report the error; do not stop such an owner, its
// own controller may undo the stop.
var ErrOwnerIncomplete = errors.New("owner resolved only partly")

// KubeOwners resolves a pod's top controller through the Kubernetes API: the
// pod's controller ownerReference, then one step further for a ReplicaSet
// (apps/v1; its Deployment, or whatever controls it, e.g. an Argo Rollout)
// and a Job (batch/v1; its CronJob or other controller). A StatefulSet, a
// DaemonSet and any other kind, custom controllers included, are the owner
// as the reference names them: they are never read, so no RBAC on
// arbitrary kinds is needed. A pod without a controller is its own owner.
// It needs get on pods, replicasets (apps) and jobs (batch).
type KubeOwners struct {
	Client kubernetes.Interface
}

var _ OwnerResolver = KubeOwners{}

// Owner returns the pod's top controller. A pod that no longer exists is an
// error wrapping ErrOwnerPodGone. When the pod's ReplicaSet or Job cannot be
// read, Owner returns that ReplicaSet or Job as the owner together with an
// error wrapping ErrOwnerIncomplete and the cause (see there).
func (k KubeOwners) Owner(ctx context.Context, key analyzer.PodKey) (Owner, error) {
	pod, err := k.Client.CoreV1().Pods(key.Namespace).Get(ctx, key.Pod, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Owner{}, fmt.Errorf("owner of pod %s: %w: %w", key, ErrOwnerPodGone, err)
	case err != nil:
		return Owner{}, fmt.Errorf("owner of pod %s: get pod: %w", key, err)
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return Owner{Namespace: key.Namespace, APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: string(pod.UID)}, nil
	}
	owner := ownerOf(key.Namespace, *ref)
	var next *metav1.OwnerReference
	switch group(ref.APIVersion) + "/" + ref.Kind {
	case "apps/ReplicaSet":
		rs, err := k.Client.AppsV1().ReplicaSets(key.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return owner, fmt.Errorf("owner of pod %s: get replicaset %s: %w: %w", key, ref.Name, ErrOwnerIncomplete, err)
		}
		next = metav1.GetControllerOf(rs)
	case "batch/Job":
		job, err := k.Client.BatchV1().Jobs(key.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return owner, fmt.Errorf("owner of pod %s: get job %s: %w: %w", key, ref.Name, ErrOwnerIncomplete, err)
		}
		next = metav1.GetControllerOf(job)
	}
	if next != nil {
		owner = ownerOf(key.Namespace, *next)
	}
	return owner, nil
}

// ownerOf is the owner an ownerReference names, in the namespace of the
// object holding it (owner references never cross namespaces).
func ownerOf(namespace string, ref metav1.OwnerReference) Owner {
	return Owner{Namespace: namespace, APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: string(ref.UID)}
}

// group is the API group of an apiVersion ("apps/v1" -> "apps", "v1" -> "").
func group(apiVersion string) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return ""
	}
	return gv.Group
}
