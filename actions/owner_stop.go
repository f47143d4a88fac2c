package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

var (
	// ErrOwnerGone means the owner to stop no longer exists: nothing to do.
	ErrOwnerGone = errors.New("owner gone")
	// ErrOwnerReplaced means an object of the owner's kind and name exists
	// but is not the owner the evidence is about (another UID): it is not
	// touched.
	ErrOwnerReplaced = errors.New("owner replaced")
	// ErrNotStoppable means the owner's kind cannot be stopped (a DaemonSet,
	// a bare pod, a custom controller): see Owner.Stoppable.
	ErrNotStoppable = errors.New("owner kind cannot be stopped")
)

// stoppedBy is the value of AnnotationStoppedBy.
const stoppedBy = "miner-detector"

// maxReasonAnnotation bounds the reason annotation: it is read with kubectl
// describe, not a place for the whole evidence (that is in the Events).
const maxReasonAnnotation = 512

// KubeOwnerStopper stops an escalated owner through the Kubernetes API: a
// Deployment, StatefulSet or ReplicaSet is scaled to zero, a Job or CronJob
// suspended, and the object annotated with who stopped it, when, why, its
// replicas before, and the command that undoes it.
//
// Each stop is one GET (to read the replicas, check the UID and see whether
// it is stopped already) and one JSON merge patch carrying the
// resourceVersion it read, so the patch applies only to the object as read;
// on a conflict (someone changed it in between) it reads and patches again.
// A stop of an owner already stopped by the detector is a no-op returning
// the undo command on it. It needs get and patch on deployments,
// statefulsets, replicasets (apps) and jobs, cronjobs (batch).
type KubeOwnerStopper struct {
	Client kubernetes.Interface
	// Now is the clock of the stopped-at annotation; time.Now when nil.
	Now func() time.Time
}

var _ OwnerStopper = KubeOwnerStopper{}

// stopTarget is one stoppable object as the stopper reads and patches it.
type stopTarget struct {
	// resource is the kind as kubectl names it (deployment, cronjob).
	resource string
	// get reads the object: its metadata, its replicas (scaled kinds) and
	// whether it is stopped already (zero replicas or suspended).
	get func(ctx context.Context) (meta metav1.Object, replicas int32, stopped bool, err error)
	// patch applies a JSON merge patch.
	patch func(ctx context.Context, data []byte) error
	// scale: replicas to zero; otherwise suspend.
	scale bool
}

// typedClient is the part of a client-go typed client the stopper uses.
type typedClient[T metav1.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// scaled binds a kind stopped by scaling to zero; replicas reads its
// spec.replicas (nil means the API server's default, 1).
func scaled[T metav1.Object](resource, name string, c typedClient[T], replicas func(T) *int32) stopTarget {
	t := bind(resource, name, c, func(obj T) (int32, bool) {
		n := int32(1)
		if r := replicas(obj); r != nil {
			n = *r
		}
		return n, n == 0
	})
	t.scale = true
	return t
}

// suspended binds a kind stopped by suspending it; suspend reads its
// spec.suspend.
func suspended[T metav1.Object](resource, name string, c typedClient[T], suspend func(T) *bool) stopTarget {
	return bind(resource, name, c, func(obj T) (int32, bool) {
		s := suspend(obj)
		return 0, s != nil && *s
	})
}

// bind reads and patches the object name through c; state says its replicas
// and whether it is stopped already.
func bind[T metav1.Object](resource, name string, c typedClient[T], state func(T) (int32, bool)) stopTarget {
	return stopTarget{
		resource: resource,
		get: func(ctx context.Context) (metav1.Object, int32, bool, error) {
			obj, err := c.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, 0, false, err
			}
			replicas, stopped := state(obj)
			return obj, replicas, stopped, nil
		},
		patch: func(ctx context.Context, data []byte) error {
			_, err := c.Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{})
			return err
		},
	}
}

// Stop scales the owner to zero or suspends it, annotates it, and returns the
// command that undoes it. An owner stopped already (zero replicas or
// suspended) is left as it is: the undo returned is the one on it, empty
// when someone else stopped it. The owner's UID, when set, must match the live
// object's (ErrOwnerReplaced otherwise). A missing owner wraps ErrOwnerGone,
// a kind that cannot be stopped ErrNotStoppable.
func (s KubeOwnerStopper) Stop(ctx context.Context, o Owner, req StopRequest) (string, error) {
	target, err := s.target(o)
	if err != nil {
		return "", err
	}
	var undo string
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		meta, replicas, stopped, err := target.get(ctx)
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Errorf("%w: %w", ErrOwnerGone, err)
		case err != nil:
			return fmt.Errorf("get: %w", err)
		case o.UID != "" && string(meta.GetUID()) != o.UID:
			return fmt.Errorf("%w: live uid %s, the evidence is about uid %s", ErrOwnerReplaced, meta.GetUID(), o.UID)
		}
		if stopped {
			// Stopped already: by the detector (its undo stands), or by
			// someone else (nothing to undo on the detector's behalf).
			undo = meta.GetAnnotations()[AnnotationUndo]
			return nil
		}
		undo = undoCommand(o, target, replicas)
		annotations := map[string]string{
			AnnotationStoppedBy: stoppedBy,
			AnnotationStoppedAt: s.now().UTC().Format(time.RFC3339),
			AnnotationReason:    truncate(req.Reason, maxReasonAnnotation),
			AnnotationUndo:      undo,
		}
		spec := map[string]any{"suspend": true}
		if target.scale {
			annotations[AnnotationReplicas] = strconv.Itoa(int(replicas))
			spec = map[string]any{"replicas": 0}
		}
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": meta.GetResourceVersion(), "annotations": annotations},
			"spec":     spec,
		})
		if err != nil {
			return fmt.Errorf("encode patch: %w", err)
		}
		if err := target.patch(ctx, patch); err != nil {
			if apierrors.IsConflict(err) {
				return err // read again
			}
			return fmt.Errorf("patch: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("stop %s in namespace %s: %w", o, o.Namespace, err)
	}
	return undo, nil
}

// target binds the typed client of the owner's kind.
func (s KubeOwnerStopper) target(o Owner) (stopTarget, error) {
	if g := group(o.APIVersion); o.APIVersion != "" && g != "apps" && g != "batch" {
		return stopTarget{}, fmt.Errorf("stop %s in namespace %s: %w (apiVersion %s)", o, o.Namespace, ErrNotStoppable, o.APIVersion)
	}
	apps, batch := s.Client.AppsV1(), s.Client.BatchV1()
	switch o.Kind {
	case "Deployment":
		return scaled("deployment", o.Name, apps.Deployments(o.Namespace), func(d *appsv1.Deployment) *int32 { return d.Spec.Replicas }), nil
	case "StatefulSet":
		return scaled("statefulset", o.Name, apps.StatefulSets(o.Namespace), func(d *appsv1.StatefulSet) *int32 { return d.Spec.Replicas }), nil
	case "ReplicaSet":
		return scaled("replicaset", o.Name, apps.ReplicaSets(o.Namespace), func(d *appsv1.ReplicaSet) *int32 { return d.Spec.Replicas }), nil
	case "Job":
		return suspended("job", o.Name, batch.Jobs(o.Namespace), func(j *batchv1.Job) *bool { return j.Spec.Suspend }), nil
	case "CronJob":
		return suspended("cronjob", o.Name, batch.CronJobs(o.Namespace), func(c *batchv1.CronJob) *bool { return c.Spec.Suspend }), nil
	}
	return stopTarget{}, fmt.Errorf("stop %s in namespace %s: %w: a %s is not scaled or suspended by the detector", o, o.Namespace, ErrNotStoppable, o.Kind)
}

// undoCommand restores the owner (its replicas, or resumes it) and removes
// the detector's annotations.
func undoCommand(o Owner, t stopTarget, replicas int32) string {
	obj := t.resource + "/" + o.Name
	restore := fmt.Sprintf(`kubectl -n %s patch %s -p '{"spec":{"suspend":false}}'`, o.Namespace, obj)
	remove := []string{AnnotationStoppedBy, AnnotationStoppedAt, AnnotationReason, AnnotationUndo}
	if t.scale {
		restore = fmt.Sprintf("kubectl -n %s scale %s --replicas=%d", o.Namespace, obj, replicas)
		remove = append(remove, AnnotationReplicas)
	}
	return fmt.Sprintf("%s && kubectl -n %s annotate %s %s-", restore, o.Namespace, obj, strings.Join(remove, "- "))
}

func (s KubeOwnerStopper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// truncate bounds s to n bytes, cutting on a rune boundary and marking the
// cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n -= 3
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
