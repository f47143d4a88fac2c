package cycle_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/hungserver"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/miner-detector/miner-detector/internal/slackrecorder"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// testContext bounds a test that would hang without the fix under test: a
// generous limit, not a timing assertion.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// configuredCycle is newCycle (enforce, one strike, state in a ConfigMap)
// with the configuration changed by edit and validated.
func configuredCycle(t *testing.T, kube *fake.Clientset, edit func(*config.Config)) *cycle.Cycle {
	t.Helper()
	cfg := config.Default()
	cfg.Prometheus.URL = "http://unused.invalid"
	cfg.Actions.Enforce = true
	cfg.Actions.StrikesToEnforce = 1
	cfg.State = config.State{ConfigMap: "state", Namespace: "miner-detector"}
	edit(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := cycle.New(cfg, cycle.Deps{API: fleetPrometheus(t), Kube: kube, Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func outcome(res cycle.Result, kind actions.StepKind) (actions.Outcome, bool) {
	for _, o := range res.Outcomes {
		if o.Kind == kind && o.Pod.Pod == "batch-worker-5c7d9f8b6-x2k4q" {
			return o, true
		}
	}
	return actions.Outcome{}, false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A Slack API (bot token or webhook) that accepts the connection and never
// answers fails the post after slack.timeout; the cycle records, deletes,
// saves and succeeds, and the finding stays pending for the next cycle.
func TestHungSlackFailsThePostNotTheCycle(t *testing.T) {
	for _, via := range []string{"bot token", "webhook"} {
		t.Run(via, func(t *testing.T) {
			hung := hungserver.Start(t)
			kube := fake.NewClientset(minerPod())
			c := configuredCycle(t, kube, func(cfg *config.Config) {
				cfg.Slack.Timeout = config.Duration(time.Second)
				if via == "webhook" {
					cfg.Slack.WebhookURL = hung.URL + "/services/T/B/X"
				} else {
					cfg.Slack.Token, cfg.Slack.Channel, cfg.Slack.APIURL = "xoxb-test", "#gpu", hung.URL+"/api/"
				}
			})
			ctx := testContext(t)
			res, err := c.Run(ctx, end)
			if ctx.Err() != nil {
				t.Fatalf("the cycle hung on Slack until the test's context ended: %v", err)
			}
			if err != nil {
				t.Fatalf("a failed Slack post failed the cycle: %v", err)
			}
			if hung.Accepted() == 0 {
				t.Fatal("Slack was never called")
			}
			notify, ok := outcome(res, actions.StepNotify)
			if !ok || notify.Result != actions.ResultFailed || !isTimeout(notify.Err) {
				t.Fatalf("notify outcome = %+v, want failed with a client timeout", notify)
			}
			if del, _ := outcome(res, actions.StepDelete); del.Result != actions.ResultOK {
				t.Fatalf("delete after the hung post = %+v, want ok", del)
			}
			st, err := c.State.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ps, _ := st.Pods["team-a/batch-worker-5c7d9f8b6-x2k4q"]; ps.Notified || ps.Strikes != 1 {
				t.Fatalf("state after a failed post = %+v, want strikes 1, not notified (retried next cycle)", ps)
			}
		})
	}
}

// An Alertmanager that never answers fails the silences fetch after
// actions.alertmanagerSilences.timeout: no deletion that cycle (fail safe),
// the finding is still recorded, and the cycle ends.
func TestHungAlertmanagerDeletesNothing(t *testing.T) {
	hung := hungserver.Start(t)
	kube := fake.NewClientset(minerPod())
	c := configuredCycle(t, kube, func(cfg *config.Config) {
		cfg.Actions.AlertmanagerSilences = config.AlertmanagerSilences{URL: hung.URL, SuppressEnforcement: true, Timeout: config.Duration(time.Second)}
	})
	ctx := testContext(t)
	res, err := c.Run(ctx, end)
	if ctx.Err() != nil || err != nil {
		t.Fatalf("cycle: %v (test context: %v)", err, ctx.Err())
	}
	if !podExists(t, kube) {
		t.Fatal("miner pod deleted while Alertmanager hung")
	}
	if r := skipReason(res); !strings.Contains(r, "alertmanager silences unavailable") {
		t.Fatalf("skip reason %q does not say Alertmanager was unavailable", r)
	}
	if rec, _ := outcome(res, actions.StepRecord); rec.Result != actions.ResultOK {
		t.Fatalf("record = %+v, want ok", rec)
	}
}

// A cycle that runs past cycleTimeout ends: it counts as failed, says so,
// still saves what it did, and the next cycle runs.
func TestCycleDeadlineEndsAHungCycle(t *testing.T) {
	hung := hungserver.Start(t)
	kube := fake.NewClientset(minerPod())
	c := configuredCycle(t, kube, func(cfg *config.Config) {
		cfg.CycleTimeout = config.Duration(2 * time.Second)
		cfg.Slack.Timeout = config.Duration(time.Hour) // only the cycle deadline can end the post
		cfg.Slack.Token, cfg.Slack.Channel, cfg.Slack.APIURL = "xoxb-test", "#gpu", hung.URL+"/api/"
	})
	var logs strings.Builder
	c.Log = slogTo(&logs)
	ctx := testContext(t)
	for i := range 2 {
		_, err := c.Run(ctx, end.Add(time.Duration(i)*5*time.Minute))
		if ctx.Err() != nil {
			t.Fatalf("cycle %d hung until the test's context ended", i+1)
		}
		if !errors.Is(err, cycle.ErrDeadline) {
			t.Fatalf("cycle %d: err = %v, want ErrDeadline", i+1, err)
		}
		if got := testutil.ToFloat64(c.Metrics.CyclesCounter(metrics.ResultFailed)); got != float64(i+1) {
			t.Fatalf("failed cycles = %v, want %d", got, i+1)
		}
	}
	if !strings.Contains(logs.String(), "cycle deadline exceeded") {
		t.Fatalf("no log line names the deadline:\n%s", logs.String())
	}
	if evs, _ := kube.CoreV1().Events("").List(ctx, metav1.ListOptions{}); len(evs.Items) == 0 {
		t.Fatal("the finding was not recorded before the deadline")
	}
	st, err := c.State.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps := st.Pods["team-a/batch-worker-5c7d9f8b6-x2k4q"]; ps.Strikes != 2 {
		t.Fatalf("state after two cycles that hit the deadline = %+v, want strikes 2 (saved despite the deadline)", ps)
	}
}

// crashingDeleter ends the cycle's goroutine the moment the pod's deletion
// is attempted (the step right after its Slack post), as a SIGKILL would end
// the process: no deferred state save, no later step. Other pods are deleted.
type crashingDeleter struct {
	actions.PodDeleter
	pod string
}

func (d crashingDeleter) Delete(ctx context.Context, req actions.DeleteRequest) error {
	if req.Pod.Pod == d.pod {
		runtime.Goexit()
	}
	return d.PodDeleter.Delete(ctx, req)
}

// A crash after the Slack post and before the cycle's state save must not
// post a second thread for the same finding when the detector restarts.
func TestCrashAfterSlackPostDoesNotPostTwice(t *testing.T) {
	slackSrv := slackrecorder.Start()
	defer slackSrv.Stop()
	kube := fake.NewClientset(minerPod())
	edit := func(cfg *config.Config) {
		cfg.Actions.StrikesToEnforce = 2
		cfg.Slack.Token, cfg.Slack.Channel, cfg.Slack.APIURL = "xoxb-test", "#gpu", slackSrv.GetAPIURL()
	}
	crashing := configuredCycle(t, kube, edit)
	crashing.Policy.StrikesToEnforce = 1 // delete (and crash) in the first cycle
	crashing.Executor.Deleter = crashingDeleter{PodDeleter: crashing.Executor.Deleter, pod: "batch-worker-5c7d9f8b6-x2k4q"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = crashing.Run(context.Background(), end)
	}()
	<-done
	if n := len(threadsFor(slackSrv, "batch-worker-5c7d9f8b6-x2k4q")); n != 1 {
		t.Fatalf("%d threads before the crash, want 1", n)
	}

	restarted := configuredCycle(t, kube, edit)
	if _, err := restarted.Run(testContext(t), end.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := len(threadsFor(slackSrv, "batch-worker-5c7d9f8b6-x2k4q")); n != 1 {
		t.Fatalf("%d Slack threads for one finding after a crash and a restart, want 1", n)
	}
}

// threadsFor are the top-level Slack posts about the pod.
func threadsFor(s *slackrecorder.Server, pod string) []slackrecorder.Post {
	var out []slackrecorder.Post
	for _, p := range s.TopLevel() {
		if strings.Contains(p.Text, pod) {
			out = append(out, p)
		}
	}
	return out
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// A corrupt state ConfigMap does not stop detection: the cycle carries on
// from an empty state (strikes restart), records the finding and says so.
func TestCorruptStateDoesNotStopCycles(t *testing.T) {
	kube := fake.NewClientset(minerPod(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "miner-detector", Name: "state"},
		Data:       map[string]string{actions.StateDataKey: `{"pods": {"team-a/x": {"strikes": "many"`},
	})
	c := configuredCycle(t, kube, func(cfg *config.Config) { cfg.Actions.StrikesToEnforce = 2 })
	var logs strings.Builder
	c.Log = slogTo(&logs)
	ctx := testContext(t)
	res, err := c.Run(ctx, end)
	if err != nil {
		t.Fatalf("cycle on corrupt state: %v", err)
	}
	if rec, _ := outcome(res, actions.StepRecord); rec.Result != actions.ResultOK {
		t.Fatalf("record = %+v, want ok", rec)
	}
	if !podExists(t, kube) {
		t.Fatal("miner deleted on its first strike after the state was lost")
	}
	if !strings.Contains(logs.String(), "action state is corrupt") {
		t.Fatalf("no log line says the state was corrupt:\n%s", logs.String())
	}
	// A new leader claiming a tick on a corrupt state does too.
	cm, err := kube.CoreV1().ConfigMaps("miner-detector").Get(ctx, "state", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data[actions.StateDataKey] = "{"
	if _, err := kube.CoreV1().ConfigMaps("miner-detector").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if claimed, err := c.ClaimTick(ctx, end.Add(5*time.Minute)); err != nil || !claimed {
		t.Fatalf("ClaimTick on corrupt state = %v, %v; want claimed", claimed, err)
	}
}
