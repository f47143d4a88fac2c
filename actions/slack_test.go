package actions

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/slackrecorder"
)

var _ Notifier = (*SlackNotifier)(nil)

// slackServer is the shared Slack stand-in, stopped at the end of the test.
type slackServer struct{ *slackrecorder.Server }

func newSlackServer(t *testing.T) slackServer {
	t.Helper()
	s := slackServer{slackrecorder.Start()}
	t.Cleanup(s.Stop)
	return s
}

func (s slackServer) notifier(t *testing.T) *SlackNotifier {
	t.Helper()
	n, err := NewSlackNotifier("xoxb-test", "C0GPUALERTS", slack.OptionAPIURL(s.GetAPIURL()))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSlackNotifyFinding(t *testing.T) {
	srv := newSlackServer(t)
	r := report("team-a", "job",
		gpu("node-a", "0", analyzer.Miner),
		sharedWith(gpu("node-a", "1", analyzer.Benign), key("team-b", "notebook")))
	f := Finding{Kind: FindingDetected, Pod: r.PodKey, Node: "node-a", Strikes: 2, Action: ReasonDryRun, Report: r}

	ts, err := srv.notifier(t).Notify(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	posts := srv.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1", len(posts))
	}
	p := posts[0]
	if ts != p.TS || p.Channel != "C0GPUALERTS" || p.ThreadTS != "" {
		t.Errorf("returned ts %q, post %+v: want a new thread in C0GPUALERTS and its ts", ts, p)
	}
	for _, want := range []string{
		"GPU miner suspected: pod job in namespace team-a on node node-a",
		"Verdict: miner, strike 2",
		"Rule: flat_high_util (mean &gt; 95 and stddev &lt; 2, coverage &gt;= 80%)", // escaped for Slack
		"Window: 1h, latest data 2026-05-01T12:00:00Z",
		"- GPU 0 (GPU-node-a-0, NVIDIA A100-SXM4-80GB): miner, mean 99.1% stddev 0.40 min 97.1 max 100.0, coverage 100% (240/240 samples)",
		"- GPU 1 (GPU-node-a-1, NVIDIA A100-SXM4-80GB): benign, mean 60.0% stddev 25.00 min 58.0 max 60.9, coverage 100% (240/240 samples) (shared with team-b/notebook)",
		"Action planned: dry-run: would delete",
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("message lacks %q:\n%s", want, p.Text)
		}
	}
}

func TestSlackNotifyRepliesInThread(t *testing.T) {
	srv := newSlackServer(t)
	f := Finding{Kind: FindingDeleted, Pod: key("team-a", "job"), Node: "node-a", Action: "strike 2 of 2", Report: miner("team-a", "job"), ThreadTS: "1777633200.000001"}
	ts, err := srv.notifier(t).Notify(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	p := srv.Posts()[0]
	if p.ThreadTS != "1777633200.000001" || ts != "1777633200.000001" {
		t.Errorf("reply posted with thread_ts %q, returned %q; want both the finding's thread", p.ThreadTS, ts)
	}
	if p.Text != "Deleted pod team-a/job on node node-a (strike 2 of 2).\n" {
		t.Errorf("deletion text %q", p.Text)
	}
}

func TestSlackNotifyError(t *testing.T) {
	srv := newSlackServer(t)
	srv.FailWith("channel_not_found")
	_, err := srv.notifier(t).Notify(context.Background(), Finding{Kind: FindingDetected, Pod: key("team-a", "job"), Report: miner("team-a", "job")})
	if err == nil || !strings.Contains(err.Error(), "channel_not_found") || !strings.Contains(err.Error(), "team-a/job") {
		t.Fatalf("Notify() = %v, want Slack's error with the pod", err)
	}
}

func TestSlackNotifyRetriesRateLimit(t *testing.T) {
	for _, c := range []struct {
		name      string
		limited   int32 // posts answered 429 before success
		wantCalls int32
		wantErr   bool
	}{
		{"one 429 then ok", 1, 2, false},
		{"rate limited throughout: gives up after 3 retries", 100, 4, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, calls := failingSlack(t, c.limited, http.StatusTooManyRequests)
			ts, err := n.Notify(context.Background(), Finding{Pod: key("a", "b"), Report: miner("a", "b")})
			var limited *slack.RateLimitedError
			switch {
			case c.wantErr && !errors.As(err, &limited):
				t.Errorf("Notify() = %v, want a rate-limit error", err)
			case !c.wantErr && (err != nil || ts != "1.2"):
				t.Errorf("Notify() = %q, %v; want 1.2", ts, err)
			}
			if got := calls.Load(); got != c.wantCalls {
				t.Errorf("%d posts, want %d", got, c.wantCalls)
			}
		})
	}
}

func TestSlackNotifyRetriesServerErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		failing   int32 // posts answered 500 before success
		wantCalls int32
		wantWaits []time.Duration
		wantErr   bool
	}{
		{"two 500s then ok", 2, 3, []time.Duration{time.Second, 2 * time.Second}, false},
		{"500 throughout: gives up after 3 retries", 100, 4, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, calls := failingSlack(t, c.failing, http.StatusInternalServerError)
			var waits []time.Duration
			n.wait = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			ts, err := n.Notify(context.Background(), Finding{Pod: key("a", "b"), Report: miner("a", "b")})
			var status slack.StatusCodeError
			switch {
			case c.wantErr && !errors.As(err, &status):
				t.Errorf("Notify() = %v, want a status-code error", err)
			case !c.wantErr && (err != nil || ts != "1.2"):
				t.Errorf("Notify() = %q, %v; want 1.2", ts, err)
			}
			if got := calls.Load(); got != c.wantCalls {
				t.Errorf("%d posts, want %d", got, c.wantCalls)
			}
			if !slices.Equal(waits, c.wantWaits) {
				t.Errorf("waited %v, want %v", waits, c.wantWaits)
			}
		})
	}
}

func TestSlackNotifyDoesNotRetrySlackErrors(t *testing.T) {
	srv := newSlackServer(t)
	srv.FailWith("channel_not_found")
	n := srv.notifier(t)
	waited := 0
	n.wait = func(context.Context, time.Duration) error { waited++; return nil }
	if _, err := n.Notify(context.Background(), Finding{Pod: key("a", "b"), Report: miner("a", "b")}); err == nil {
		t.Fatal("Notify() succeeded, want channel_not_found")
	}
	if waited != 0 {
		t.Errorf("retried %d times after an ok:false answer, want 0", waited)
	}
}

func TestNewSlackNotifierValidates(t *testing.T) {
	if _, err := NewSlackNotifier("", "C1"); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("empty token: %v", err)
	}
	if _, err := NewSlackNotifier("xoxb", ""); err == nil || !strings.Contains(err.Error(), "channel") {
		t.Errorf("empty channel: %v", err)
	}
}

// failingSlack is a notifier whose Slack answers the first `failures` posts
// with status (a 429 asks for no wait), then accepts posts with ts 1.2; calls
// counts the posts.
func failingSlack(t *testing.T, failures int32, status int) (*SlackNotifier, *atomic.Int32) {
	t.Helper()
	calls := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= failures {
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "0")
			}
			w.WriteHeader(status)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C1","ts":"1.2"}`))
	}))
	t.Cleanup(srv.Close)
	n, err := NewSlackNotifier("xoxb-test", "C1", slack.OptionAPIURL(srv.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	return n, calls
}

// An escalation and an owner's stop are replies in the finding's thread,
// naming the owner; a detection names the owner too.
func TestSlackOwnerMessages(t *testing.T) {
	srv := newSlackServer(t)
	n := srv.notifier(t)
	owner := &Owner{Namespace: "team-a", Kind: "Deployment", Name: "relay"}
	detected := Finding{Kind: FindingDetected, Pod: key("team-a", "relay-1"), Node: "node-a", Strikes: 2, Report: miner("team-a", "relay-1"), Owner: owner}
	escalated := Finding{Kind: FindingEscalated, Pod: key("team-a", "relay-1"), Owner: owner, ThreadTS: "1777633200.000001",
		Action: "repeat offender: deployment/relay had 3 pods deleted within 24h, deleting again is futile"}
	stopped := Finding{Kind: FindingOwnerStopped, Pod: key("team-a", "relay-1"), Owner: owner, ThreadTS: "1777633200.000001",
		Action: "stopped deployment/relay; undo: kubectl -n team-a scale deployment/relay --replicas=1"}
	for _, f := range []Finding{detected, escalated, stopped} {
		if _, err := n.Notify(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	posts := srv.Posts()
	if !strings.Contains(posts[0].Text, "Owner: deployment/relay") {
		t.Errorf("detection does not name the owner:\n%s", posts[0].Text)
	}
	if posts[1].ThreadTS != escalated.ThreadTS || !strings.Contains(posts[1].Text, "Repeat offender: deployment/relay in team-a") ||
		!strings.Contains(posts[1].Text, "had 3 pods deleted within 24h") {
		t.Errorf("escalation: thread %q text %q", posts[1].ThreadTS, posts[1].Text)
	}
	if posts[2].ThreadTS != stopped.ThreadTS || !strings.Contains(posts[2].Text, "Stopped deployment/relay in team-a") ||
		!strings.Contains(posts[2].Text, "--replicas=1") {
		t.Errorf("stop: thread %q text %q", posts[2].ThreadTS, posts[2].Text)
	}
}
