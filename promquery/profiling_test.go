package promquery_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/promquery"
)

// Every profiling metric is read into its own series, joined per GPU, with
// exactly the samples written: the *_over_time results of two metrics carry
// the same labels (the name is dropped), and must never merge. MIG instances
// arrive with their instance id and without a utilization series.
func TestReadProfilingSignals(t *testing.T) {
	prom, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Close()
	const window = time.Hour
	pods := fleet.LabelledFleet(readEnd)
	from := readEnd.Add(-window - time.Hour)
	want := map[string]map[analyzer.Signal]float64{} // "gpu key|pod" -> signal -> sum of samples in window
	metricSignal := map[string]analyzer.Signal{fleet.MetricGPUUtil: analyzer.SignalUtil}
	for sig, m := range promquery.DefaultProfilingMetrics() {
		metricSignal[m] = sig
	}
	for _, s := range fleet.FleetSeries(pods, fleet.Honor, from, readEnd, fleet.Scrape{Metrics: fleet.AllMetrics()}) {
		if err := prom.Append(s.Labels, s.Times, s.Values); err != nil {
			t.Fatal(err)
		}
		key := s.Labels["UUID"] + "/" + s.Labels["GPU_I_ID"] + "|" + s.Labels["pod"]
		if want[key] == nil {
			want[key] = map[analyzer.Signal]float64{}
		}
		for i, ts := range s.Times {
			if ts.After(readEnd.Add(-window)) {
				want[key][metricSignal[s.Labels["__name__"]]] += s.Values[i]
			}
		}
	}
	r, err := promquery.NewReader(prom, promquery.DefaultConfig(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Read(context.Background(), readEnd, window)
	if err != nil || len(res.Warnings) > 0 {
		t.Fatalf("read: %v %v", err, res.Warnings)
	}
	if len(res.Profiling) != len(promquery.DefaultProfilingMetrics()) {
		t.Errorf("%d profiling families read, want %d", len(res.Profiling), len(promquery.DefaultProfilingMetrics()))
	}
	got := map[string]map[analyzer.Signal]float64{}
	migInstances := 0
	for _, s := range res.Input.Series {
		key := s.GPU.UUID + "/" + s.GPU.MIGInstance + "|" + s.Workload.Pod
		if got[key] == nil {
			got[key] = map[analyzer.Signal]float64{}
		}
		for _, c := range s.Chunks {
			got[key][s.Signal] += c.Mean * float64(c.Count)
		}
		if s.GPU.MIGInstance != "" && s.Signal == analyzer.SignalGREngine {
			migInstances++
			if s.GPU.MIGProfile == "" {
				t.Errorf("MIG instance %s without its profile label", s.GPU.MIGInstance)
			}
		}
		if s.GPU.MIGInstance != "" && s.Signal == analyzer.SignalUtil {
			t.Errorf("MIG instance %s has a utilization series", s.GPU.MIGInstance)
		}
	}
	if migInstances != 3 {
		t.Errorf("%d MIG instances with GR_ENGINE_ACTIVE, want 3", migInstances)
	}
	for key, sigs := range want {
		for sig, sum := range sigs {
			g := got[key][sig]
			if math.Abs(g-sum) > 1e-6*math.Max(1, math.Abs(sum)) {
				t.Errorf("%s %q: sum of samples %v, want %v", key, sig, g, sum)
			}
		}
		if len(got[key]) != len(sigs) {
			t.Errorf("%s: %d signals read, want %d", key, len(got[key]), len(sigs))
		}
	}
	if res.Queries() <= res.Plan.Queries() {
		t.Errorf("queries %d: profiling families not counted (utilization alone %d)", res.Queries(), res.Plan.Queries())
	}
}
