package actions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var _ PodDeleter = KubeDeleter{}

func TestKubeDeleter(t *testing.T) {
	evidenceStart := t0.Add(testChunk)
	request := DeleteRequest{Pod: key("team-a", "job"), Node: "node-a", EvidenceStart: evidenceStart, Reason: "strike 2 of 2"}
	podsGR := schema.GroupResource{Resource: "pods"}
	terminating := livePod("team-a", "job", "node-a", "uid-1", t0.Add(-time.Hour))
	terminating.DeletionTimestamp = &metav1.Time{Time: t0}

	cases := []struct {
		name        string
		pod         *corev1.Pod // nil: no such pod
		edit        func(*DeleteRequest)
		deleteErr   error // returned by the API on delete
		wantErr     error // nil: deleted
		wantMessage string
		wantDeleted bool
	}{
		{
			name:        "the evidence's pod is deleted",
			pod:         livePod("team-a", "job", "node-a", "uid-1", t0.Add(-time.Hour)),
			wantDeleted: true,
		},
		{
			name:        "created within the first chunk of evidence: still its own evidence",
			pod:         livePod("team-a", "job", "node-a", "uid-1", evidenceStart),
			wantDeleted: true,
		},
		{
			name:        "live pod on another node: refused",
			pod:         livePod("team-a", "job", "node-b", "uid-2", t0.Add(-time.Hour)),
			wantErr:     ErrStaleEvidence,
			wantMessage: `live pod runs on node "node-b", the evidence is from node "node-a"`,
		},
		{
			name:        "live pod created after the evidence began (recreated under the same name): refused",
			pod:         livePod("team-a", "job", "node-a", "uid-2", evidenceStart.Add(time.Second)),
			wantErr:     ErrStaleEvidence,
			wantMessage: "live pod created 2026-05-01T11:05:01Z, after the evidence began 2026-05-01T11:05:00Z",
		},
		{
			name:    "no such pod: already gone",
			wantErr: ErrPodGone,
		},
		{
			name:    "already terminating: nothing to do",
			pod:     terminating,
			wantErr: ErrPodGone,
		},
		{
			name:        "gone between check and delete: already gone",
			pod:         livePod("team-a", "job", "node-a", "uid-1", t0.Add(-time.Hour)),
			deleteErr:   apierrors.NewNotFound(podsGR, "job"),
			wantErr:     ErrPodGone,
			wantMessage: "delete pod team-a/job",
		},
		{
			name:        "replaced between check and delete (UID precondition failed): refused",
			pod:         livePod("team-a", "job", "node-a", "uid-1", t0.Add(-time.Hour)),
			deleteErr:   apierrors.NewConflict(podsGR, "job", errors.New("Precondition failed: UID in precondition: uid-1, UID in object meta: uid-9")),
			wantErr:     ErrStaleEvidence,
			wantMessage: "pod replaced between check and delete",
		},
		{
			name:        "request without a node is refused, not guessed",
			pod:         livePod("team-a", "job", "node-a", "uid-1", t0.Add(-time.Hour)),
			edit:        func(r *DeleteRequest) { r.Node = "" },
			wantMessage: "request lacks evidence",
		},
		{
			name:        "request without an evidence start is refused",
			pod:         livePod("team-a", "job", "node-a", "uid-1", t0.Add(-time.Hour)),
			edit:        func(r *DeleteRequest) { r.EvidenceStart = time.Time{} },
			wantMessage: "request lacks evidence",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			client := fake.NewClientset()
			if c.pod != nil {
				client = fake.NewClientset(c.pod)
			}
			var preconditionUID string
			client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if p := a.(k8stesting.DeleteAction).GetDeleteOptions().Preconditions; p != nil && p.UID != nil {
					preconditionUID = string(*p.UID)
				}
				if c.deleteErr != nil {
					return true, nil, c.deleteErr
				}
				return false, nil, nil
			})
			req := request
			if c.edit != nil {
				c.edit(&req)
			}

			err := KubeDeleter{Client: client}.Delete(ctx, req)

			switch {
			case c.wantErr == nil && c.wantMessage == "" && err != nil:
				t.Fatalf("Delete() = %v, want nil", err)
			case c.wantErr != nil && !errors.Is(err, c.wantErr):
				t.Fatalf("Delete() = %v, want %v", err, c.wantErr)
			case c.wantMessage != "" && (err == nil || !strings.Contains(err.Error(), c.wantMessage)):
				t.Fatalf("Delete() = %v, want message containing %q", err, c.wantMessage)
			}
			_, getErr := client.CoreV1().Pods("team-a").Get(ctx, "job", metav1.GetOptions{})
			if gone := apierrors.IsNotFound(getErr); c.pod != nil && gone != c.wantDeleted {
				t.Errorf("pod deleted = %t, want %t", gone, c.wantDeleted)
			}
			if c.wantDeleted && preconditionUID != "uid-1" {
				t.Errorf("delete precondition UID %q, want the checked pod's uid-1", preconditionUID)
			}
		})
	}
}

func TestKubeDeleterWrapsAPIErrors(t *testing.T) {
	client := fake.NewClientset()
	boom := errors.New("etcd timeout")
	client.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, boom })
	err := KubeDeleter{Client: client}.Delete(context.Background(),
		DeleteRequest{Pod: key("team-a", "job"), Node: "node-a", EvidenceStart: t0})
	if !errors.Is(err, boom) || errors.Is(err, ErrPodGone) || errors.Is(err, ErrStaleEvidence) || !strings.Contains(err.Error(), "delete pod team-a/job") {
		t.Fatalf("Delete() = %v, want the API error wrapped with the pod, not a gone/stale error", err)
	}
}
