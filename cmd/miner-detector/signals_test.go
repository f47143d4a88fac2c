package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/counters"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/promtest"
)

// `signals` against a real Prometheus holding a fleet exported with the GPU
// Operator's default counters: every GPU has the tensor pipe and the
// graphics engine, none the FP32/FP64 pipes, so strong evidence is possible
// nowhere, and the lines to enable name them.
func TestSignalsOnTheGPUOperatorCounters(t *testing.T) {
	end := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	pods := fleet.DefaultFleet(end)
	var om bytes.Buffer
	scrape := fleet.Scrape{Metrics: fleet.GPUOperatorCounters.Metrics}
	if err := fleet.WriteOpenMetrics(&om, fleet.FleetSeries(pods, fleet.Honor, end.Add(-2*time.Hour), end, scrape)...); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, om.Bytes())
	base := []string{"signals", "--prometheus-url", srv.URL, "--at", end.Format(time.RFC3339), "--kubeconfig", "", "--log-level", "warn"}

	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append(base, "--output", "json"), &stdout, &stderr); err != nil {
		t.Fatalf("signals: %v\n%s", err, stderr.String())
	}
	var inv analyzer.Inventory
	if err := json.Unmarshal(stdout.Bytes(), &inv); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	if inv.GPUs == 0 || inv.StrongEvidence != 0 {
		t.Fatalf("%d GPUs, strong evidence possible on %d; want GPUs and none", inv.GPUs, inv.StrongEvidence)
	}
	// The young pod's GPU covers too little of the window to count.
	if n := inv.Signals[analyzer.SignalTensor]; n < inv.GPUs-1 || inv.Signals[analyzer.SignalFP32] != 0 || inv.Signals[analyzer.SignalSM] != 0 {
		t.Errorf("tensor on %d of %d GPUs, fp32 on %d, sm on %d", n, inv.GPUs, inv.Signals[analyzer.SignalFP32], inv.Signals[analyzer.SignalSM])
	}

	stdout.Reset()
	if err := run(context.Background(), base, &stdout, &stderr); err != nil {
		t.Fatalf("signals: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, s := range []analyzer.Signal{analyzer.SignalFP32, analyzer.SignalFP64, analyzer.SignalSM} {
		f, _ := counters.For(s)
		if !strings.Contains(out, f.Line()) {
			t.Errorf("output does not say to enable %s:\n%s", f.Name, out)
		}
	}
	if f, _ := counters.For(analyzer.SignalGREngine); strings.Contains(out, "  "+f.Line()) {
		t.Errorf("output asks to enable %s, which every GPU exports", f.Name)
	}
	if !strings.Contains(out, "Strong (deletable) evidence is possible on 0 of") {
		t.Errorf("output does not say strong evidence is impossible:\n%s", out)
	}
	if strings.Contains(out, "warning:") {
		t.Errorf("one exporter job and no forgery, yet a trust warning:\n%s", out)
	}
}

// `signals` over a fleet where a tenant's pod, scraped by an annotation job,
// serves a utilization series naming another pod's GPU: the table ends with
// a warning naming that job, and the JSON document stays the inventory,
// the warning on stderr.
func TestSignalsWarnsOfForgedTelemetry(t *testing.T) {
	end := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	series := fleet.FleetSeries(fleet.DefaultFleet(end), fleet.Honor, end.Add(-2*time.Hour), end, fleet.Scrape{})
	victim := series[0]
	forged := fleet.Series{Labels: maps.Clone(victim.Labels), Times: victim.Times, Values: victim.Values}
	forged.Labels["exported_namespace"], forged.Labels["exported_pod"] = victim.Labels["namespace"], victim.Labels["pod"]
	forged.Labels["namespace"], forged.Labels["pod"] = "free-notebooks", "forger-0"
	forged.Labels["job"], forged.Labels["instance"] = "kubernetes-pods", "10.244.9.9:8000"
	var om bytes.Buffer
	if err := fleet.WriteOpenMetrics(&om, append(series, forged)...); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, om.Bytes())
	base := []string{"signals", "--prometheus-url", srv.URL, "--at", end.Format(time.RFC3339), "--kubeconfig", "", "--log-level", "warn"}
	want := `warning: job "kubernetes-pods" served 1 label sets with dcgm-exporter metric names from targets that are not the exporter`

	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), base, &stdout, &stderr); err != nil {
		t.Fatalf("signals: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("table lacks the forgery warning %q:\n%s", want, stdout.String())
	}
	if strings.Contains(stdout.String(), "come from 2 jobs") {
		t.Errorf("the forging job counted as a second exporter job:\n%s", stdout.String())
	}

	stdout.Reset()
	stderr.Reset()
	if err := run(context.Background(), append(base, "--output", "json"), &stdout, &stderr); err != nil {
		t.Fatalf("signals --output json: %v\n%s", err, stderr.String())
	}
	var inv analyzer.Inventory
	if err := json.Unmarshal(stdout.Bytes(), &inv); err != nil {
		t.Fatalf("stdout is not the inventory: %v\n%s", err, stdout.String())
	}
	if inv.GPUs == 0 || !strings.Contains(stderr.String(), want) {
		t.Errorf("%d GPUs; stderr lacks the warning %q:\n%s", inv.GPUs, want, stderr.String())
	}
}

// `signals --csv` prints the recommended counters file without reading anything.
func TestSignalsCSV(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"signals", "--csv"}, &stdout, &stderr); err != nil {
		t.Fatalf("signals --csv: %v\n%s", err, stderr.String())
	}
	if stdout.String() != counters.CSV() {
		t.Errorf("signals --csv printed something else than the recommended file")
	}
}
