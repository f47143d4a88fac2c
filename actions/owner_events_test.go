package actions

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRecordOwner(t *testing.T) {
	client := fake.NewClientset()
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	k := KubeEvents{Client: client, Now: func() time.Time { return now }}
	deploy := Owner{Namespace: "team-a", APIVersion: "apps/v1", Kind: "Deployment", Name: "miner", UID: "deploy-uid"}
	ctx := context.Background()
	if err := k.RecordOwner(ctx, deploy, EventReasonRepeatOffender, "deleted 3 times in 24h"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * time.Minute)
	if err := k.RecordOwner(ctx, deploy, EventReasonRepeatOffender, "deleted 4 times in 24h"); err != nil {
		t.Fatal(err)
	}
	// Another reason, and a StatefulSet of the same name: Events of their own.
	if err := k.RecordOwner(ctx, deploy, EventReasonOwnerStopped, "scaled to zero "+strings.Repeat("x", 2000)); err != nil {
		t.Fatal(err)
	}
	// An owner without apiVersion or UID (as a state written before them).
	sts := Owner{Namespace: "team-a", Kind: "StatefulSet", Name: "miner"}
	if err := k.RecordOwner(ctx, sts, EventReasonRepeatOffender, "deleted 3 times"); err != nil {
		t.Fatal(err)
	}

	evs, err := client.CoreV1().Events("team-a").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) != 3 {
		t.Fatalf("%d Events, want 3 (one per owner and reason): %+v", len(evs.Items), evs.Items)
	}
	byKey := map[string]corev1.Event{}
	for _, ev := range evs.Items {
		if ev.Type != corev1.EventTypeWarning || ev.Source.Component != "miner-detector" {
			t.Errorf("event %s: type %s, source %q", ev.Name, ev.Type, ev.Source.Component)
		}
		byKey[ev.InvolvedObject.Kind+"/"+ev.Reason] = ev
	}
	ev := byKey["Deployment/"+EventReasonRepeatOffender]
	want := corev1.ObjectReference{Kind: "Deployment", APIVersion: "apps/v1", Namespace: "team-a", Name: "miner", UID: "deploy-uid"}
	if ev.InvolvedObject != want {
		t.Errorf("involvedObject = %+v, want %+v", ev.InvolvedObject, want)
	}
	if ev.Message != "deleted 4 times in 24h" || !ev.LastTimestamp.Time.Equal(now) || !strings.HasPrefix(ev.Name, "miner.") {
		t.Errorf("repeat-offender Event not updated in place: %q at %v (name %s)", ev.Message, ev.LastTimestamp, ev.Name)
	}
	if m := byKey["Deployment/"+EventReasonOwnerStopped].Message; len(m) > maxEventMessage {
		t.Errorf("message of %d bytes not truncated", len(m))
	}
	if got := byKey["StatefulSet/"+EventReasonRepeatOffender].InvolvedObject.APIVersion; got != "apps/v1" {
		t.Errorf("StatefulSet from its key: apiVersion %q, want apps/v1", got)
	}
}
