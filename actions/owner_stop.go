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

// stopTarget is one stoppable kind as the stopper reads and patches it.
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
	if o.APIVersion != "" && !strings.HasPrefix(o.APIVersion, "apps/") && !strings.HasPrefix(o.APIVersion, "batch/") {
		return stopTarget{}, fmt.Errorf("stop %s in namespace %s: %w (apiVersion %s)", o, o.Namespace, ErrNotStoppable, o.APIVersion)
	}
	ns, name := o.Namespace, o.Name
	apps, batch := s.Client.AppsV1(), s.Client.BatchV1()
	mergePatch := func(p func(ctx context.Context, name string, pt types.PatchType, data []byte) error) func(context.Context, []byte) error {
		return func(ctx context.Context, data []byte) error { return p(ctx, name, types.MergePatchType, data) }
	}
	replicas := func(r *int32) int32 {
		if r == nil {
			return 1 // the API server's default
		}
		return *r
	}
	suspended := func(b *bool) bool { return b != nil && *b }
	switch o.Kind {
	case "Deployment":
		return stopTarget{resource: "deployment", scale: true,
			get: func(ctx context.Context) (metav1.Object, int32, bool, error) {
				d, err := apps.Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return nil, 0, false, err
				}
				return d, replicas(d.Spec.Replicas), replicas(d.Spec.Replicas) == 0, nil
			},
			patch: mergePatch(func(ctx context.Context, name string, pt types.PatchType, data []byte) error {
				_, err := apps.Deployments(ns).Patch(ctx, name, pt, data, metav1.PatchOptions{})
				return err
			}),
		}, nil
	case "StatefulSet":
		return stopTarget{resource: "statefulset", scale: true,
			get: func(ctx context.Context) (metav1.Object, int32, bool, error) {
				d, err := apps.StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return nil, 0, false, err
				}
				return d, replicas(d.Spec.Replicas), replicas(d.Spec.Replicas) == 0, nil
			},
			patch: mergePatch(func(ctx context.Context, name string, pt types.PatchType, data []byte) error {
				_, err := apps.StatefulSets(ns).Patch(ctx, name, pt, data, metav1.PatchOptions{})
				return err
			}),
		}, nil
	case "ReplicaSet":
		return stopTarget{resource: "replicaset", scale: true,
			get: func(ctx context.Context) (metav1.Object, int32, bool, error) {
				d, err := apps.ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return nil, 0, false, err
				}
				return d, replicas(d.Spec.Replicas), replicas(d.Spec.Replicas) == 0, nil
			},
			patch: mergePatch(func(ctx context.Context, name string, pt types.PatchType, data []byte) error {
				_, err := apps.ReplicaSets(ns).Patch(ctx, name, pt, data, metav1.PatchOptions{})
				return err
			}),
		}, nil
	case "Job":
		return stopTarget{resource: "job",
			get: func(ctx context.Context) (metav1.Object, int32, bool, error) {
				j, err := batch.Jobs(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return nil, 0, false, err
				}
				return j, 0, suspended(j.Spec.Suspend), nil
			},
			patch: mergePatch(func(ctx context.Context, name string, pt types.PatchType, data []byte) error {
				_, err := batch.Jobs(ns).Patch(ctx, name, pt, data, metav1.PatchOptions{})
				return err
			}),
		}, nil
	case "CronJob":
		return stopTarget{resource: "cronjob",
			get: func(ctx context.Context) (metav1.Object, int32, bool, error) {
				c, err := batch.CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return nil, 0, false, err
				}
				return c, 0, suspended(c.Spec.Suspend), nil
			},
			patch: mergePatch(func(ctx context.Context, name string, pt types.PatchType, data []byte) error {
				_, err := batch.CronJobs(ns).Patch(ctx, name, pt, data, metav1.PatchOptions{})
				return err
			}),
		}, nil
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
