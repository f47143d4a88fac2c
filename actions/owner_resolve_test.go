package actions

import (
	"context"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/miner-detector/miner-detector/analyzer"
)

// controlledBy is an ownerReference with Controller set.
func controlledBy(apiVersion, kind, name, uid string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), Controller: &yes}}
}

func objectMeta(name, uid string, owners []metav1.OwnerReference) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "team-a", Name: name, UID: types.UID(uid), OwnerReferences: owners}
}

func TestKubeOwners(t *testing.T) {
	notController := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "rs-uid"}}
	cases := []struct {
		name    string
		objects []runtime.Object
		want    Owner
		wantErr error
	}{{
		name: "Deployment through its ReplicaSet",
		objects: []runtime.Object{
			&corev1.Pod{ObjectMeta: objectMeta("miner", "pod-uid", controlledBy("apps/v1", "ReplicaSet", "miner-7d9f", "rs-uid"))},
			&appsv1.ReplicaSet{ObjectMeta: objectMeta("miner-7d9f", "rs-uid", controlledBy("apps/v1", "Deployment", "miner", "deploy-uid"))},
		},
		want: Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "Deployment", Name: "miner", UID: "deploy-uid"},
	}, {
		name: "ReplicaSet without a Deployment",
		objects: []runtime.Object{
			&corev1.Pod{ObjectMeta: objectMeta("miner", "pod-uid", controlledBy("apps/v1", "ReplicaSet", "miner-rs", "rs-uid"))},
			&appsv1.ReplicaSet{ObjectMeta: objectMeta("miner-rs", "rs-uid", nil)},
		},
		want: Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "miner-rs", UID: "rs-uid"},
	}, {
		name: "ReplicaSet of a custom controller (Argo Rollout): stops there, not read",
		objects: []runtime.Object{
			&corev1.Pod{ObjectMeta: objectMeta("miner", "pod-uid", controlledBy("apps/v1", "ReplicaSet", "miner-rs", "rs-uid"))},
			&appsv1.ReplicaSet{ObjectMeta: objectMeta("miner-rs", "rs-uid", controlledBy("argoproj.io/v1alpha1", "Rollout", "miner", "ro-uid"))},
		},
		want: Owner{Namespace: "team-a", APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "miner", UID: "ro-uid"},
	}, {
		name:    "StatefulSet",
		objects: []runtime.Object{&corev1.Pod{ObjectMeta: objectMeta("miner-0", "pod-uid", controlledBy("apps/v1", "StatefulSet", "miner", "sts-uid"))}},
		want:    Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "StatefulSet", Name: "miner", UID: "sts-uid"},
	}, {
		name:    "DaemonSet",
		objects: []runtime.Object{&corev1.Pod{ObjectMeta: objectMeta("miner-x2f", "pod-uid", controlledBy("apps/v1", "DaemonSet", "miner", "ds-uid"))}},
		want:    Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "DaemonSet", Name: "miner", UID: "ds-uid"},
	}, {
		name: "Job without a CronJob",
		objects: []runtime.Object{
			&corev1.Pod{ObjectMeta: objectMeta("miner-abcde", "pod-uid", controlledBy("batch/v1", "Job", "miner", "job-uid"))},
			&batchv1.Job{ObjectMeta: objectMeta("miner", "job-uid", nil)},
		},
		want: Owner{Namespace: "team-a", APIVersion: "batch/v1", Kind: "Job", Name: "miner", UID: "job-uid"},
	}, {
		name: "CronJob through its Job",
		objects: []runtime.Object{
			&corev1.Pod{ObjectMeta: objectMeta("miner-2900-abcde", "pod-uid", controlledBy("batch/v1", "Job", "miner-2900", "job-uid"))},
			&batchv1.Job{ObjectMeta: objectMeta("miner-2900", "job-uid", controlledBy("batch/v1", "CronJob", "miner", "cj-uid"))},
		},
		want: Owner{Namespace: "team-a", APIVersion: "batch/v1", Kind: "CronJob", Name: "miner", UID: "cj-uid"},
	}, {
		name:    "custom controller (notebook operator): never read",
		objects: []runtime.Object{&corev1.Pod{ObjectMeta: objectMeta("jupyter-mallory-0", "pod-uid", controlledBy("kubeflow.org/v1", "Notebook", "jupyter-mallory", "nb-uid"))}},
		want:    Owner{Namespace: "team-a", APIVersion: "kubeflow.org/v1", Kind: "Notebook", Name: "jupyter-mallory", UID: "nb-uid"},
	}, {
		name:    "bare pod is its own owner",
		objects: []runtime.Object{&corev1.Pod{ObjectMeta: objectMeta("miner", "pod-uid", nil)}},
		want:    Owner{Namespace: "team-a", APIVersion: "v1", Kind: "Pod", Name: "miner", UID: "pod-uid"},
	}, {
		name:    "an ownerReference that is not the controller does not count",
		objects: []runtime.Object{&corev1.Pod{ObjectMeta: objectMeta("miner", "pod-uid", notController)}},
		want:    Owner{Namespace: "team-a", APIVersion: "v1", Kind: "Pod", Name: "miner", UID: "pod-uid"},
	}, {
		name:    "pod gone",
		wantErr: ErrOwnerPodGone,
	}, {
		name:    "ReplicaSet gone: the ReplicaSet is the owner, incomplete",
		objects: []runtime.Object{&corev1.Pod{ObjectMeta: objectMeta("miner", "pod-uid", controlledBy("apps/v1", "ReplicaSet", "miner-7d9f", "rs-uid"))}},
		want:    Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "miner-7d9f", UID: "rs-uid"},
		wantErr: ErrOwnerIncomplete,
	}, {
		name:    "Job gone: the Job is the owner, incomplete",
		objects: []runtime.Object{&corev1.Pod{ObjectMeta: objectMeta("miner-abcde", "pod-uid", controlledBy("batch/v1", "Job", "miner-2900", "job-uid"))}},
		want:    Owner{Namespace: "team-a", APIVersion: "batch/v1", Kind: "Job", Name: "miner-2900", UID: "job-uid"},
		wantErr: ErrOwnerIncomplete,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.objects...)
			name := "miner"
			for _, o := range tc.objects {
				if p, ok := o.(*corev1.Pod); ok {
					name = p.Name
				}
			}
			got, err := KubeOwners{Client: client}.Owner(context.Background(), analyzer.PodKey{Namespace: "team-a", Pod: name})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("owner = %+v, want %+v", got, tc.want)
			}
			for _, a := range client.Actions() {
				if a.GetVerb() != "get" {
					t.Errorf("%s %s: the resolver only reads", a.GetVerb(), a.GetResource().Resource)
				}
				switch a.GetResource().Resource {
				case "pods", "replicasets", "jobs":
				default:
					t.Errorf("read %s: the resolver reads only pods, replicasets and jobs", a.GetResource().Resource)
				}
			}
		})
	}
}

// A ReplicaSet the detector may not read: the ReplicaSet is the owner, the
// error says Forbidden and incomplete, and the cycle can go on.
func TestKubeOwnersForbiddenReplicaSet(t *testing.T) {
	client := fake.NewClientset(&corev1.Pod{ObjectMeta: objectMeta("miner", "pod-uid", controlledBy("apps/v1", "ReplicaSet", "miner-7d9f", "rs-uid"))})
	client.PrependReactor("get", "replicasets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "replicasets"}, "miner-7d9f", errors.New("RBAC"))
	})
	got, err := KubeOwners{Client: client}.Owner(context.Background(), analyzer.PodKey{Namespace: "team-a", Pod: "miner"})
	if !errors.Is(err, ErrOwnerIncomplete) || !apierrors.IsForbidden(err) {
		t.Errorf("err = %v, want ErrOwnerIncomplete wrapping Forbidden", err)
	}
	if want := (Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "miner-7d9f", UID: "rs-uid"}); got != want {
		t.Errorf("owner = %+v, want %+v", got, want)
	}
}
