package promquery_test

import (
	"bytes"
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/promtest"
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
	series := profilingFleet()
	for _, s := range series {
		if err := prom.Append(s.Labels, s.Times, s.Values); err != nil {
			t.Fatal(err)
		}
	}
	checkProfilingRead(t, prom, exporterSeries(series), promquery.SemanticsAuto, promquery.LeftOpen)
}

// The same on a real Prometheus 2.x, whose closed range selectors would
// count a sample on the window's start twice over were the window-level
// statistics not read over a range one millisecond shorter.
func TestReadProfilingSignalsRealPrometheus(t *testing.T) {
	series := profilingFleet()
	var om bytes.Buffer
	if err := fleet.WriteOpenMetrics(&om, series...); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, om.Bytes())
	api, err := promquery.NewClient(promquery.Connection{URL: srv.URL, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkProfilingRead(t, api, exporterSeries(series), promquery.SemanticsAuto, promquery.Closed)
}

const profilingWindow = time.Hour

// profilingFleet is the labelled fleet, every metric, on the 15 s grid that
// puts a sample on the window's start: the series to store, its forger's
// included.
func profilingFleet() []fleet.Series {
	return fleet.FleetSeries(fleet.LabelledFleet(readEnd), fleet.Honor, readEnd.Add(-profilingWindow-time.Hour), readEnd,
		fleet.Scrape{Metrics: fleet.AllMetrics()})
}

// exporterSeries are the series the reader must read exactly: all but the
// forger's, which it rightly leaves out (real_scrape_test.go covers those).
func exporterSeries(series []fleet.Series) []fleet.Series {
	return slices.DeleteFunc(slices.Clone(series), func(s fleet.Series) bool { return s.Labels["job"] == fleet.ForgerJob })
}

// checkProfilingRead reads the window with the given semantics setting and
// compares every series' sum of samples with the samples written.
func checkProfilingRead(t *testing.T, api promquery.API, series []fleet.Series, set, sem promquery.Semantics) {
	t.Helper()
	const window = profilingWindow
	want := map[string]map[analyzer.Signal]float64{} // "gpu key|pod" -> signal -> sum of samples in window
	metricSignal := map[string]analyzer.Signal{fleet.MetricGPUUtil: analyzer.SignalUtil}
	for sig, m := range promquery.DefaultProfilingMetrics() {
		metricSignal[m] = sig
	}
	for _, s := range series {
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
	cfg := promquery.DefaultConfig()
	cfg.RangeSemantics = set
	r, err := promquery.NewReader(api, cfg, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Read(context.Background(), readEnd, window)
	if err != nil || len(res.Warnings) > 0 {
		t.Fatalf("read: %v %v", err, res.Warnings)
	}
	if res.Semantics != sem {
		t.Fatalf("range semantics %s, want %s", res.Semantics, sem)
	}
	windowed := 0
	for _, f := range res.Profiling {
		if f.Windowed {
			windowed++
		} else if f.Signal != analyzer.SignalGREngine || f.Part != "MIG instances" {
			t.Errorf("%s (%s) read per chunk, want window-level", f.Signal, f.Part)
		}
	}
	// The graphics engine of MIG instances is read per chunk under both of
	// its names (DCGM 4.6's and the old one).
	if windowed != len(res.Profiling)-2 {
		t.Errorf("%d of %d profiling reads window-level, want all but the graphics engine of MIG instances", windowed, len(res.Profiling))
	}
	// The graphics engine is read twice: per chunk for MIG instances,
	// window-level for whole GPUs; every DCGM 4.6 name is read beside the
	// old one.
	reads := len(promquery.DefaultProfilingMetrics()) + 2
	for _, names := range promquery.DefaultProfilingAliases() {
		reads += len(names)
	}
	if len(res.Profiling) != reads {
		t.Errorf("%d profiling reads, want %d", len(res.Profiling), reads)
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
	// The window-level families come in the default three segments, each
	// ending on the segment grid: the analyzer judges a spared GPU again on
	// each (their sums above are the window's, exactly).
	if want := window / promquery.DefaultSegments; res.Input.Segment != want {
		t.Errorf("segment %v, want %v", res.Input.Segment, want)
	}
	segmented := 0
	for _, s := range res.Input.Series {
		if s.Signal == analyzer.SignalUtil || (s.Signal == analyzer.SignalGREngine && s.GPU.MIGInstance != "") {
			continue
		}
		if len(s.Chunks) > promquery.DefaultSegments {
			t.Errorf("%s of %s: %d chunks, want at most %d segments", s.Signal, s.GPU.UUID, len(s.Chunks), promquery.DefaultSegments)
		}
		for _, c := range s.Chunks {
			if d := readEnd.Sub(c.End.Time()); d < 0 || d%res.Input.Segment != 0 {
				t.Errorf("%s of %s: chunk ends at %s, off the segment grid", s.Signal, s.GPU.UUID, c.End.Time())
			}
		}
		if len(s.Chunks) == promquery.DefaultSegments {
			segmented++
		}
	}
	if segmented == 0 {
		t.Error("no profiling series read in segments")
	}
}

// SegmentFor cuts the window into whole chunks, at most Segments of them.
func TestSegmentFor(t *testing.T) {
	for _, tc := range []struct {
		segments      int
		window, chunk time.Duration
		want          time.Duration
	}{
		{3, time.Hour, 10 * time.Minute, 20 * time.Minute},
		{3, time.Hour, 5 * time.Minute, 20 * time.Minute},
		{4, time.Hour, 10 * time.Minute, 20 * time.Minute}, // 6 chunks: 4 does not divide them, 3 does
		{4, time.Hour, 15 * time.Minute, 15 * time.Minute},
		{5, 50 * time.Minute, 10 * time.Minute, 10 * time.Minute},
		{4, 70 * time.Minute, 10 * time.Minute, 70 * time.Minute}, // 7 chunks: prime
		{5, time.Hour, 10 * time.Minute, 20 * time.Minute},
		{1, time.Hour, 10 * time.Minute, time.Hour},
		{0, time.Hour, 10 * time.Minute, time.Hour},
		{3, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute}, // one chunk: one segment
		{3, 24 * time.Hour, 15 * time.Minute, 8 * time.Hour},
		{3, 7 * time.Minute, 0, 7 * time.Minute},
	} {
		c := promquery.DefaultConfig()
		c.Segments = tc.segments
		if got := c.SegmentFor(tc.window, tc.chunk); got != tc.want {
			t.Errorf("segments %d, window %v, chunk %v: %v, want %v", tc.segments, tc.window, tc.chunk, got, tc.want)
		}
	}
}
