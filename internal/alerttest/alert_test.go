package alerttest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/miner-detector/miner-detector/internal/amtest"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/miner-detector/miner-detector/internal/promtest"
	"github.com/miner-detector/miner-detector/promquery"
)

// testTimeout bounds the whole end-to-end test.
const testTimeout = 2 * time.Minute

const (
	minerNS, minerPod, minerNode = "team-a", "miner-0", "gpu-node-1"
	trainerNS, trainerPod        = "ml-research", "trainer-0"
	window                       = 10 * time.Minute
)

// TestMinerAlertFiresAndResolves runs detector -> Prometheus -> rules ->
// Alertmanager -> webhook, then removes the miner and waits for the
// resolved notification.
func TestMinerAlertFiresAndResolves(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	now := time.Now()
	miner := fleet.Pod{Namespace: minerNS, Name: minerPod, Container: "worker", Node: minerNode,
		Profile: fleet.SteadyMiner(), GPUs: []fleet.GPUSpec{fleet.GPU(minerNode, "0")}, ExpectMiner: true}
	trainer := fleet.Pod{Namespace: trainerNS, Name: trainerPod, Container: "trainer", Node: minerNode,
		Profile: fleet.BurstyTraining(), GPUs: []fleet.GPUSpec{fleet.GPU(minerNode, "1")}}
	// History around now, a few minutes into the future so every cycle of
	// the test sees a full window.
	from, to := now.Add(-2*window), now.Add(5*time.Minute)
	withMiner := openFleet(t, from, to, miner, trainer)
	withoutMiner := openFleet(t, from, to, trainer)
	source := &switchableAPI{api: withMiner}

	detector := startDetector(ctx, t, source)
	hook := startWebhook(t)
	am := amtest.Start(t, fmt.Sprintf(`route:
  receiver: webhook
  group_by: [alertname, namespace, pod]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: %s
        send_resolved: true
`, hook.URL))
	rules, err := filepath.Abs("../../deploy/prometheus/miner-detector-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, []byte("# EOF\n"), promtest.WithConfig(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: miner-detector
    honor_labels: true
    static_configs:
      - targets: [%q]
`, rules, strings.TrimPrefix(am.URL, "http://"), strings.TrimPrefix(detector.URL, "http://"))))
	t.Logf("servers up after %v (prometheus %s)", time.Since(start).Round(time.Millisecond), prom.Version)

	firing := hook.await(ctx, t, "firing GPUMinerDetected for "+minerNS+"/"+minerPod, func(a alert) bool {
		return a.Status == "firing" && a.Labels["alertname"] == "GPUMinerDetected" && a.Labels["pod"] == minerPod
	})
	t.Logf("firing notification after %v", time.Since(start).Round(time.Millisecond))
	for k, want := range map[string]string{
		"namespace": minerNS, "pod": minerPod, "node": minerNode, "shared": "false",
		"severity": "warning", "job": "miner-detector",
	} {
		if got := firing.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q (labels %v)", k, got, want, firing.Labels)
		}
	}
	checkAnnotations(t, firing.Annotations)

	source.set(withoutMiner)
	resolved := hook.await(ctx, t, "resolved GPUMinerDetected for "+minerNS+"/"+minerPod, func(a alert) bool {
		return a.Status == "resolved" && a.Labels["alertname"] == "GPUMinerDetected" && a.Labels["pod"] == minerPod
	})
	t.Logf("resolved notification after %v", time.Since(start).Round(time.Millisecond))
	if resolved.Labels["namespace"] != minerNS || resolved.Labels["node"] != minerNode {
		t.Errorf("resolved alert labels %v, want namespace %s node %s", resolved.Labels, minerNS, minerNode)
	}

	// A healthy detector pages for nothing else, and never for the trainer.
	for _, a := range hook.all() {
		if a.Labels["alertname"] != "GPUMinerDetected" || a.Labels["pod"] != minerPod {
			t.Errorf("unexpected notification: %s %v", a.Status, a.Labels)
		}
	}
}

// checkAnnotations checks the numbers the rule pulls from the detector's
// suspect metrics, the window and the links.
func checkAnnotations(t *testing.T, ann map[string]string) {
	t.Helper()
	if want := "Crypto miner suspected on GPU: team-a/miner-0 on gpu-node-1"; ann["summary"] != want {
		t.Errorf("summary %q, want %q", ann["summary"], want)
	}
	desc := ann["description"]
	m := regexp.MustCompile(`mean ([0-9.]+)%, stddev ([0-9.]+), coverage ([0-9.]+) over a window of 10m 0s\.`).FindStringSubmatch(desc)
	if m == nil {
		t.Fatalf("description lacks the numbers and the 10m window: %q", desc)
	}
	mean, _ := strconv.ParseFloat(m[1], 64)
	stddev, _ := strconv.ParseFloat(m[2], 64)
	coverage, _ := strconv.ParseFloat(m[3], 64)
	if mean <= 95 || mean > 100 || stddev >= 2 || coverage < 0.8 || coverage > 1 {
		t.Errorf("description numbers mean %v stddev %v coverage %v are not a steady miner's: %q", mean, stddev, coverage, desc)
	}
	if want := "/d/miner-detector-evidence?var-namespace=team-a&var-pod=miner-0"; !strings.Contains(desc, want) {
		t.Errorf("description lacks the evidence link %s: %q", want, desc)
	}
	if !strings.HasSuffix(ann["runbook_url"], "/docs/runbooks/GPUMinerDetected.md") {
		t.Errorf("runbook_url %q", ann["runbook_url"])
	}
}

// openFleet is an embedded Prometheus holding the pods' utilization in
// [from, to].
func openFleet(t *testing.T, from, to time.Time, pods ...fleet.Pod) *embedded.Prometheus {
	t.Helper()
	p, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	for _, s := range fleet.FleetSeries(pods, fleet.Honor, from, to, fleet.Scrape{}) {
		if err := p.Append(s.Labels, s.Times, s.Values); err != nil {
			t.Fatalf("append %v: %v", s.Labels, err)
		}
	}
	return p
}

// switchableAPI is the detector's data source, which the test can replace.
type switchableAPI struct {
	mu  sync.Mutex
	api promquery.API
}

func (s *switchableAPI) set(api promquery.API) { s.mu.Lock(); s.api = api; s.mu.Unlock() }
func (s *switchableAPI) get() promquery.API    { s.mu.Lock(); defer s.mu.Unlock(); return s.api }

func (s *switchableAPI) Query(ctx context.Context, q string, ts time.Time, o ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	return s.get().Query(ctx, q, ts, o...)
}

func (s *switchableAPI) QueryRange(ctx context.Context, q string, r v1.Range, o ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	return s.get().QueryRange(ctx, q, r, o...)
}

func (s *switchableAPI) Series(ctx context.Context, m []string, from, to time.Time, o ...v1.Option) ([]model.LabelSet, v1.Warnings, v1.Infos, error) {
	return s.get().Series(ctx, m, from, to, o...)
}

// startDetector wires the production cycle (dry-run, no cluster) on api,
// runs it every second and serves its real metrics registry on 127.0.0.1.
func startDetector(ctx context.Context, t *testing.T, api promquery.API) *httptest.Server {
	t.Helper()
	cfg := config.Default()
	cfg.Prometheus.URL = "http://embedded.invalid" // unused: api is passed in
	cfg.Window = config.Duration(window)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.Settings(time.Minute, false) // staleness alert: 3 minutes without success
	cyc, err := cycle.New(cfg, cycle.Deps{API: api, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if _, err := cyc.Run(ctx, time.Now()); err != nil && ctx.Err() == nil {
				t.Errorf("cycle: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return srv
}

// alert is one alert of an Alertmanager webhook notification.
type alert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type webhook struct {
	*httptest.Server
	mu       sync.Mutex
	received []alert
	arrived  chan struct{}
}

func startWebhook(t *testing.T) *webhook {
	t.Helper()
	w := &webhook{arrived: make(chan struct{}, 1)}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []alert `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			t.Errorf("webhook: decode: %v", err)
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.received = append(w.received, msg.Alerts...)
		w.mu.Unlock()
		select {
		case w.arrived <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) all() []alert {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]alert(nil), w.received...)
}

// await returns the first received alert matching ok, failing the test when
// ctx ends first.
func (w *webhook) await(ctx context.Context, t *testing.T, what string, ok func(alert) bool) alert {
	t.Helper()
	for {
		for _, a := range w.all() {
			if ok(a) {
				return a
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s notification before the deadline; received: %+v", what, w.all())
		case <-w.arrived:
		case <-time.After(time.Second):
		}
	}
}
