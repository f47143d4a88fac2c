package actions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/miner-detector/miner-detector/analyzer"
)

var _ EventRecorder = KubeEvents{}

func livePod(ns, name, node string, uid types.UID, created time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: uid, CreationTimestamp: metav1.NewTime(created)},
		Spec:       corev1.PodSpec{NodeName: node},
	}
}

func detected(r analyzer.PodReport, action string) Finding {
	return Finding{Kind: FindingDetected, Pod: r.PodKey, Node: r.Node, Strikes: 1, Action: action, Report: r}
}

func listEvents(t *testing.T, client *fake.Clientset, ns string) []corev1.Event {
	t.Helper()
	l, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func TestKubeEventsRecordsDetection(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(livePod("team-a", "job", "node-a", "uid-1", t0.Add(-time.Hour)))
	now := t0.Add(time.Hour)
	rec := KubeEvents{Client: client, Component: "miner-detector", Now: func() time.Time { return now }}

	f := detected(miner("team-a", "job"), "no deletion: strike 1 of 2")
	if err := rec.Record(ctx, f); err != nil {
		t.Fatal(err)
	}
	evs := listEvents(t, client, "team-a")
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	ev := evs[0]
	checks := []struct {
		what      string
		got, want string
	}{
		{"type", ev.Type, corev1.EventTypeWarning},
		{"reason", ev.Reason, "GPUMinerDetected"},
		{"involved kind", ev.InvolvedObject.Kind, "Pod"},
		{"involved name", ev.InvolvedObject.Namespace + "/" + ev.InvolvedObject.Name, "team-a/job"},
		{"involved uid", string(ev.InvolvedObject.UID), "uid-1"},
		{"source", ev.Source.Component, "miner-detector"},
		{"message", ev.Message, "GPU 0 (GPU-node-a-0) on node-a: mean 99.1% stddev 0.4 over 1h (240/240 samples): " +
			"rule flat_high_util mean > 95 and stddev < 2. Strike 1; no deletion: strike 1 of 2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("event %s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !strings.HasPrefix(ev.Name, "job.") || len(ev.Name) != len("job.")+16 {
		t.Errorf("event name %q, want job.<16 hex>", ev.Name)
	}
	if ev.Count != 1 || !ev.LastTimestamp.Time.Equal(now) {
		t.Errorf("count %d last %v, want 1 at %v", ev.Count, ev.LastTimestamp, now)
	}

	// The next cycle updates the same Event: count and latest numbers.
	now = now.Add(5 * time.Minute)
	f.Strikes = 2
	if err := rec.Record(ctx, f); err != nil {
		t.Fatal(err)
	}
	evs = listEvents(t, client, "team-a")
	if len(evs) != 1 {
		t.Fatalf("%d events after a repeat, want the one event updated", len(evs))
	}
	if evs[0].Count != 2 || !evs[0].LastTimestamp.Time.Equal(now) || !evs[0].FirstTimestamp.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("repeat: count %d first %v last %v", evs[0].Count, evs[0].FirstTimestamp, evs[0].LastTimestamp)
	}
	if !strings.Contains(evs[0].Message, "Strike 2") {
		t.Errorf("repeat message %q not updated", evs[0].Message)
	}
}

func TestKubeEventsPodMissing(t *testing.T) {
	client := fake.NewClientset()
	err := KubeEvents{Client: client}.Record(context.Background(), detected(miner("team-a", "job"), "x"))
	if !errors.Is(err, ErrPodNotFound) || !strings.Contains(err.Error(), "team-a/job") {
		t.Fatalf("Record() = %v, want ErrPodNotFound naming the pod", err)
	}
	if n := len(listEvents(t, client, "team-a")); n != 0 {
		t.Errorf("%d events written for a missing pod", n)
	}
}

func TestKubeEventsDeletion(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset() // the pod is already gone
	f := detected(miner("team-a", "job"), "strike 2 of 2")
	f.Kind = FindingDeleted
	if err := (KubeEvents{Client: client}).Record(ctx, f); err != nil {
		t.Fatalf("a deletion event must be written even when the pod is gone: %v", err)
	}
	evs := listEvents(t, client, "team-a")
	if len(evs) != 1 || evs[0].Reason != "GPUMinerPodDeleted" || evs[0].Type != corev1.EventTypeWarning {
		t.Fatalf("events %+v, want one Warning GPUMinerPodDeleted", evs)
	}
	if want := "Deleted by miner-detector (strike 2 of 2). GPU 0 (GPU-node-a-0) on node-a: mean 99.1%"; !strings.HasPrefix(evs[0].Message, want) {
		t.Errorf("message %q, want prefix %q", evs[0].Message, want)
	}
	if evs[0].Source.Component != "miner-detector" {
		t.Errorf("default component %q", evs[0].Source.Component)
	}
}

func TestEventName(t *testing.T) {
	a := eventName("job", "uid-1", EventReasonDetected)
	if a != eventName("job", "uid-1", EventReasonDetected) {
		t.Error("event name not deterministic")
	}
	for _, other := range []string{eventName("job", "uid-2", EventReasonDetected), eventName("job", "uid-1", EventReasonDeleted)} {
		if other == a {
			t.Errorf("%q: a new pod under the same name, or another reason, must get another event", other)
		}
	}
	long := eventName(strings.Repeat("p", 253), "uid", EventReasonDetected)
	if len(long) != 253 {
		t.Errorf("event name of a 253-char pod is %d chars, want 253", len(long))
	}
}

func TestEventMessageBounded(t *testing.T) {
	var gpus []analyzer.GPUReport
	for i := range 64 {
		gpus = append(gpus, gpu("node-a", strings.Repeat("9", 3)+string(rune('a'+i%26)), analyzer.Miner))
	}
	msg := eventMessage(detected(report("team-a", "big", gpus...), "x"))
	if len(msg) > maxEventMessage || !strings.HasSuffix(msg, "...") {
		t.Errorf("message of %d bytes, want at most %d and truncated with ...", len(msg), maxEventMessage)
	}
}

// A deleted pod usually lingers while it terminates: its deletion Event then
// names its UID, so `kubectl describe` of that pod shows it.
func TestKubeEventsDeletionOfTerminatingPod(t *testing.T) {
	pod := livePod("team-a", "job", "node-a", "uid-1", t0.Add(-time.Hour))
	pod.DeletionTimestamp = &metav1.Time{Time: t0.Add(time.Hour)}
	client := fake.NewClientset(pod)
	f := detected(miner("team-a", "job"), "strike 2 of 2")
	f.Kind = FindingDeleted
	if err := (KubeEvents{Client: client}).Record(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	evs := listEvents(t, client, "team-a")
	if len(evs) != 1 || evs[0].InvolvedObject.UID != "uid-1" || evs[0].Reason != EventReasonDeleted {
		t.Fatalf("events %+v, want one GPUMinerPodDeleted on uid-1", evs)
	}
}
