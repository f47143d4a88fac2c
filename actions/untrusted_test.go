package actions

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

var _ UntrustedNotifier = (*SlackNotifier)(nil)
var _ UntrustedNotifier = (*WebhookNotifier)(nil)

func TestUntrustedFindingPostedAndRecordedOnTheServingPod(t *testing.T) {
	f := UntrustedFinding{Job: "kubernetes-pods", Instance: "10.0.0.9:8000", Namespace: "free-notebooks", Pod: "forger-0",
		Series: 2, Metrics: []string{"DCGM_FI_DEV_GPU_UTIL"}, Claims: []string{"team-a/train-0@node-1/0 (GPU-a)"}, Cycles: 1}
	srv := newSlackServer(t)
	if err := srv.notifier(t).NotifyUntrusted(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	posts := srv.Posts()
	if len(posts) != 1 || !strings.Contains(posts[0].Text, "pod free-notebooks/forger-0") || !strings.Contains(posts[0].Text, "team-a/train-0") {
		t.Fatalf("posts %+v, want one naming the serving pod and its claim", posts)
	}
	kube := fake.NewClientset()
	ev := KubeEvents{Client: kube}
	for range 2 {
		if err := ev.RecordUntrusted(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		f.Cycles++
	}
	evs, err := kube.CoreV1().Events("free-notebooks").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) != 1 || evs.Items[0].InvolvedObject.Name != "forger-0" || evs.Items[0].Reason != EventReasonUntrustedTelemetry {
		t.Errorf("events %+v, want one %s on forger-0", evs.Items, EventReasonUntrustedTelemetry)
	}
	// Without a serving pod there is nothing to record on.
	f.Namespace, f.Pod = "", ""
	if err := ev.RecordUntrusted(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	all, _ := kube.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
	if len(all.Items) != 1 {
		t.Errorf("%d events, want the serving pod's one only", len(all.Items))
	}
}
