//go:build faults

package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/hungserver"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestFaults runs the fault matrix. Faults run one after another, each in
// its own namespace, against servers started once.
func TestFaults(t *testing.T) {
	faults := matrix()
	e, names := start(t, faults)
	for _, flt := range faults {
		t.Run(flt.name, func(t *testing.T) {
			f := &fc{t: t, e: e, ns: names[flt.name]}
			defer func() {
				if t.Failed() && len(f.problems) == 0 {
					f.problems = append(f.problems, "test failed")
				}
				rowsMu.Lock()
				rows = append(rows, f.finish(flt.name))
				rowsMu.Unlock()
			}()
			flt.run(f)
		})
	}
}

// outage runs one cycle under the fault (bad), which must take no action and
// say so, then one cycle with the fault cleared, which must act.
func (f *fc) outage(bad setup) {
	f.t.Helper()
	_, err := f.run(f.cycle(bad), 0)
	f.expect(other, "cycle reports the failure", err != nil)
	f.expect(wrongful, "no deletion during the fault", !f.podGone(minerPod))
	_, err = f.run(f.cycle(setup{}), 1)
	f.expect(other, "next cycle succeeds", err == nil)
	f.minerHandled()
	f.trainingSpared()
}

// promFront is a proxy in front of the real Prometheus; warn adds a
// warning to every answer while set.
func promFront(f *fc, warn *atomic.Bool) *front {
	return newFront(f.t, f.e.prom.URL, func(resp *http.Response) error {
		if warn == nil || !warn.Load() || !strings.Contains(resp.Request.URL.Path, "/api/v1/query") {
			return nil
		}
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return err
		}
		resp.Body.Close()
		body["warnings"] = []string{"partial response: store gpu-eu-1 unreachable"}
		b, _ := json.Marshal(body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	})
}

// kubeStatus is a Kubernetes API error body.
func kubeStatus(code int, reason, msg string) string {
	b, _ := json.Marshal(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": msg, "reason": reason, "code": code})
	return string(b)
}

// onPodDelete injects only on DELETE of a pod.
func onPodDelete(in func(w http.ResponseWriter, r *http.Request) bool) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodDelete || !strings.Contains(r.URL.Path, "/pods/") {
			return false
		}
		return in(w, r)
	}
}

// kubeFront is a proxy in front of the real API server and a client of it.
func (f *fc) kubeFront() (*front, setup) {
	fr := newFront(f.t, f.e.cluster.URL, nil)
	return fr, setup{kube: f.e.kubeClient(f.t, fr.URL, 3*time.Second)}
}

// slackOutage: Slack fails in the first cycle (strike 1, no deletion yet);
// the finding stays pending and is posted once in the second, which deletes
// and replies in that thread.
func (f *fc) slackOutage(in func(w http.ResponseWriter, r *http.Request) bool) {
	f.t.Helper()
	s := newSlack(f.t)
	two := func(cfg *config.Config) { cfg.Actions.StrikesToEnforce = 2 }
	s.set(in)
	res, _ := f.run(f.cycle(setup{slack: s.apiURL(), edit: two}), 0)
	f.expect(other, "post failed, finding recorded", failed(res, actions.StepNotify) && f.recorded(minerPod))
	s.set(nil)
	f.run(f.cycle(setup{slack: s.apiURL(), edit: two}), 1)
	f.oneThread(s, minerPod)
	f.expect(lost, "deletion replied in the thread", s.replies(minerPod) == 1)
	f.minerHandled()
	f.trainingSpared()
	f.noSecretLogged()
}

// failed reports whether a step of that kind failed for the miner.
func failed(res cycle.Result, k actions.StepKind) bool {
	for _, o := range res.Outcomes {
		if o.Kind == k && o.Pod.Pod == minerPod && o.Result == actions.ResultFailed {
			return true
		}
	}
	return false
}

// skippedAs reports whether the miner's deletion was skipped for a reason
// containing why.
func skippedAs(res cycle.Result, why string) bool {
	for _, o := range res.Outcomes {
		if o.Kind == actions.StepDelete && o.Pod.Pod == minerPod && o.Result == actions.ResultSkipped && strings.Contains(o.Reason, why) {
			return true
		}
	}
	return false
}

func podReport(res cycle.Result, pod string) (analyzer.PodReport, bool) {
	for _, p := range res.Report.Pods {
		if p.Pod == pod {
			return p, true
		}
	}
	return analyzer.PodReport{}, false
}

// deleteAttempted reports whether the cycle tried (or, dry-run, would
// have tried) to delete the pod.
func deleteAttempted(res cycle.Result, pod string) bool {
	for _, o := range res.Outcomes {
		if o.Kind == actions.StepDelete && o.Pod.Pod == pod && o.Result != actions.ResultSkipped {
			return true
		}
	}
	return false
}

// gauge is the value of an unlabelled gauge of the cycle's metrics.
func gauge(f *fc, m *metrics.Metrics, name string) float64 {
	f.t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return math.NaN()
}

func verdictOf(res cycle.Result, pod string) string {
	for _, p := range res.Report.Pods {
		if p.Pod == pod {
			return string(p.Verdict)
		}
	}
	return ""
}

// cutShort answers r with the first half of Prometheus's real answer under
// a Content-Length for the whole, then drops the connection.
func cutShort(prom string, w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		return false
	}
	resp, err := http.PostForm(prom+r.URL.Path, r.PostForm)
	if err != nil {
		return false
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body[:len(body)/2])
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	if conn, _, err := rc.Hijack(); err == nil {
		conn.Close()
	}
	return true
}

func nan() float64         { return math.NaN() }
func inf(sign int) float64 { return math.Inf(sign) }

func (f *fc) noSecretLogged() {
	f.expect(other, "no secret logged", !strings.Contains(f.logs.String(), slackToken) && !strings.Contains(f.logs.String(), webhookSecret))
}

const webhookSecret = "WEBHOOK-SECRET-b4d5e6"

func matrix() []fault {
	return []fault{
		// Prometheus.
		{name: "prometheus down (connection refused)", run: func(f *fc) { f.outage(setup{promURL: "http://127.0.0.1:1"}) }},
		{name: "prometheus hung (accepts, never answers)", run: func(f *fc) { f.outage(setup{promURL: hungserver.Start(f.t).URL}) }},
		{name: "prometheus slow (300 ms a query)", run: func(f *fc) {
			fr := promFront(f, nil)
			fr.set(func(w http.ResponseWriter, r *http.Request) bool { time.Sleep(300 * time.Millisecond); return false })
			_, err := f.run(f.cycle(setup{promURL: fr.URL}), 0)
			f.expect(other, "cycle succeeds", err == nil)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "prometheus answer cut short (connection dropped mid-body)", run: func(f *fc) {
			fr := promFront(f, nil)
			var cut atomic.Bool
			fr.set(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/api/v1/query_range") || cut.Swap(true) {
					return false
				}
				return cutShort(f.e.prom.URL, w, r)
			})
			_, err := f.run(f.cycle(setup{promURL: fr.URL}), 0)
			f.expect(other, "answer cut once", cut.Load())
			f.expect(other, "cycle succeeds (the query read again)", err == nil)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "prometheus 503", run: func(f *fc) {
			fr := promFront(f, nil)
			fr.set(status(503, "upstream unavailable"))
			f.outage(setup{promURL: fr.URL})
		}},
		{name: "prometheus 422 (execution error)", run: func(f *fc) {
			fr := promFront(f, nil)
			fr.set(status(422, `{"status":"error","errorType":"execution","error":"found duplicate series for the match group"}`))
			f.outage(setup{promURL: fr.URL})
		}},
		{name: "prometheus answers with warnings", run: func(f *fc) {
			var warn atomic.Bool
			warn.Store(true)
			fr := promFront(f, &warn)
			f.outage(setup{promURL: fr.URL})
		}},
		{name: "prometheus partial (every other query fails)", run: func(f *fc) {
			fr := promFront(f, nil)
			var n atomic.Int64
			fr.set(func(w http.ResponseWriter, r *http.Request) bool {
				if n.Add(1)%2 == 0 {
					return status(503, "store gpu-eu-1 unreachable")(w, r)
				}
				return false
			})
			f.outage(setup{promURL: fr.URL})
		}},
		{name: "prometheus garbage JSON", run: func(f *fc) {
			fr := promFront(f, nil)
			fr.set(status(200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":`))
			f.outage(setup{promURL: fr.URL})
		}},
		{name: "prometheus sample limit (real --query.max-samples=10)", run: func(f *fc) { f.outage(setup{promURL: f.e.promTiny.URL}) }},
		{name: "prometheus restarted mid-cycle", run: func(f *fc) {
			fr := promFront(f, nil)
			var n atomic.Int64
			fr.set(func(w http.ResponseWriter, r *http.Request) bool {
				if i := n.Add(1); i >= 2 && i <= 4 {
					closeConn(w)
					return true
				}
				return false
			})
			f.outage(setup{promURL: fr.URL})
		}},
		{name: "clock skew (detector 40 min ahead of the data)", run: func(f *fc) {
			c := f.cycle(setup{})
			f.e.at = f.e.at.Add(40 * time.Minute)
			_, _ = f.run(c, 0)
			f.e.at = f.e.at.Add(-40 * time.Minute)
			f.expect(wrongful, "no deletion on a window past the data", !f.podGone(minerPod))
			f.run(f.cycle(setup{}), 1)
			f.minerHandled()
			f.trainingSpared()
		}},

		// Kubernetes API.
		{name: "kubernetes API hung", run: func(f *fc) {
			fr, bad := f.kubeFront()
			fr.set(hang)
			f.outage(bad)
		}},
		{name: "kubernetes API 401", run: func(f *fc) {
			fr, bad := f.kubeFront()
			fr.set(status(401, kubeStatus(401, "Unauthorized", "Unauthorized")))
			f.outage(bad)
		}},
		{name: "kubernetes API 403 on pod delete (RBAC removed)", run: func(f *fc) {
			fr, bad := f.kubeFront()
			fr.set(onPodDelete(status(403, kubeStatus(403, "Forbidden", `pods "miner-0" is forbidden`))))
			res, _ := f.run(f.cycle(bad), 0)
			f.expect(other, "delete failed, finding recorded", failed(res, actions.StepDelete) && f.recorded(minerPod))
			f.expect(wrongful, "pod not deleted", !f.podGone(minerPod))
			f.run(f.cycle(setup{}), 1)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "kubernetes API 404 (pod already gone)", run: func(f *fc) {
			s := newSlack(f.t)
			zero := int64(0)
			if err := f.e.admin.CoreV1().Pods(f.ns).Delete(context.Background(), minerPod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				f.t.Fatal(err)
			}
			res, err := f.run(f.cycle(setup{slack: s.apiURL()}), 0)
			f.expect(other, "cycle ok, nothing failed", err == nil && res.Outcomes.Count(actions.ResultFailed) == 0)
			f.run(f.cycle(setup{slack: s.apiURL()}), 1)
			f.expect(dup, "at most one Slack thread", s.threads(minerPod) <= 1)
			f.trainingSpared()
		}},
		{name: "kubernetes API 409 on pod delete", run: func(f *fc) {
			fr, bad := f.kubeFront()
			fr.set(onPodDelete(status(409, kubeStatus(409, "Conflict", "Precondition failed: UID in precondition"))))
			f.run(f.cycle(bad), 0)
			f.expect(wrongful, "pod not deleted on conflict", !f.podGone(minerPod))
			f.run(f.cycle(setup{}), 1)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "kubernetes API 429 with Retry-After (twice)", run: func(f *fc) {
			fr, bad := f.kubeFront()
			var n atomic.Int64
			fr.set(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/events") && n.Add(1) <= 2 {
					return status(429, kubeStatus(429, "TooManyRequests", "slow down"), "Retry-After", "1")(w, r)
				}
				return false
			})
			_, err := f.run(f.cycle(bad), 0)
			f.expect(other, "cycle ok", err == nil)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "kubernetes API 500 on Event create", run: func(f *fc) {
			fr, bad := f.kubeFront()
			fr.set(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/events") {
					return status(500, kubeStatus(500, "InternalError", "etcdserver: request timed out"))(w, r)
				}
				return false
			})
			res, _ := f.run(f.cycle(bad), 0)
			f.expect(other, "record failed and said so", failed(res, actions.StepRecord))
			f.run(f.cycle(setup{}), 1)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "kubernetes API restarted mid-cycle", run: func(f *fc) {
			fr, bad := f.kubeFront()
			var n atomic.Int64
			fr.set(func(w http.ResponseWriter, r *http.Request) bool {
				if i := n.Add(1); i >= 2 && i <= 5 {
					closeConn(w)
					return true
				}
				return false
			})
			f.run(f.cycle(bad), 0)
			f.run(f.cycle(setup{}), 1)
			f.minerHandled()
			f.trainingSpared()
		}},

		// Slack.
		{name: "slack hung", run: func(f *fc) { f.slackOutage(hang) }},
		{name: "slack 429 with Retry-After", run: func(f *fc) {
			f.slackOutage(status(429, `{"ok":false,"error":"ratelimited"}`, "Retry-After", "1"))
		}},
		{name: "slack 503", run: func(f *fc) { f.slackOutage(status(503, "upstream connect error")) }},
		{name: "slack invalid_auth", run: func(f *fc) { f.slackOutage(status(200, `{"ok":false,"error":"invalid_auth"}`)) }},
		{name: "slack channel_not_found", run: func(f *fc) { f.slackOutage(status(200, `{"ok":false,"error":"channel_not_found"}`)) }},
		{name: "slack down in the cycle that deletes", run: func(f *fc) {
			s := newSlack(f.t)
			s.set(hang)
			f.run(f.cycle(setup{slack: s.apiURL()}), 0)
			f.expect(other, "pod deleted though Slack was down", f.podGone(minerPod))
			s.set(nil)
			f.run(f.cycle(setup{slack: s.apiURL()}), 1)
			f.oneThread(s, minerPod)
			f.trainingSpared()
			f.noSecretLogged()
		}},
		{name: "cycle deadline (Slack hangs, slack.timeout 1h, cycleTimeout 3s)", run: func(f *fc) {
			s := newSlack(f.t)
			s.set(hang)
			c := f.cycle(setup{slack: s.apiURL(), edit: func(cfg *config.Config) {
				cfg.Actions.StrikesToEnforce = 2
				cfg.Slack.Timeout = config.Duration(time.Hour)
				cfg.CycleTimeout = config.Duration(3 * time.Second)
			}})
			_, err := f.run(c, 0)
			f.expect(other, "cycle ended at its deadline", errors.Is(err, cycle.ErrDeadline))
			f.expect(other, "counted as a failed cycle", testutil.ToFloat64(c.Metrics.CyclesCounter(metrics.ResultFailed)) == 1)
			f.expect(other, `logged "cycle deadline exceeded"`, strings.Contains(f.logs.String(), "cycle deadline exceeded"))
			s.set(nil)
			f.run(f.cycle(setup{slack: s.apiURL(), edit: func(cfg *config.Config) { cfg.Actions.StrikesToEnforce = 2 }}), 1)
			f.oneThread(s, minerPod)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "slack webhook hung (URL is a secret)", run: func(f *fc) {
			hung := hungserver.Start(f.t)
			res, err := f.run(f.cycle(setup{edit: func(cfg *config.Config) {
				cfg.Slack.WebhookURL = hung.URL + "/services/T0/B0/" + webhookSecret
			}}), 0)
			f.expect(other, "post failed, cycle ok", err == nil && failed(res, actions.StepNotify))
			f.noSecretLogged()
			f.minerHandled()
			f.trainingSpared()
		}},

		// Alertmanager.
		{name: "alertmanager hung", run: func(f *fc) { f.outageAM(hungserver.Start(f.t).URL) }},
		{name: "alertmanager down", run: func(f *fc) { f.outageAM("http://127.0.0.1:1") }},
		{name: "silence with extra matcher severity=warning and pod regex", run: func(f *fc) {
			f.silence(true, eqM("namespace", f.ns), reM("pod", "miner-.*"), eqM("severity", "warning"))
		}},
		{name: "silence with severity=critical (does not cover the alert)", run: func(f *fc) {
			f.silence(false, eqM("namespace", f.ns), reM("pod", "miner-.*"), eqM("severity", "critical"))
		}},
		{name: "silence regex is anchored (pod=~iner-0)", run: func(f *fc) {
			f.silence(false, eqM("namespace", f.ns), reM("pod", "iner-0"))
		}},
		{name: "silence on node regex and shared!=true", run: func(f *fc) {
			f.silence(true, reM("node", "gpu-node-[0-9]+"), eqM("namespace", f.ns), notM(eqM("shared", "true")))
		}},

		// Process.
		{name: "crash between Slack post and state save", run: func(f *fc) {
			s := newSlack(f.t)
			c := f.cycle(setup{slack: s.apiURL()})
			c.Executor.Deleter = crashingDeleter{c.Executor.Deleter}
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = c.Run(context.Background(), f.e.at)
			}()
			<-done
			f.did = append(f.did, "c0 crashed after the post")
			f.run(f.cycle(setup{slack: s.apiURL()}), 1)
			f.oneThread(s, minerPod)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "leader lost mid-cycle", run: func(f *fc) {
			s := newSlack(f.t)
			ctx, cancel := context.WithCancel(context.Background())
			var once sync.Once
			s.set(func(w http.ResponseWriter, r *http.Request) bool {
				once.Do(cancel)
				return hang(w, r)
			})
			f.runCtx(ctx, f.cycle(setup{slack: s.apiURL(), edit: func(cfg *config.Config) { cfg.Slack.Timeout = config.Duration(time.Minute) }}), 0)
			f.expect(wrongful, "no deletion after leadership was lost", !f.podGone(minerPod))
			s.set(nil)
			f.run(f.cycle(setup{slack: s.apiURL()}), 1)
			f.oneThread(s, minerPod)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "two replicas race for one tick", run: func(f *fc) {
			// Replica b claims the tick between replica a's read of the
			// state and its write: the worst interleaving, made certain.
			s := newSlack(f.t)
			a, b := f.cycle(setup{slack: s.apiURL()}), f.cycle(setup{slack: s.apiURL()})
			tick := f.e.at.Truncate(time.Minute)
			var claimedB bool
			var errB error
			a.State = &interleaved{StateStore: a.State, between: func() { claimedB, errB = b.ClaimTick(context.Background(), tick) }}
			claimedA, errA := a.ClaimTick(context.Background(), tick)
			f.did = append(f.did, fmt.Sprintf("claims: a %t (%v), b %t (%v)", claimedA, errA, claimedB, errB))
			f.expect(dup, "exactly one replica claims the tick", claimedA != claimedB && errA == nil && errB == nil)
			winner := b
			if claimedA {
				winner = a
			}
			f.run(winner, 0)
			f.oneThread(s, minerPod)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "state ConfigMap deleted between cycles", run: func(f *fc) {
			s := newSlack(f.t)
			two := setup{slack: s.apiURL(), edit: func(cfg *config.Config) { cfg.Actions.StrikesToEnforce = 2 }}
			f.run(f.cycle(two), 0)
			if err := f.e.admin.CoreV1().ConfigMaps(f.ns).Delete(context.Background(), "miner-detector-state", metav1.DeleteOptions{}); err != nil {
				f.t.Fatal(err)
			}
			f.run(f.cycle(two), 1)
			f.expect(wrongful, "strikes restart: no deletion on one strike", !f.podGone(minerPod))
			f.run(f.cycle(two), 2)
			f.minerHandled()
			f.trainingSpared()
			// The thread record lived in the deleted state: one new thread
			// is expected, never more.
			f.expect(dup, "at most one new thread after the state was lost", s.threads(minerPod) <= 2)
		}},
		{name: "state ConfigMap corrupted", run: func(f *fc) {
			two := setup{edit: func(cfg *config.Config) { cfg.Actions.StrikesToEnforce = 2 }}
			f.run(f.cycle(two), 0)
			cm, err := f.e.admin.CoreV1().ConfigMaps(f.ns).Get(context.Background(), "miner-detector-state", metav1.GetOptions{})
			if err != nil {
				f.t.Fatal(err)
			}
			cm.Data[actions.StateDataKey] = `{"pods": {"` + f.ns + `/miner-0": {"strikes": "many"`
			if _, err := f.e.admin.CoreV1().ConfigMaps(f.ns).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
				f.t.Fatal(err)
			}
			f.run(f.cycle(two), 1)
			f.expect(wrongful, "no deletion on the strike after the corruption", !f.podGone(minerPod))
			f.run(f.cycle(two), 2)
			f.minerHandled()
			f.trainingSpared()
		}},

		// Data.
		{name: "scrape gaps (half the window missing)", scrape: fleet.Scrape{Gaps: []fleet.Range{{From: time.Now(), To: time.Now().Add(window * 2 / 3)}}},
			run: func(f *fc) {
				res, _ := f.run(f.cycle(setup{}), 0)
				f.expect(wrongful, "miner with too little data not deleted", !f.podGone(minerPod))
				f.expect(other, "judged insufficient_data", verdictOf(res, minerPod) == "insufficient_data")
				f.trainingSpared()
			}},
		{name: "NaN and Inf samples", scrape: fleet.Scrape{Bad: badSamples()}, run: func(f *fc) {
			f.run(f.cycle(setup{}), 0)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "broken profiler (training's every DCGM_FI_PROF_* reads 0 at ~99 % utilization)", pods: func(ns, node string) []fleet.Pod {
			p := defaultPods(ns, node)
			p[1].Profile = fleet.ProfilerZeros(fleet.FlatTraining())
			return p
		}, run: func(f *fc) {
			for i := range 2 { // two cycles: strikes cannot make it deletable either
				c := f.cycle(setup{})
				res, err := f.run(c, i)
				f.expect(other, fmt.Sprintf("cycle %d ok", i), err == nil)
				tr, ok := podReport(res, trainPod)
				f.did = append(f.did, fmt.Sprintf("train-0: %s, %s, %q", tr.Verdict, tr.Evidence.Strength, short(tr.Evidence.ProfilerFault)))
				f.expect(other, "training judged on utilization alone", ok && tr.Verdict == analyzer.Miner && tr.Evidence.Strength == analyzer.StrengthUtilizationOnly)
				f.expect(other, "profiler fault named in the evidence", strings.Contains(tr.Evidence.ProfilerFault, "every profiling field reads 0"))
				f.expect(other, "miner_detector_gpus_profiler_fault counts it", gauge(f, c.Metrics, "miner_detector_gpus_profiler_fault") == 1)
				f.expect(wrongful, "deletion of the training pod skipped", !deleteAttempted(res, trainPod))
				f.trainingSpared()
			}
			f.minerHandled()
		}},
		{name: "both label layouts at once (exported_* here, honored elsewhere)", layout: fleet.Exported, run: func(f *fc) {
			f.run(f.cycle(setup{}), 0)
			f.minerHandled()
			f.trainingSpared()
		}},
		{name: "forged DCGM series from a tenant pod in every cycle (frame the training pod, mask the miner)", pods: func(ns, node string) []fleet.Pod {
			return append(defaultPods(ns, node), fleet.Pod{Namespace: ns, Name: forgerPod, Container: "main", Node: node}) // no GPU of its own
		}, forged: func(ns, node string) []fleet.Pod {
			return []fleet.Pod{
				{Namespace: ns, Name: trainPod, Container: "main", Node: node, Profile: fleet.SteadyMiner(), GPUs: []fleet.GPUSpec{fleet.GPU(node, "1")}},
				{Namespace: ns, Name: minerPod, Container: "main", Node: node, Profile: fleet.BurstyTraining(), GPUs: []fleet.GPUSpec{fleet.GPU(node, "0")}},
			}
		}, run: func(f *fc) { f.forgedEveryCycle(3) }},
		{name: "one GPU UUID under two pods", pods: func(ns, node string) []fleet.Pod {
			p := defaultPods(ns, node)
			p[1].GPUs = p[0].GPUs // training shares the miner's GPU
			return p
		}, run: func(f *fc) {
			f.run(f.cycle(setup{}), 0)
			f.run(f.cycle(setup{}), 1)
			f.trainingSpared()
		}},
		{name: "pod name reused after deletion (new UID)", history: window, run: func(f *fc) {
			// This namespace's series start a window early, so a window can
			// end 6 minutes after the pods were created: its evidence starts
			// (first chunk end) a minute after that, before the new pod.
			at := f.e.from.Add(6 * time.Minute)
			evidenceStart := at.Add(-window / 2)
			two := setup{edit: func(cfg *config.Config) { cfg.Actions.StrikesToEnforce = 2 }}
			f.runAt(context.Background(), f.cycle(two), 0, at)
			zero := int64(0)
			if err := f.e.admin.CoreV1().Pods(f.ns).Delete(context.Background(), minerPod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				f.t.Fatal(err)
			}
			for time.Now().Before(evidenceStart.Add(time.Second)) { // the new pod must come after the evidence began
				time.Sleep(100 * time.Millisecond)
			}
			createPod(context.Background(), f.t, f.e.admin, f.ns, minerPod, fmt.Sprintf("gpu-node-%s", strings.TrimPrefix(f.ns, "fault-")))
			res, _ := f.runAt(context.Background(), f.cycle(two), 1, at)
			f.expect(other, "deletion attempted on strike 2 and refused", skippedAs(res, "stale evidence"))
			f.expect(wrongful, "new pod under the old name not deleted on the old pod's evidence", !f.podGone(minerPod))
			f.trainingSpared()
		}},
		{name: "hostile label values (quotes, backslashes, newlines, 300 chars)", pods: func(ns, node string) []fleet.Pod {
			p := defaultPods(ns, node)
			p = append(p, fleet.Pod{Namespace: ns, Name: hostileName, Container: "main", Node: node, Profile: fleet.SteadyMiner(),
				GPUs: []fleet.GPUSpec{fleet.GPU(node, "2")}, ExpectMiner: true})
			return p
		}, run: func(f *fc) {
			s := newSlack(f.t)
			_, err := f.run(f.cycle(setup{slack: s.apiURL()}), 0)
			f.expect(other, "cycle ok", err == nil)
			f.expect(lost, "hostile pod's finding posted to Slack", s.threads(`evil\"} or vector(1)`) == 1 || s.threads("evil") == 1)
			_, err = f.run(f.cycle(setup{edit: func(cfg *config.Config) { cfg.Query.Namespaces = []string{`x"} or vector(1) or {a="`} }}), 1)
			f.expect(other, "hostile namespace filter matches nothing, injects nothing", err == nil)
			f.minerHandled()
			f.trainingSpared()
		}},

		// Configuration.
		{name: "config: every invalid field named", run: func(f *fc) {
			bad := map[string]string{
				"window: 3s":                     "window:",
				"cycleTimeout: 5m":               "cycleTimeout:",
				"slack: {timeout: 0s}":           "slack.timeout:",
				"kubernetes: {timeout: -1s}":     "kubernetes.timeout:",
				"actions: {strikesToEnforce: 0}": "strikesToEnforce:",
				"minCoverage: 2":                 "minCoverage:",
				"actions: {alertmanagerSilences: {suppressEnforcement: true}}": "actions.alertmanagerSilences.url:",
				"leaderElection: {enabled: true, retryPeriod: 0s}":             "leaderElection.retryPeriod:",
			}
			named := 0
			for body, field := range bad {
				c := config.Default()
				c.Prometheus.URL = "http://p:9090"
				err := config.Parse([]byte(body), &c)
				if err == nil {
					err = c.Validate()
				}
				if err != nil && strings.Contains(err.Error(), field) {
					named++
				} else {
					f.t.Logf("%q: %v", body, err)
				}
			}
			f.did = append(f.did, fmt.Sprintf("refused %d of %d bad configs", named, len(bad)))
			f.expect(other, "each error names its field", named == len(bad))
		}},
		{name: "config: unknown field rejected", run: func(f *fc) {
			c := config.Default()
			err := config.Parse([]byte("slack: {chanel: '#x'}"), &c)
			f.did = append(f.did, "refused the file")
			f.expect(other, `error names "chanel"`, err != nil && strings.Contains(err.Error(), `"chanel"`))
		}},
		{name: "no secret logged (Slack token, failing posts)", run: func(f *fc) {
			s := newSlack(f.t)
			s.set(status(200, `{"ok":false,"error":"invalid_auth"}`))
			f.run(f.cycle(setup{slack: s.apiURL()}), 0)
			f.expect(other, "logs hold the failure", strings.Contains(f.logs.String(), "invalid_auth"))
			f.noSecretLogged()
		}},
	}
}

// forgedEveryCycle runs n cycles on the Prometheus that also holds
// forgerPod's forgeries, each as a fresh process (the Slack dedupe is
// persisted state): the forgery is reported against forgerPod every cycle
// and posted to Slack once; the pods it names keep the verdicts the
// exporter's series give them.
func (f *fc) forgedEveryCycle(n int) {
	f.t.Helper()
	s := newSlack(f.t)
	okCycles, framed, reported := 0, 0, 0
	for i := range n {
		res, err := f.run(f.cycle(setup{promURL: f.e.promForged.URL, slack: s.apiURL()}), i)
		if err == nil {
			okCycles++
		}
		if verdictOf(res, trainPod) == string(analyzer.Miner) || deleteAttempted(res, trainPod) {
			framed++
		}
		if u := res.Read.Untrusted; len(u) == 1 && u[0].Namespace == f.ns && u[0].Pod == forgerPod && u[0].Job == "kubernetes-pods" && len(u[0].Claims) == 2 {
			reported++
		}
	}
	f.expect(other, "every cycle ok", okCycles == n)
	f.expect(wrongful, "framed training pod never a miner, no deletion attempted", framed == 0)
	f.trainingSpared()
	f.expect(wrongful, "no finding recorded on the framed pod", !f.recorded(trainPod))
	f.expect(lost, "forgery reported against the forger every cycle", reported == n)
	f.minerHandled() // not masked
	var untrusted, aboutTrain int
	for _, p := range s.rec.TopLevel() {
		switch {
		case strings.HasPrefix(p.Text, "Untrusted telemetry:") && strings.Contains(p.Text, f.ns+"/"+forgerPod):
			untrusted++
		case strings.Contains(p.Text, trainPod):
			aboutTrain++
		}
	}
	f.did = append(f.did, fmt.Sprintf("%d untrusted-telemetry posts", untrusted))
	f.expect(lost, "untrusted telemetry posted to Slack", untrusted >= 1)
	if untrusted > 1 {
		f.d += untrusted - 2 // expect counts one
	}
	f.expect(dup, "posted once, not once per cycle", untrusted <= 1)
	f.expect(wrongful, "no Slack finding on the framed pod", aboutTrain == 0)
	evs, err := f.e.admin.CoreV1().Events(f.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var count int32
	for _, ev := range evs.Items {
		if ev.Reason == actions.EventReasonUntrustedTelemetry && ev.InvolvedObject.Name == forgerPod {
			count += ev.Count
		}
	}
	f.expect(lost, fmt.Sprintf("%s Event on the forger counted each cycle", actions.EventReasonUntrustedTelemetry), count == int32(n))
}

// hostileName is a pod label value no Kubernetes pod can have, as a
// misbehaving exporter or relabelling could publish it.
var hostileName = `evil"} or vector(1) # \` + "\n" + strings.Repeat("x", 300)

func (f *fc) outageAM(amURL string) {
	f.t.Helper()
	res, _ := f.run(f.cycle(setup{amURL: amURL}), 0)
	f.expect(wrongful, "no deletion while silences are unknown", !f.podGone(minerPod))
	f.expect(lost, "finding recorded", f.recorded(minerPod) && !failed(res, actions.StepRecord))
	f.run(f.cycle(setup{}), 1)
	f.minerHandled()
	f.trainingSpared()
}

// silence posts a silence to the real Alertmanager and runs a cycle that
// reads it: a silenced miner is recorded, never deleted; a silence that
// does not cover the alert does not protect it.
func (f *fc) silence(covers bool, ms ...actions.Matcher) {
	f.t.Helper()
	now := time.Now()
	body, _ := json.Marshal(map[string]any{"matchers": ms, "startsAt": now.Add(-time.Minute), "endsAt": now.Add(time.Hour),
		"createdBy": "oncall@example.com", "comment": "fault matrix"})
	resp, err := http.Post(f.e.am.URL+"/api/v2/silences", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		f.t.Fatalf("POST silence: %v %v", resp, err)
	}
	resp.Body.Close()
	f.run(f.cycle(setup{amURL: f.e.am.URL}), 0)
	f.expect(lost, "finding recorded", f.recorded(minerPod))
	if covers {
		f.expect(wrongful, "silenced miner not deleted", !f.podGone(minerPod))
	} else {
		f.expect(lost, "miner the silence does not cover deleted", f.podGone(minerPod))
	}
	f.trainingSpared()
}

func eqM(name, value string) actions.Matcher { return actions.Matcher{Name: name, Value: value} }
func reM(name, value string) actions.Matcher {
	return actions.Matcher{Name: name, Value: value, IsRegex: true}
}
func notM(m actions.Matcher) actions.Matcher {
	f := false
	m.IsEqual = &f
	return m
}

// interleaved runs between once, right after the wrapped store has read the
// state and before it writes.
type interleaved struct {
	actions.StateStore
	between func()
	once    sync.Once
}

func (s *interleaved) Load(ctx context.Context) (actions.State, error) {
	st, err := s.StateStore.Load(ctx)
	s.once.Do(s.between)
	return st, err
}

func (s *interleaved) Update(ctx context.Context, fn func(actions.State) (actions.State, error)) error {
	return actions.UpdateState(ctx, s.StateStore, func(st actions.State) (actions.State, error) {
		s.once.Do(s.between)
		return fn(st)
	})
}

// crashingDeleter ends the cycle's goroutine when it is about to delete the
// miner (the step after its Slack post), as SIGKILL would: no later step, no
// final state save.
type crashingDeleter struct{ actions.PodDeleter }

func (d crashingDeleter) Delete(ctx context.Context, req actions.DeleteRequest) error {
	if req.Pod.Pod == minerPod {
		runtime.Goexit()
	}
	return d.PodDeleter.Delete(ctx, req)
}

// closeConn drops the connection without an answer, as a restarting server
// does.
func closeConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func badSamples() []fleet.BadValue {
	var out []fleet.BadValue
	now := time.Now().Truncate(fleet.DefaultInterval)
	// Five bad samples in the window: excluded, and coverage stays above
	// minCoverage.
	for i, v := range []float64{nan(), inf(1), inf(-1), 150, -5} {
		out = append(out, fleet.BadValue{At: now.Add(time.Duration(2*i+2) * time.Minute), Value: v})
	}
	return out
}
