package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/hungserver"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/robfig/cron/v3"
)

// The daemon runs a cycle, serves its metrics, health and readiness, and
// stops cleanly when its context ends (SIGTERM).
func TestDaemonServesAndShutsDown(t *testing.T) {
	prom, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Close()
	now := time.Now().Truncate(time.Minute)
	for _, s := range fleet.FleetSeries(fleet.DefaultFleet(now), fleet.Honor, now.Add(-2*time.Hour), now.Add(time.Hour), fleet.Scrape{}) {
		if err := prom.Append(s.Labels, s.Times, s.Values); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Prometheus.URL = "http://unused.invalid"
	cfg.Schedule = "@every 1h"
	cyc, err := cycle.New(cfg, cycle.Deps{API: prom, Metrics: metrics.New(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	sched, err := cron.ParseStandard(cfg.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{cycle: cyc, log: slog.New(slog.DiscardHandler), schedule: sched, onStart: true}
	go func() { done <- d.serve(ctx, ln, cfg) }()

	var body string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		body = get(t, base+"/metrics")
		if strings.Contains(body, `miner_detector_cycles_total{result="success"} 1`) {
			break
		}
	}
	for _, want := range []string{
		`miner_detector_cycles_total{result="success"} 1`,
		`miner_detector_suspect_pod{namespace="team-a",node="gpu-node-1",pod="batch-worker-5c7d9f8b6-x2k4q",shared="false"} 1`,
		`miner_detector_pods{verdict="benign"}`,
		`miner_detector_actions_total{kind="record",result="skipped"} 7`, // no cluster access: logged, not recorded
		"miner_detector_last_success_timestamp_seconds",
		`miner_detector_suspect_pod_strikes{namespace="team-a",pod="batch-worker-5c7d9f8b6-x2k4q"} 1`,
		`miner_detector_deletions_capped 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s\n%s", want, grepLines(body, "miner_detector_"))
		}
	}
	if got := get(t, base+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	if got := get(t, base+"/readyz"); got != "ready: leader\n" {
		t.Errorf("/readyz = %q", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after shutdown", err)
		}
	case <-time.After(shutdownGrace + 10*time.Second):
		t.Fatal("daemon did not stop")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("HTTP server still answering after shutdown")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A dependency that accepts and never answers (here Slack) no longer blocks
// every later tick: each cycle ends at cycleTimeout, counts as failed, and
// the next tick runs.
func TestDaemonNextTickRunsAfterAHungCycle(t *testing.T) {
	prom, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Close()
	now := time.Now().Truncate(time.Minute)
	for _, s := range fleet.FleetSeries(fleet.DefaultFleet(now), fleet.Honor, now.Add(-2*time.Hour), now.Add(time.Hour), fleet.Scrape{}) {
		if err := prom.Append(s.Labels, s.Times, s.Values); err != nil {
			t.Fatal(err)
		}
	}
	hung := hungserver.Start(t)
	cfg := config.Default()
	cfg.Prometheus.URL = "http://unused.invalid"
	cfg.Schedule = "@every 3s"
	cfg.CycleTimeout = config.Duration(time.Second)
	cfg.Slack.Token, cfg.Slack.Channel, cfg.Slack.APIURL = "xoxb-test", "#gpu", hung.URL+"/api/"
	cfg.Slack.Timeout = config.Duration(time.Hour) // only the cycle deadline ends the post
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	cyc, err := cycle.New(cfg, cycle.Deps{API: prom, Metrics: m, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := cron.ParseStandard(cfg.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int64
	d := &daemon{cycle: cyc, log: slog.New(slog.DiscardHandler), schedule: sched, onStart: true, ran: func(time.Time) { ran.Add(1) }}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		d.lead(ctx, context.WithoutCancel(ctx))
	}()
	for limit := time.Now().Add(60 * time.Second); ran.Load() < 3 && time.Now().Before(limit); {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-stopped
	if n := ran.Load(); n < 3 {
		t.Fatalf("%d cycles started in a minute on a 3 s schedule: a hung Slack post blocks later ticks", n)
	}
	if failed := testutil.ToFloat64(m.CyclesCounter(metrics.ResultFailed)); failed < 2 {
		t.Fatalf("failed cycles = %v, want every cycle that hit the deadline counted", failed)
	}
	if hung.Accepted() == 0 {
		t.Fatal("Slack was never called")
	}
}
