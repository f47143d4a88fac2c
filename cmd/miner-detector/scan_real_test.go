package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/promtest"
)

// scan --output json --at T --window 6h against a real Prometheus 2.x holding
// the simulated fleet (written apart from the detector), scraped every 30 s
// behind a ServiceMonitor that does not honor labels, with a scrape gap and
// bad samples: every pod's verdict and numbers match a direct computation
// over the samples written.
func TestScanRealPrometheusMatchesDirectComputation(t *testing.T) {
	end := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	const window, interval = 6 * time.Hour, 30 * time.Second
	pods := fleet.DefaultFleet(end)
	scrape := fleet.Scrape{
		Interval: interval,
		Gaps:     []fleet.Range{{From: end.Add(-3 * time.Hour), To: end.Add(-3*time.Hour + 25*time.Minute)}},
		Bad: []fleet.BadValue{
			{At: end.Add(-time.Hour), Value: math.NaN()},
			{At: end.Add(-2 * time.Hour), Value: 150},
			{At: end, Value: -1}, // on the window's last boundary
		},
	}
	var om bytes.Buffer
	if err := fleet.WriteOpenMetrics(&om, fleet.FleetSeries(pods, fleet.Exported, end.Add(-window-time.Hour), end.Add(time.Hour), scrape)...); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, om.Bytes())

	var stdout, stderr bytes.Buffer
	args := []string{"scan", "--prometheus-url", srv.URL, "--window", "6h", "--at", end.Format(time.RFC3339),
		"--output", "json", "--kubeconfig", "", "--log-level", "warn"}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("scan: %v\n%s", err, stderr.String())
	}
	var got cycle.JSONResult
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("scan output is not JSON: %v\n%s", err, stdout.String())
	}
	if got.Window != "6h" || !got.At.Equal(end) || got.ScrapeInterval != "30s" || len(got.Warnings) != 0 {
		t.Fatalf("header: window %s at %s interval %s warnings %v", got.Window, got.At, got.ScrapeInterval, got.Warnings)
	}

	pods2 := map[string]cycle.JSONPod{}
	for _, p := range got.Pods {
		pods2[p.Namespace+"/"+p.Pod] = p
	}
	expected := int64(window / interval)
	rule := analyzer.DefaultConfig().FlatHighUtil
	badSeen := int64(0)
	for _, p := range pods {
		if p.Name == "" {
			continue
		}
		jp, ok := pods2[p.Key()]
		if !ok {
			t.Errorf("pod %s missing from scan output", p.Key())
			continue
		}
		delete(pods2, p.Key())
		want := analyzer.Benign
		for _, g := range p.GPUs {
			ts, vs := fleet.Samples(p, g, end.Add(-window), end, scrape)
			var in []float64
			for i, t0 := range ts {
				if t0.After(end.Add(-window)) {
					in = append(in, vs[i])
				}
			}
			m, bad := analyzer.MomentsOf(in, 0, 100)
			var jg *cycle.JSONGPU
			for i := range jp.GPUs {
				if jp.GPUs[i].UUID == g.UUID {
					jg = &jp.GPUs[i]
				}
			}
			if jg == nil {
				t.Errorf("%s: GPU %s missing", p.Key(), g.UUID)
				continue
			}
			badSeen += jg.BadSamples
			if jg.Samples != m.Count || jg.BadSamples != bad || jg.ExpectedSamples != expected ||
				!near(jg.Mean, m.Mean) || !near(jg.StdDev, m.StdDev()) || jg.Min != m.Min || jg.Max != m.Max {
				t.Errorf("%s GPU %s: scan %d samples (%d bad) mean %.9f stddev %.9f min %v max %v; direct %d (%d bad) mean %.9f stddev %.9f min %v max %v",
					p.Key(), g.Index, jg.Samples, jg.BadSamples, jg.Mean, jg.StdDev, jg.Min, jg.Max, m.Count, bad, m.Mean, m.StdDev(), m.Min, m.Max)
			}
			v := analyzer.Benign
			switch {
			case m.Count == 0 || float64(m.Count)/float64(expected) < 0.8:
				v = analyzer.InsufficientData
			case m.Mean > rule.MeanAbove && m.StdDev() < rule.StdDevBelow:
				v = analyzer.Miner
			}
			if jg.Verdict != v {
				t.Errorf("%s GPU %s: verdict %s, direct %s", p.Key(), g.Index, jg.Verdict, v)
			}
			if v.Severity() > want.Severity() {
				want = v
			}
		}
		if jp.Verdict != want {
			t.Errorf("%s: verdict %s, direct %s", p.Key(), jp.Verdict, want)
		}
	}
	for k := range pods2 {
		t.Errorf("scan reports pod %s that the fleet does not have (an exporter taken for a workload?)", k)
	}
	if badSeen == 0 {
		t.Error("no bad sample reached the scan: the test lost its bad values")
	}
	if len(got.UnattributedGPUs) != 3 {
		t.Errorf("%d unattributed GPUs, want the 3 podless GPUs of gpu-node-3", len(got.UnattributedGPUs))
	}
	// The old rule's miners with full history are judged miners.
	for _, k := range []string{"team-a/batch-worker-5c7d9f8b6-x2k4q", "free-notebooks/jupyter-alice", "team-b/ddp-train-0", "team-c/notebook-0"} {
		if p := findJSONPod(got, k); p == nil || p.Verdict != analyzer.Miner {
			t.Errorf("%s not judged a miner", k)
		}
	}
	for _, k := range []string{"ml-research/llama-finetune-0", "team-d/notebook-0", "serving/sd-inference-6b8d7c9f5-q7w2e"} {
		if p := findJSONPod(got, k); p == nil || p.Verdict != analyzer.Benign {
			t.Errorf("%s not judged benign", k)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func findJSONPod(r cycle.JSONResult, key string) *cycle.JSONPod {
	for i, p := range r.Pods {
		if p.Namespace+"/"+p.Pod == key {
			return &r.Pods[i]
		}
	}
	return nil
}
