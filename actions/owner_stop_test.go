package actions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var stopAt = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func stopper(objects ...runtime.Object) (KubeOwnerStopper, *fake.Clientset) {
	client := fake.NewClientset(objects...)
	return KubeOwnerStopper{Client: client, Now: func() time.Time { return stopAt }}, client
}

const annotationsOff = "miner-detector.io/stopped-by- miner-detector.io/stopped-at- miner-detector.io/reason- miner-detector.io/undo-"

func TestKubeOwnerStopperScales(t *testing.T) {
	cases := []struct {
		kind, resource string
		object         runtime.Object
		replicas       func(c *fake.Clientset) (*int32, map[string]string)
		wantBefore     string
	}{{
		kind: "Deployment", resource: "deployment", wantBefore: "3",
		object: &appsv1.Deployment{ObjectMeta: objectMeta("miner", "deploy-uid", nil), Spec: appsv1.DeploymentSpec{Replicas: int32Ptr(3)}},
		replicas: func(c *fake.Clientset) (*int32, map[string]string) {
			d, _ := c.AppsV1().Deployments("team-a").Get(context.Background(), "miner", metav1.GetOptions{})
			return d.Spec.Replicas, d.Annotations
		},
	}, {
		kind: "StatefulSet", resource: "statefulset", wantBefore: "1",
		object: &appsv1.StatefulSet{ObjectMeta: objectMeta("miner", "sts-uid", nil)}, // replicas unset: 1
		replicas: func(c *fake.Clientset) (*int32, map[string]string) {
			d, _ := c.AppsV1().StatefulSets("team-a").Get(context.Background(), "miner", metav1.GetOptions{})
			return d.Spec.Replicas, d.Annotations
		},
	}, {
		kind: "ReplicaSet", resource: "replicaset", wantBefore: "2",
		object: &appsv1.ReplicaSet{ObjectMeta: objectMeta("miner", "rs-uid", nil), Spec: appsv1.ReplicaSetSpec{Replicas: int32Ptr(2)}},
		replicas: func(c *fake.Clientset) (*int32, map[string]string) {
			d, _ := c.AppsV1().ReplicaSets("team-a").Get(context.Background(), "miner", metav1.GetOptions{})
			return d.Spec.Replicas, d.Annotations
		},
	}}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			s, client := stopper(tc.object)
			o := Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: tc.kind, Name: "miner"}
			undo, err := s.Stop(context.Background(), o, StopRequest{Reason: "deleted 3 times in 24h, it came back", At: stopAt})
			if err != nil {
				t.Fatal(err)
			}
			want := "kubectl -n team-a scale " + tc.resource + "/miner --replicas=" + tc.wantBefore +
				" && kubectl -n team-a annotate " + tc.resource + "/miner " + annotationsOff + " miner-detector.io/replicas-before-"
			if undo != want {
				t.Errorf("undo =\n  %s\nwant\n  %s", undo, want)
			}
			replicas, ann := tc.replicas(client)
			if replicas == nil || *replicas != 0 {
				t.Errorf("replicas = %v, want 0", replicas)
			}
			wantAnn := map[string]string{
				AnnotationStoppedBy: "miner-detector", AnnotationStoppedAt: "2026-01-05T12:00:00Z",
				AnnotationReason: "deleted 3 times in 24h, it came back", AnnotationReplicas: tc.wantBefore, AnnotationUndo: want,
			}
			for k, v := range wantAnn {
				if ann[k] != v {
					t.Errorf("annotation %s = %q, want %q", k, ann[k], v)
				}
			}

			// Again: already stopped, nothing patched, the same undo.
			client.ClearActions()
			again, err := s.Stop(context.Background(), o, StopRequest{Reason: "again"})
			if err != nil || again != want {
				t.Errorf("second stop: undo %q, err %v; want %q", again, err, want)
			}
			for _, a := range client.Actions() {
				if a.GetVerb() == "patch" {
					t.Errorf("second stop patched %s", a.GetResource().Resource)
				}
			}
		})
	}
}

func TestKubeOwnerStopperSuspends(t *testing.T) {
	cases := []struct {
		kind, resource string
		object         runtime.Object
		suspended      func(c *fake.Clientset) (*bool, map[string]string)
	}{{
		kind: "Job", resource: "job",
		object: &batchv1.Job{ObjectMeta: objectMeta("miner", "job-uid", nil)},
		suspended: func(c *fake.Clientset) (*bool, map[string]string) {
			j, _ := c.BatchV1().Jobs("team-a").Get(context.Background(), "miner", metav1.GetOptions{})
			return j.Spec.Suspend, j.Annotations
		},
	}, {
		kind: "CronJob", resource: "cronjob",
		object: &batchv1.CronJob{ObjectMeta: objectMeta("miner", "cj-uid", nil), Spec: batchv1.CronJobSpec{Suspend: boolPtr(false)}},
		suspended: func(c *fake.Clientset) (*bool, map[string]string) {
			j, _ := c.BatchV1().CronJobs("team-a").Get(context.Background(), "miner", metav1.GetOptions{})
			return j.Spec.Suspend, j.Annotations
		},
	}}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			s, client := stopper(tc.object)
			o := Owner{Namespace: "team-a", APIVersion: "batch/v1", Kind: tc.kind, Name: "miner"}
			undo, err := s.Stop(context.Background(), o, StopRequest{Reason: strings.Repeat("é", 400)})
			if err != nil {
				t.Fatal(err)
			}
			want := `kubectl -n team-a patch ` + tc.resource + `/miner -p '{"spec":{"suspend":false}}'` +
				" && kubectl -n team-a annotate " + tc.resource + "/miner " + annotationsOff
			if undo != want {
				t.Errorf("undo =\n  %s\nwant\n  %s", undo, want)
			}
			suspend, ann := tc.suspended(client)
			if suspend == nil || !*suspend {
				t.Errorf("suspend = %v, want true", suspend)
			}
			if ann[AnnotationUndo] != want || ann[AnnotationStoppedBy] != "miner-detector" {
				t.Errorf("annotations = %v", ann)
			}
			if _, ok := ann[AnnotationReplicas]; ok {
				t.Errorf("a suspended %s has %s", tc.kind, AnnotationReplicas)
			}
			if r := ann[AnnotationReason]; len(r) > maxReasonAnnotation || !strings.HasSuffix(r, "é...") {
				t.Errorf("reason annotation not truncated on a rune boundary: %d bytes, ends %q", len(r), r[len(r)-6:])
			}
		})
	}
}

func TestKubeOwnerStopperRefuses(t *testing.T) {
	deploy := &appsv1.Deployment{ObjectMeta: objectMeta("miner", "deploy-uid", nil), Spec: appsv1.DeploymentSpec{Replicas: int32Ptr(1)}}
	cases := []struct {
		name    string
		owner   Owner
		wantErr error
	}{
		{"DaemonSet", Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "DaemonSet", Name: "miner"}, ErrNotStoppable},
		{"bare pod", Owner{Namespace: "team-a", APIVersion: "v1", Kind: "Pod", Name: "miner"}, ErrNotStoppable},
		{"custom controller", Owner{Namespace: "team-a", APIVersion: "kubeflow.org/v1", Kind: "Notebook", Name: "miner"}, ErrNotStoppable},
		{"custom kind named Deployment", Owner{Namespace: "team-a", APIVersion: "example.com/v1", Kind: "Deployment", Name: "miner"}, ErrNotStoppable},
		{"gone", Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "Deployment", Name: "other"}, ErrOwnerGone},
		{"replaced", Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "Deployment", Name: "miner", UID: "old-uid"}, ErrOwnerReplaced},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, client := stopper(deploy)
			undo, err := s.Stop(context.Background(), tc.owner, StopRequest{Reason: "r"})
			if !errors.Is(err, tc.wantErr) || undo != "" {
				t.Errorf("undo %q, err %v; want %v", undo, err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.owner.Name) {
				t.Errorf("error does not name the owner: %v", err)
			}
			for _, a := range client.Actions() {
				if a.GetVerb() == "patch" {
					t.Errorf("patched %s", a.GetResource().Resource)
				}
			}
		})
	}
}

// A conflict (the owner changed between read and patch) reads it again and
// patches the new version; the replicas in the undo are the new ones.
func TestKubeOwnerStopperRetriesOnConflict(t *testing.T) {
	s, client := stopper(&appsv1.Deployment{ObjectMeta: objectMeta("miner", "deploy-uid", nil), Spec: appsv1.DeploymentSpec{Replicas: int32Ptr(1)}})
	conflicts := 1
	client.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			return false, nil, nil
		}
		conflicts--
		// Someone scaled it up in between.
		d, _ := client.Tracker().Get(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "team-a", "miner")
		d.(*appsv1.Deployment).Spec.Replicas = int32Ptr(4)
		if err := client.Tracker().Update(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, d, "team-a"); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "miner", errors.New("changed"))
	})
	undo, err := s.Stop(context.Background(), Owner{Namespace: "team-a", Kind: "Deployment", Name: "miner", UID: "deploy-uid"}, StopRequest{Reason: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(undo, "--replicas=4 ") {
		t.Errorf("undo %q, want the replicas read after the conflict (4)", undo)
	}
}

func TestKubeOwnerStopperForbidden(t *testing.T) {
	s, client := stopper(&batchv1.CronJob{ObjectMeta: objectMeta("miner", "cj-uid", nil)})
	client.PrependReactor("patch", "cronjobs", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "batch", Resource: "cronjobs"}, "miner", errors.New("RBAC"))
	})
	_, err := s.Stop(context.Background(), Owner{Namespace: "team-a", Kind: "CronJob", Name: "miner"}, StopRequest{Reason: "r"})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "cronjob/miner") {
		t.Errorf("err = %v, want Forbidden naming cronjob/miner", err)
	}
}

func int32Ptr(v int32) *int32 { return &v }
func boolPtr(v bool) *bool    { return &v }
