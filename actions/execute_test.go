package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/miner-detector/miner-detector/analyzer"
)

// fakeEvents records findings; errs fails chosen pods.
type fakeEvents struct {
	mu       sync.Mutex
	findings []Finding
	errs     map[string]error
}

func (f *fakeEvents) Record(_ context.Context, fd Finding) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[fd.Pod.String()]; err != nil {
		return err
	}
	f.findings = append(f.findings, fd)
	return nil
}

type fakeNotifier struct {
	findings []Finding
	errs     map[string]error
}

func (f *fakeNotifier) Notify(_ context.Context, fd Finding) (string, error) {
	if err := f.errs[fd.Pod.String()]; err != nil {
		return "", err
	}
	f.findings = append(f.findings, fd)
	if fd.ThreadTS != "" {
		return fd.ThreadTS, nil
	}
	return "ts-" + fd.Pod.String(), nil
}

type fakeDeleter struct {
	requests []DeleteRequest
	errs     map[string]error
}

func (f *fakeDeleter) Delete(_ context.Context, r DeleteRequest) error {
	f.requests = append(f.requests, r)
	return f.errs[r.Pod.String()]
}

// outcomeLines writes outcomes as "namespace/pod kind result[: reason]".
func outcomeLines(o Outcomes) []string {
	var out []string
	for _, x := range o {
		line := x.Pod.String() + " " + string(x.Kind) + " " + string(x.Result)
		if x.Result != ResultOK {
			line += ": " + x.Reason
		}
		out = append(out, line)
	}
	return out
}

func enforcePolicy() Policy {
	p := DefaultPolicy()
	p.Enforce = true
	return p
}

func TestExecuteWithoutClusterOrSlack(t *testing.T) {
	p := enforcePolicy()
	p.StrikesToEnforce = 1
	plan, state := BuildPlan([]analyzer.PodReport{miner("team-a", "job")}, State{}, p)

	out, next := Executor{}.Execute(context.Background(), plan, state)

	want := []string{
		"team-a/job record skipped: no cluster access",
		"team-a/job notify skipped: no Slack configured",
		"team-a/job delete skipped: no cluster access",
	}
	if got := outcomeLines(out); !slices.Equal(got, want) {
		t.Errorf("outcomes:\n got  %q\n want %q", got, want)
	}
	if out.Err() != nil {
		t.Errorf("missing clients are not failures: %v", out.Err())
	}
	if ps := next.Pods["team-a/job"]; ps.Notified || ps.Deleted || ps.Strikes != 1 {
		t.Errorf("state %+v: nothing was notified or deleted", ps)
	}
}

func TestExecuteStepsAndState(t *testing.T) {
	events := &fakeEvents{errs: map[string]error{"team-c/job": errors.New("events forbidden")}}
	notifier := &fakeNotifier{errs: map[string]error{"team-b/job": errors.New("slack down")}}
	deleter := &fakeDeleter{errs: map[string]error{
		"team-d/stale": ErrStaleEvidence, // wrapped or not, errors.Is finds it
		"team-e/gone":  ErrPodGone,
	}}
	prev := states(map[string]PodState{
		"team-a/job":   {Strikes: 1},
		"team-b/job":   {Strikes: 1},
		"team-c/job":   {Strikes: 1, Notified: true, SlackTS: "ts-old"},
		"team-d/stale": {Strikes: 1, Notified: true},
		"team-e/gone":  {Strikes: 1, Notified: true},
	})
	pods := []analyzer.PodReport{
		miner("team-a", "job"), miner("team-b", "job"), miner("team-c", "job"),
		miner("team-d", "stale"), miner("team-e", "gone"), miner("team-f", "new"),
	}
	plan, state := BuildPlan(pods, prev, enforcePolicy())
	var logs bytes.Buffer
	exec := Executor{Events: events, Deleter: deleter, Notifier: notifier, Log: slog.New(slog.NewJSONHandler(&logs, nil))}

	out, next := exec.Execute(context.Background(), plan, state)

	want := []string{
		"team-a/job record ok", "team-a/job notify ok", "team-a/job delete ok",
		"team-b/job record ok", "team-b/job notify failed: new finding", "team-b/job delete ok",
		"team-c/job record failed: miner, strike 2", "team-c/job delete skipped: " + ReasonNotRecorded,
		"team-d/stale record ok", "team-d/stale delete skipped: refused: stale evidence",
		"team-e/gone record ok", "team-e/gone delete skipped: pod already gone",
		"team-f/new record ok", "team-f/new notify ok", "team-f/new skip_delete skipped: strike 1 of 2",
	}
	if got := outcomeLines(out); !slices.Equal(got, want) {
		t.Errorf("outcomes:\n got  %q\n want %q", got, want)
	}
	if got := out.Count(ResultFailed); got != 2 {
		t.Errorf("%d failed, want 2", got)
	}
	if err := out.Err(); err == nil || !strings.Contains(err.Error(), "slack down") || !strings.Contains(err.Error(), "events forbidden") {
		t.Errorf("Outcomes.Err() = %v, want both failures", err)
	}

	checks := []struct {
		pod               string
		notified, deleted bool
		slackTS           string
	}{
		{"team-a/job", true, true, "ts-team-a/job"},
		{"team-b/job", false, true, ""},       // failed notify: retried next cycle
		{"team-c/job", true, false, "ts-old"}, // Event failed: deletion waits

		{"team-d/stale", true, false, ""},
		{"team-e/gone", true, true, ""}, // found gone: its samples are stale too
		{"team-f/new", true, false, "ts-team-f/new"},
	}
	for _, c := range checks {
		ps := next.Pods[c.pod]
		if ps.Notified != c.notified || ps.Deleted != c.deleted || ps.SlackTS != c.slackTS {
			t.Errorf("%s state notified=%t deleted=%t slackTS=%q, want %t %t %q", c.pod, ps.Notified, ps.Deleted, ps.SlackTS, c.notified, c.deleted, c.slackTS)
		}
	}
	if state.Pods["team-a/job"].Notified || state.Pods["team-a/job"].Deleted {
		t.Error("Execute modified the state it was given")
	}

	// Deletions carry the evidence the deleter checks.
	if len(deleter.requests) != 4 {
		t.Fatalf("%d delete requests, want 4 (none for the pod whose Event failed)", len(deleter.requests))
	}
	if r := deleter.requests[0]; r.Pod != key("team-a", "job") || r.Node != "node-a" || !r.EvidenceStart.Equal(t0.Add(testChunk)) || r.Reason != "strike 2 of 2" {
		t.Errorf("delete request %+v", r)
	}

	// After a deletion: an Event, and a reply in the finding's Slack thread.
	var deletedEvents []string
	for _, f := range events.findings {
		if f.Kind == FindingDeleted {
			deletedEvents = append(deletedEvents, f.Pod.String())
		}
	}
	if want := []string{"team-a/job", "team-b/job"}; !slices.Equal(deletedEvents, want) {
		t.Errorf("deletion events for %v, want %v (team-c's event recorder fails)", deletedEvents, want)
	}
	var replies []string
	for _, f := range notifier.findings {
		if f.Kind == FindingDeleted {
			replies = append(replies, f.Pod.String()+" in "+f.ThreadTS)
		}
	}
	if want := []string{"team-a/job in ts-team-a/job"}; !slices.Equal(replies, want) {
		t.Errorf("deletion replies %v, want %v (team-b has no thread, team-c was not deleted)", replies, want)
	}

	// Every step is logged with stable keys.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var stepLogs int
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec["msg"] != "action" {
			continue
		}
		stepLogs++
		for _, k := range []string{"namespace", "pod", "node", "verdict", "action", "result", "reason"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("log line lacks %q: %s", k, l)
			}
		}
	}
	if stepLogs != len(plan.Steps) {
		t.Errorf("%d step log lines, want one per step (%d)", stepLogs, len(plan.Steps))
	}
	if !strings.Contains(logs.String(), `"namespace":"team-b","pod":"job","node":"node-a","verdict":"miner","action":"notify","result":"failed"`) {
		t.Errorf("failed notify not logged with its keys:\n%s", logs.String())
	}
}

func TestExecuteDryRun(t *testing.T) {
	deleter := &fakeDeleter{}
	prev := states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}})
	plan, state := BuildPlan([]analyzer.PodReport{miner("team-a", "job")}, prev, DefaultPolicy())
	out, next := Executor{Events: &fakeEvents{}, Deleter: deleter, Notifier: &fakeNotifier{}}.Execute(context.Background(), plan, state)
	want := []string{"team-a/job record ok", "team-a/job skip_delete dry_run: dry-run: would delete"}
	if got := outcomeLines(out); !slices.Equal(got, want) {
		t.Errorf("outcomes %q, want %q", got, want)
	}
	if len(deleter.requests) != 0 || next.Pods["team-a/job"].Deleted {
		t.Error("dry-run deleted a pod")
	}
}

// The whole path over cycles, against a fake cluster and a Slack test server,
// with state persisted in a ConfigMap between cycles as after a restart.
func TestEndToEnd(t *testing.T) {
	for _, c := range []struct {
		name       string
		enforce    bool
		wantExists []bool // after each cycle
	}{
		{"enforce: strike 1 keeps the pod, strike 2 deletes it, then left alone", true, []bool{true, false, false}},
		{"dry-run: never deleted, one thread", false, []bool{true, true, true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			client := fake.NewClientset(
				livePod("team-a", "xmrig", "node-a", "uid-miner", t0.Add(-time.Hour)),
				livePod("team-b", "train", "node-b", "uid-train", t0.Add(-time.Hour)),
			)
			slackSrv := newSlackServer(t)
			store := ConfigMapStore{Client: client, Namespace: "miner-detector", Name: "miner-detector-state"}
			exec := Executor{
				Events:   KubeEvents{Client: client, Now: func() time.Time { return t0.Add(time.Hour) }},
				Deleter:  KubeDeleter{Client: client},
				Notifier: slackSrv.notifier(t),
			}
			policy := DefaultPolicy()
			policy.Enforce = c.enforce
			reports := []analyzer.PodReport{
				miner("team-a", "xmrig"),
				report("team-b", "train", gpu("node-b", "0", analyzer.Benign)),
			}

			for cycle, wantExists := range c.wantExists {
				prev, err := store.Load(ctx)
				if err != nil {
					t.Fatal(err)
				}
				plan, next := BuildPlan(reports, prev, policy)
				out, next := exec.Execute(ctx, plan, next)
				if err := out.Err(); err != nil {
					t.Fatalf("cycle %d: %v", cycle+1, err)
				}
				if err := store.Save(ctx, next); err != nil {
					t.Fatal(err)
				}

				_, err = client.CoreV1().Pods("team-a").Get(ctx, "xmrig", metav1.GetOptions{})
				if exists := !apierrors.IsNotFound(err); exists != wantExists {
					t.Errorf("cycle %d: miner pod exists = %t, want %t", cycle+1, exists, wantExists)
				}
				if _, err := client.CoreV1().Pods("team-b").Get(ctx, "train", metav1.GetOptions{}); err != nil {
					t.Errorf("cycle %d: benign pod touched: %v", cycle+1, err)
				}
				if top := slackSrv.TopLevel(); len(top) != 1 || !strings.Contains(top[0].Text, "pod xmrig in namespace team-a") {
					t.Errorf("cycle %d: %d top-level Slack messages, want the one finding: %+v", cycle+1, len(top), top)
				}
				// One Event a cycle until the deletion; none on the stale
				// samples of the deleted pod after it.
				wantCount := cycle + 1
				if c.enforce {
					wantCount = min(cycle+1, 2)
				}
				detectedEvent := findEvent(t, client, "team-a", EventReasonDetected)
				if detectedEvent == nil || int(detectedEvent.Count) != wantCount {
					t.Errorf("cycle %d: GPUMinerDetected event %v, want count %d", cycle+1, detectedEvent, wantCount)
				}
				switch got := outcomeLines(out); {
				case c.enforce && cycle == 2 && !slices.Equal(got, []string{"team-a/xmrig skip_delete skipped: " + ReasonAlreadyDeleted}):
					t.Errorf("cycle 3 after the deletion: %q, want only a skip", got)
				case !c.enforce && cycle == 1 && !slices.Equal(got, []string{"team-a/xmrig record ok", "team-a/xmrig notify ok", "team-a/xmrig skip_delete dry_run: " + ReasonDryRun}):
					t.Errorf("dry-run cycle 2: %q, want record, a reply (the decision moved on) and dry_run", got)
				case !c.enforce && cycle > 1 && !slices.Equal(got, []string{"team-a/xmrig record ok", "team-a/xmrig skip_delete dry_run: " + ReasonDryRun}):
					t.Errorf("dry-run cycle %d: %q, want record and dry_run only", cycle+1, got)
				}
			}

			deletedEvent := findEvent(t, client, "team-a", EventReasonDeleted)
			posts := slackSrv.Posts()
			if c.enforce {
				// The fake clientset removes a pod at once, so the event has
				// no UID here; a terminating pod's UID is tested in events_test.
				if deletedEvent == nil || deletedEvent.InvolvedObject.Name != "xmrig" || deletedEvent.Type != corev1.EventTypeWarning {
					t.Errorf("deletion event %v, want a Warning on the deleted pod", deletedEvent)
				}
				if len(posts) != 3 || posts[1].ThreadTS != posts[0].TS || posts[2].ThreadTS != posts[0].TS ||
					!strings.HasPrefix(posts[2].Text, "Deleted pod team-a/xmrig") {
					t.Errorf("Slack posts %+v, want the finding, a strike-2 reply and a deletion reply in its thread", posts)
				}
				final, _ := store.Load(ctx)
				if ps := final.Pods["team-a/xmrig"]; !ps.Deleted || !ps.DeletedAt.Equal(t0.Add(time.Hour)) || !ps.Notified || ps.Strikes != 2 || ps.SlackTS != posts[0].TS {
					t.Errorf("persisted state %+v", ps)
				}
			} else {
				if deletedEvent != nil || len(posts) != 2 || posts[1].ThreadTS != posts[0].TS {
					t.Errorf("dry-run: deletion event %v, %d Slack posts; want none, and one thread of 2", deletedEvent, len(posts))
				}
			}
		})
	}
}

func findEvent(t *testing.T, client *fake.Clientset, ns, reason string) *corev1.Event {
	t.Helper()
	for _, ev := range listEvents(t, client, ns) {
		if ev.Reason == reason {
			return &ev
		}
	}
	return nil
}

// A resolve step replies in the finding's thread, and only there.
func TestExecuteResolveRepliesInThread(t *testing.T) {
	srv := newSlackServer(t)
	prev := states(map[string]PodState{"team-a/job": {Strikes: 2, Notified: true, SlackTS: "1777633200.000042"}})
	plan, next := BuildPlan([]analyzer.PodReport{benign("team-a", "job")}, prev, DefaultPolicy())
	out, _ := Executor{Notifier: srv.notifier(t)}.Execute(context.Background(), plan, next)
	if len(out) != 1 || out[0].Kind != StepResolve || out[0].Result != ResultOK {
		t.Fatalf("outcomes %+v, want one resolve ok", out)
	}
	posts := srv.Posts()
	if len(posts) != 1 || posts[0].ThreadTS != "1777633200.000042" || !strings.Contains(posts[0].Text, "team-a/job is no longer judged a miner (now judged benign)") {
		t.Fatalf("posts %+v, want one reply in the thread saying the pod recovered", posts)
	}
}
