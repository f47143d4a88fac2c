package fleet

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGrid(t *testing.T) {
	tests := []struct {
		name      string
		scrape    Scrape
		from, to  time.Time
		wantFirst time.Time
		wantLen   int
	}{
		{"15s aligned, both ends kept", Scrape{}, testEnd.Add(-time.Minute), testEnd, testEnd.Add(-time.Minute), 5},
		{"15s unaligned start", Scrape{}, testEnd.Add(-time.Minute + time.Second), testEnd, testEnd.Add(-45 * time.Second), 4},
		{"30s", Scrape{Interval: 30 * time.Second}, testEnd.Add(-time.Hour), testEnd, testEnd.Add(-time.Hour), 121},
		{"phase 7s", Scrape{Phase: 7 * time.Second}, testEnd.Add(-time.Minute), testEnd, testEnd.Add(-53 * time.Second), 4},
		{"phase larger than interval", Scrape{Phase: 22 * time.Second}, testEnd.Add(-time.Minute), testEnd, testEnd.Add(-53 * time.Second), 4},
		{"before 1970", Scrape{}, time.Unix(-31, 0), time.Unix(0, 0), time.Unix(-30, 0), 3},
		{"empty", Scrape{}, testEnd, testEnd.Add(-time.Second), time.Time{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.scrape.Grid(tc.from, tc.to)
			if len(ts) != tc.wantLen {
				t.Fatalf("len = %d, want %d", len(ts), tc.wantLen)
			}
			if len(ts) == 0 {
				return
			}
			if !ts[0].Equal(tc.wantFirst) {
				t.Errorf("first = %s, want %s", ts[0], tc.wantFirst)
			}
			for i := 1; i < len(ts); i++ {
				if d := ts[i].Sub(ts[i-1]); d != tc.scrape.interval() {
					t.Fatalf("step %d = %v, want %v", i, d, tc.scrape.interval())
				}
			}
		})
	}
}

func TestSamplesLifetimeGapsAndBadValues(t *testing.T) {
	p := Pod{Namespace: "ns", Name: "p", Node: "n", Profile: SteadyMiner(),
		Start: testEnd.Add(-10 * time.Minute), End: testEnd.Add(-time.Minute)}
	g := GPU("n", "0")
	s := Scrape{
		Gaps: []Range{{From: testEnd.Add(-5 * time.Minute), To: testEnd.Add(-4 * time.Minute)}},
		Bad: []BadValue{
			{At: testEnd.Add(-9 * time.Minute), Value: math.NaN()},
			{At: testEnd.Add(-8 * time.Minute), Value: -1},
			{At: testEnd.Add(-7 * time.Minute), Value: 150},
			{At: testEnd.Add(-4*time.Minute - 30*time.Second), Value: 150}, // inside the gap: dropped
			{At: testEnd.Add(-7*time.Minute + time.Second), Value: 150},    // off the grid: ignored
		},
	}
	ts, v := Samples(p, g, testEnd.Add(-time.Hour), testEnd, s)
	// [end-10m, end-1m) at 15 s is 36 samples, minus 4 in the gap.
	if len(ts) != 32 || len(v) != 32 {
		t.Fatalf("got %d times and %d values, want 32", len(ts), len(v))
	}
	if !ts[0].Equal(p.Start) || !ts[len(ts)-1].Equal(p.End.Add(-15*time.Second)) {
		t.Errorf("samples span %s..%s, want %s..%s", ts[0], ts[len(ts)-1], p.Start, p.End.Add(-15*time.Second))
	}
	var nan, neg, over int
	for i, x := range v {
		switch {
		case math.IsNaN(x):
			nan++
		case x == -1:
			neg++
		case x == 150:
			over++
		case x != p.Profile.At(g.Seed(), ts[i]):
			t.Errorf("sample at %s = %v, want the profile's %v", ts[i], x, p.Profile.At(g.Seed(), ts[i]))
		}
		if !inGap(ts[i], s.Gaps) {
			continue
		}
		t.Errorf("sample at %s lies in a gap", ts[i])
	}
	if nan != 1 || neg != 1 || over != 1 {
		t.Errorf("bad values: %d NaN, %d -1, %d 150; want one each", nan, neg, over)
	}
}

func TestFleetSeriesSkipsPodsWithoutSamples(t *testing.T) {
	pods := DefaultFleet(testEnd)
	// Before the young pod started: every GPU but its one has a series.
	all := 0
	for _, p := range pods {
		all += len(p.GPUs)
	}
	series := FleetSeries(pods, Honor, testEnd.Add(-time.Hour), testEnd.Add(-11*time.Minute), Scrape{})
	if len(series) != all-1 {
		t.Fatalf("got %d series, want %d", len(series), all-1)
	}
	for _, s := range series {
		if s.Labels["pod"] == "jupyter-mallory" {
			t.Errorf("series of jupyter-mallory before it started: %v", s.Labels)
		}
		if len(s.Times) != 197 {
			t.Errorf("series %v has %d samples, want 197", s.Labels, len(s.Times))
		}
	}
}

// A profile is a function of seed and time: sampling at another interval or
// window sees the same values at the same times.
func TestSamplesAgreeAcrossGrids(t *testing.T) {
	p := DefaultFleet(testEnd)[2]
	g := p.GPUs[0]
	ts15, v15 := Samples(p, g, testEnd.Add(-time.Hour), testEnd, Scrape{Interval: 15 * time.Second})
	ts30, v30 := Samples(p, g, testEnd.Add(-2*time.Hour), testEnd, Scrape{Interval: 30 * time.Second})
	at := map[time.Time]float64{}
	for i, ts := range ts15 {
		at[ts] = v15[i]
	}
	matched := 0
	for i, ts := range ts30 {
		if v, ok := at[ts]; ok {
			matched++
			if v != v30[i] {
				t.Fatalf("value at %s: %v at 15s, %v at 30s", ts, v, v30[i])
			}
		}
	}
	if matched < 100 {
		t.Fatalf("only %d shared timestamps", matched)
	}
}

// seriesKey is a series' identity without its metric name: every metric of
// one GPU (or MIG instance) shares it.
func seriesKey(labels map[string]string) string {
	l := maps.Clone(labels)
	delete(l, "__name__")
	return labelBlock(l)
}

// Without Scrape.Metrics, FleetSeries emits utilization alone, exactly as
// Samples computes it, and no series at all for MIG instances.
func TestFleetSeriesDefaultsToUtilization(t *testing.T) {
	pods := LabelledFleet(testEnd)
	from := testEnd.Add(-time.Hour)
	def := FleetSeries(pods, Honor, from, testEnd, Scrape{})
	explicit := FleetSeries(pods, Honor, from, testEnd, Scrape{Metrics: []string{MetricGPUUtil}})
	if len(def) != len(explicit) {
		t.Fatalf("%d series by default, %d asking for GPU_UTIL", len(def), len(explicit))
	}
	i := 0
	for _, p := range pods {
		for _, g := range p.GPUs {
			ts, v := Samples(p, g, from, testEnd, Scrape{})
			if g.MIG != nil || len(ts) == 0 {
				if len(ts) != 0 && g.MIG != nil {
					t.Errorf("%s MIG %s: Samples returned %d utilization samples", p.Key(), g.MIG.GPUInstanceID, len(ts))
				}
				continue
			}
			s := def[i]
			i++
			if s.Labels["__name__"] != MetricGPUUtil || !maps.Equal(s.Labels, Labels(p, g, Honor)) {
				t.Errorf("series %d: labels %v, want %v", i, s.Labels, Labels(p, g, Honor))
			}
			if !slicesEqual(s.Values, v) || !slicesEqual(s.Values, explicit[i-1].Values) {
				t.Errorf("%s GPU %s: FleetSeries and Samples disagree", p.Key(), g.Index)
			}
		}
	}
	// After the GPUs' own series come the forger's (TestForgedSeries), the
	// fleet's last pod.
	if last := pods[len(pods)-1]; i+len(ForgedSeries(last, from, testEnd, Scrape{})) != len(def) {
		t.Errorf("%d series, %d expected", len(def), i)
	}
}

// With every metric asked for, each GPU gets one series per metric its
// exporter publishes, all on the same times and with the same labels but
// __name__; the values are the profile's.
func TestFleetSeriesAllMetrics(t *testing.T) {
	pods := LabelledFleet(testEnd)
	from := testEnd.Add(-time.Hour)
	series := FleetSeries(pods, Exported, from, testEnd, Scrape{Metrics: AllMetrics()})
	byGPU := map[string]map[string]Series{}
	forged := 0
	for _, s := range series {
		if s.Labels["job"] == ForgerJob {
			forged++ // the forger's, checked in TestForgedSeries
			continue
		}
		k := seriesKey(s.Labels)
		if byGPU[k] == nil {
			byGPU[k] = map[string]Series{}
		}
		if _, dup := byGPU[k][s.Labels["__name__"]]; dup {
			t.Fatalf("%s %s emitted twice", k, s.Labels["__name__"])
		}
		byGPU[k][s.Labels["__name__"]] = s
	}
	gpus := 0
	for _, p := range pods {
		for _, g := range p.GPUs {
			k := seriesKey(Labels(p, g, Exported))
			got := byGPU[k]
			if len(sampleTimes(p, from, testEnd, Scrape{})) == 0 {
				if got != nil {
					t.Errorf("%s: series outside the pod's life", p.Key())
				}
				continue
			}
			gpus++
			var want []string
			switch {
			case g.NoProfiling:
				want = []string{MetricGPUUtil, MetricPower, MetricMemCopyUtil, MetricPCIeTxThroughput, MetricPCIeRxThroughput, MetricNVLinkBandwidthTotal}
			case g.MIG != nil:
				want = slices.DeleteFunc(ProfilingMetrics(), physicalOnly)
			default:
				want = AllMetrics()
			}
			if !reportsGPM(g.Model) { // the integer pipe and tensor subtypes: Hopper and newer only
				want = slices.DeleteFunc(want, gpmOnly)
			}
			if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, slices.Sorted(slices.Values(want))) {
				t.Errorf("%s GPU %s: metrics %v, want %v", p.Key(), g.Index, names, want)
				continue
			}
			ref := got[want[0]]
			for _, m := range want {
				s := got[m]
				if !slices.EqualFunc(s.Times, ref.Times, time.Time.Equal) {
					t.Errorf("%s GPU %s: %s and %s on different times", p.Key(), g.Index, m, want[0])
				}
				if l := maps.Clone(s.Labels); l["__name__"] != m {
					t.Errorf("%s: __name__ %q", m, l["__name__"])
				}
				if g.MIG != nil || (m == MetricNVLinkTxBytes || m == MetricNVLinkRxBytes || m == MetricNVLinkBandwidthTotal) && len(p.GPUs) == 1 {
					continue // adjusted for the fleet: see the MIG and NVLink tests
				}
				for i, ts := range s.Times {
					if v, _ := p.ProfileOf(g).Value(m, g.Seed(), ts); v != s.Values[i] {
						t.Fatalf("%s GPU %s %s at %s: %v, profile says %v", p.Key(), g.Index, m, ts, s.Values[i], v)
					}
				}
			}
		}
	}
	if len(byGPU) != gpus || forged == 0 {
		t.Errorf("series for %d GPUs, want %d; %d forged series, want the forger's", len(byGPU), gpus, forged)
	}
}

// NVLink carries traffic only between GPUs of one pod: the 4-GPU
// pretraining shows all-reduce traffic, the single-GPU fine-tune none.
func TestFleetSeriesNVLinkNeedsPeers(t *testing.T) {
	pods := LabelledFleet(testEnd)
	series := FleetSeries(pods, Honor, testEnd.Add(-time.Hour), testEnd, Scrape{Metrics: []string{MetricNVLinkTxBytes, MetricNVLinkRxBytes}})
	seen := map[string]int{}
	for _, s := range series {
		mean, _ := moments(s.Values)
		switch pod := s.Labels["pod"]; pod {
		case "llm-pretrain-0", "resnet-train-0":
			seen[pod]++
			if mean < 1e9 {
				t.Errorf("%s GPU %s %s: mean %.3g B/s, want all-reduce traffic >= 1 GB/s", pod, s.Labels["gpu"], s.Labels["__name__"], mean)
			}
		case "finetune-7b-0", "lora-tune-0":
			seen[pod]++
			if mean != 0 {
				t.Errorf("%s %s: mean %.3g B/s, want 0 without peers", pod, s.Labels["__name__"], mean)
			}
		}
	}
	if seen["llm-pretrain-0"] != 8 || seen["resnet-train-0"] != 4 || seen["finetune-7b-0"] != 2 || seen["lora-tune-0"] != 2 {
		t.Errorf("NVLink series per pod: %v", seen)
	}
}

// A GPU whose exporter has no profiling module publishes utilization and
// power only, whatever is asked for.
func TestFleetSeriesNoProfiling(t *testing.T) {
	g := GPU("n", "0")
	g.NoProfiling = true
	p := Pod{Namespace: "ns", Name: "p", Node: "n", Profile: FlatTraining(), GPUs: []GPUSpec{g}}
	series := FleetSeries([]Pod{p}, Honor, testEnd.Add(-10*time.Minute), testEnd, Scrape{Metrics: AllMetrics()})
	var names []string
	for _, s := range series {
		names = append(names, s.Labels["__name__"])
	}
	if want := []string{MetricGPUUtil, MetricPower, MetricMemCopyUtil, MetricPCIeTxThroughput, MetricPCIeRxThroughput, MetricNVLinkBandwidthTotal}; !slices.Equal(names, want) {
		t.Errorf("metrics %v, want the device-level fields only: %v", names, want)
	}
	if series := FleetSeries([]Pod{p}, Honor, testEnd.Add(-10*time.Minute), testEnd, Scrape{Metrics: ProfilingMetrics()[:5]}); len(series) != 0 {
		t.Errorf("%d series for profiling metrics alone, want none", len(series))
	}
}

// Unknown names and repeats in Scrape.Metrics are skipped; an empty,
// non-nil list asks for nothing.
func TestFleetSeriesMetricsList(t *testing.T) {
	p := Pod{Namespace: "ns", Name: "p", Node: "n", Profile: SteadyMiner(), GPUs: []GPUSpec{GPU("n", "0")}}
	from := testEnd.Add(-10 * time.Minute)
	tests := []struct {
		metrics []string
		want    []string
	}{
		{nil, []string{MetricGPUUtil}},
		{[]string{}, nil},
		{[]string{"bogus", MetricPower, MetricPower, MetricSMActive}, []string{MetricPower, MetricSMActive}},
		{[]string{MetricTensorActive, MetricGPUUtil}, []string{MetricTensorActive, MetricGPUUtil}},
	}
	for _, tc := range tests {
		var got []string
		for _, s := range FleetSeries([]Pod{p}, Honor, from, testEnd, Scrape{Metrics: tc.metrics}) {
			got = append(got, s.Labels["__name__"])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Metrics %q: series %v, want %v", tc.metrics, got, tc.want)
		}
	}
}

// Bad values land in the series of their metric only; Metric "" is
// utilization, as before the field existed. Series do not share their
// time slices.
func TestFleetSeriesBadValuesPerMetric(t *testing.T) {
	p := Pod{Namespace: "ns", Name: "p", Node: "n", Profile: SteadyMiner(), GPUs: []GPUSpec{GPU("n", "0")}}
	at := testEnd.Add(-5 * time.Minute)
	s := Scrape{
		Metrics: []string{MetricGPUUtil, MetricTensorActive, MetricPower},
		Bad:     []BadValue{{At: at, Value: 150}, {At: at, Value: math.NaN(), Metric: MetricTensorActive}},
	}
	series := FleetSeries([]Pod{p}, Honor, testEnd.Add(-10*time.Minute), testEnd, s)
	if len(series) != 3 {
		t.Fatalf("%d series, want 3", len(series))
	}
	for _, sr := range series {
		i := slices.IndexFunc(sr.Times, at.Equal)
		v := sr.Values[i]
		switch name := sr.Labels["__name__"]; name {
		case MetricGPUUtil:
			if v != 150 {
				t.Errorf("%s at %s = %v, want 150", name, at, v)
			}
		case MetricTensorActive:
			if !math.IsNaN(v) {
				t.Errorf("%s at %s = %v, want NaN", name, at, v)
			}
		default:
			if want, _ := p.Profile.Value(name, p.GPUs[0].Seed(), at); v != want {
				t.Errorf("%s at %s = %v, want the profile's %v", name, at, v, want)
			}
		}
	}
	series[0].Times[0] = time.Time{}
	if series[1].Times[0].IsZero() {
		t.Error("two series share one Times slice")
	}
}

// A forger's series are the claimed GPU's, as Prometheus stores a tenant
// target's without honor_labels: the claim in exported_*, the forger in
// namespace/pod, the annotation job; the same in both exporter layouts, on
// the forger's own life, and with the claimed profile's values.
func TestForgedSeries(t *testing.T) {
	victim := Pod{Namespace: "ml-research", Name: "train-0", Container: "trainer", Node: "n1", Profile: SteadyMiner(), GPUs: []GPUSpec{GPU("n1", "0")}}
	forger := Pod{Namespace: "free-notebooks", Name: "forger-0", Container: "notebook", Node: "n1", Forges: &victim,
		Start: testEnd.Add(-30 * time.Minute)}
	from := testEnd.Add(-time.Hour)
	for _, layout := range []Layout{Honor, Exported} {
		series := FleetSeries([]Pod{forger}, layout, from, testEnd, Scrape{Metrics: []string{MetricGPUUtil, MetricTensorActive}})
		if len(series) != 2 {
			t.Fatalf("%s: %d series, want 2 (utilization and tensor)", layout, len(series))
		}
		for _, s := range series {
			l := s.Labels
			if l["exported_namespace"] != "ml-research" || l["exported_pod"] != "train-0" || l["exported_container"] != "trainer" ||
				l["namespace"] != "free-notebooks" || l["pod"] != "forger-0" || l["job"] != ForgerJob ||
				l["UUID"] != victim.GPUs[0].UUID || l["gpu"] != "0" || !strings.HasSuffix(l["instance"], ":8000") {
				t.Errorf("%s: forged labels %v", layout, l)
			}
			if len(s.Times) == 0 || s.Times[0].Before(forger.Start) {
				t.Errorf("%s: forged samples from %v, want within the forger's life from %v", layout, s.Times[0], forger.Start)
			}
			if s.Labels["__name__"] == MetricGPUUtil {
				if v, _ := victim.Profile.Value(MetricGPUUtil, victim.GPUs[0].Seed(), s.Times[0]); v != s.Values[0] {
					t.Errorf("%s: forged utilization %v, the claimed profile says %v", layout, s.Values[0], v)
				}
			}
		}
	}
}
