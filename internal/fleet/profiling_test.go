package fleet

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// metricValues reads metric of p on the default 15 s grid over [from, to].
func metricValues(t *testing.T, p Profile, metric string, seed uint64, from, to time.Time) []float64 {
	t.Helper()
	var out []float64
	for _, ts := range (Scrape{}).Grid(from, to) {
		v, ok := p.Value(metric, seed, ts)
		if !ok {
			t.Fatalf("%s: Value(%s) unknown", p.Name, metric)
		}
		out = append(out, v)
	}
	return out
}

type band struct{ lo, hi float64 }

// profileBands is where a profile's signals must lie over window: mean and
// sd bound the window's mean and stddev, each bounds every sample.
type profileBands struct {
	profile        Profile
	window         time.Duration
	mean, sd, each map[string]band
}

func (b band) has(v float64) bool { return v >= b.lo && v <= b.hi }

func (b band) String() string { return fmt.Sprintf("[%g, %g]", b.lo, b.hi) }

// Each profile's key signals land in the bands its doc comment promises,
// for several GPUs (seeds). mean and sd are over the window, each holds for
// every sample.
func TestProfilingBands(t *testing.T) {
	idlePipes := map[string]band{
		MetricTensorActive: {0, 0}, MetricFP64Active: {0, 0.01}, MetricFP32Active: {0, 0.01}, MetricFP16Active: {0, 0.01},
		MetricPCIeTxBytes: {0, 1e6}, MetricPCIeRxBytes: {0, 1e6}, MetricNVLinkTxBytes: {0, 0}, MetricNVLinkRxBytes: {0, 0},
	}
	with := func(a, b map[string]band) map[string]band {
		m := map[string]band{}
		for k, v := range a {
			m[k] = v
		}
		for k, v := range b {
			m[k] = v
		}
		return m
	}
	throttled := func(level float64) profileBands {
		return profileBands{ThrottledMiner(level), time.Hour,
			map[string]band{
				MetricGPUUtil: {level - 0.5, level + 0.5}, MetricSMActive: {level/100 - 0.03, level / 100},
				MetricGREngineActive: {level/100 - 0.01, level/100 + 0.01},
				MetricPower:          {56 + (370-60)*level/100, 60 + (395-52)*level/100},
			},
			map[string]band{MetricGPUUtil: {0, 1}, MetricPower: {0, 3}, MetricSMActive: {0, 0.02}},
			idlePipes}
	}
	tests := []profileBands{
		{SteadyMiner(), time.Hour,
			map[string]band{
				MetricGPUUtil: {99, 100}, MetricSMActive: {0.95, 1}, MetricDRAMActive: {0.1, 0.3},
				MetricPower: {365, 400},
			},
			map[string]band{MetricGPUUtil: {0, 1}, MetricPower: {0, 3}, MetricSMActive: {0, 0.02}},
			idlePipes},
		throttled(70),
		throttled(80),
		throttled(90),
		{MemoryHardMiner(), time.Hour,
			map[string]band{
				MetricGPUUtil: {99, 100}, MetricDRAMActive: {0.85, 0.95}, MetricSMActive: {0.5, 0.7},
				MetricPower: {245, 295},
			},
			map[string]band{MetricGPUUtil: {0, 1}, MetricPower: {0, 3}},
			with(idlePipes, map[string]band{MetricDRAMActive: {0.8, 1}})},
		{FlatTraining(), time.Hour,
			map[string]band{
				MetricGPUUtil: {95, 100}, MetricTensorActive: {0.25, 0.6}, MetricFP16Active: {0.05, 0.2},
				MetricSMActive: {0.8, 0.95}, MetricDRAMActive: {0.3, 0.6},
				MetricPCIeRxBytes: {30e6, 500e6}, MetricNVLinkTxBytes: {3e9, 11e9}, MetricNVLinkRxBytes: {3e9, 11e9},
				MetricPower: {320, 380},
			},
			map[string]band{MetricGPUUtil: {0, 2}, MetricPower: {4, 20}},
			map[string]band{
				MetricGPUUtil: {98, 100}, MetricTensorActive: {0.2, 0.65}, MetricFP64Active: {0, 0.01},
				MetricPCIeRxBytes: {10e6, 2e9}, MetricNVLinkTxBytes: {1e9, 20e9},
			}},
		{BurstyTraining(), time.Hour,
			map[string]band{
				MetricGPUUtil: {65, 90}, MetricTensorActive: {0.15, 0.45}, MetricPCIeRxBytes: {10e6, 500e6},
				MetricNVLinkTxBytes: {1e9, 10e9}, MetricPower: {200, 340},
			},
			map[string]band{MetricGPUUtil: {10, 50}, MetricTensorActive: {0.05, 0.3}, MetricPower: {20, 150}},
			map[string]band{MetricTensorActive: {0, 0.55}}},
		{Inference(), 24 * time.Hour,
			map[string]band{
				MetricGPUUtil: {15, 55}, MetricTensorActive: {0.05, 0.3}, MetricPCIeRxBytes: {5e6, 80e6},
				MetricPCIeTxBytes: {2e6, 40e6}, MetricPower: {90, 300},
			},
			map[string]band{MetricTensorActive: {0.005, 0.1}},
			map[string]band{
				MetricTensorActive: {0.05, 0.3}, MetricPCIeRxBytes: {1e6, 200e6}, MetricFP64Active: {0, 0},
				MetricNVLinkTxBytes: {0, 0}, MetricNVLinkRxBytes: {0, 0},
			}},
		{Idle(), time.Hour,
			map[string]band{MetricPower: {52, 60}},
			map[string]band{MetricPower: {0, 1.5}},
			map[string]band{
				MetricGPUUtil: {0, 0}, MetricGREngineActive: {0, 0}, MetricSMActive: {0, 0}, MetricTensorActive: {0, 0},
				MetricFP64Active: {0, 0}, MetricFP32Active: {0, 0}, MetricFP16Active: {0, 0}, MetricDRAMActive: {0, 0},
				MetricPCIeTxBytes: {0, 10e3}, MetricPCIeRxBytes: {0, 10e3}, MetricNVLinkTxBytes: {0, 0},
			}},
	}
	for _, tc := range tests {
		name := tc.profile.Name
		if tc.profile.Name == "throttled-miner" {
			name = fmt.Sprintf("%s-%v", name, tc.mean[MetricGPUUtil].hi-0.5)
		}
		t.Run(name, func(t *testing.T) {
			for _, seed := range []uint64{1, 2, 42, 1 << 60} {
				for _, m := range AllMetrics() {
					v := metricValues(t, tc.profile, m, seed, testEnd.Add(-tc.window), testEnd)
					mean, sd := moments(v)
					if b, ok := tc.mean[m]; ok && !b.has(mean) {
						t.Errorf("seed %d %s: mean %.4g, want in %v", seed, m, mean, b)
					}
					if b, ok := tc.sd[m]; ok && !b.has(sd) {
						t.Errorf("seed %d %s: stddev %.4g, want in %v", seed, m, sd, b)
					}
					if b, ok := tc.each[m]; ok {
						if lo, hi := slices.Min(v), slices.Max(v); !b.has(lo) || !b.has(hi) {
							t.Errorf("seed %d %s: samples in [%.4g, %.4g], want all in %v", seed, m, lo, hi, b)
						}
					}
				}
			}
		})
	}
}

// The case the profiling metrics exist for: flat training passes the old
// rule exactly like a miner, and only the tensor pipe (and the host and
// NVLink traffic) tell them apart.
func TestFlatTrainingFoolsTheOldRuleButNotTheTensorPipe(t *testing.T) {
	from := testEnd.Add(-time.Hour)
	for _, seed := range []uint64{3, 7, 99} {
		util, _ := moments(metricValues(t, FlatTraining(), MetricGPUUtil, seed, from, testEnd))
		_, utilSD := moments(metricValues(t, FlatTraining(), MetricGPUUtil, seed, from, testEnd))
		tensor, _ := moments(metricValues(t, FlatTraining(), MetricTensorActive, seed, from, testEnd))
		if !(util > 95 && utilSD < 2) || tensor <= 0.2 {
			t.Errorf("seed %d: util mean %.2f stddev %.2f, tensor mean %.3f; want > 95, < 2 and > 0.2", seed, util, utilSD, tensor)
		}
		for _, miner := range []Profile{SteadyMiner(), MemoryHardMiner()} {
			minerTensor, _ := moments(metricValues(t, miner, MetricTensorActive, seed, from, testEnd))
			if minerTensor >= 0.01 {
				t.Errorf("%s seed %d: tensor mean %.3f, want < 0.01", miner.Name, seed, minerTensor)
			}
		}
	}
}

// Every miner, whatever its algorithm or throttle, leaves the tensor and
// floating-point pipes idle and the host link quiet.
func TestMinersLeavePipesIdleAndHostQuiet(t *testing.T) {
	miners := []Profile{SteadyMiner(), MemoryHardMiner(), ThrottledMiner(50), ThrottledMiner(70), ThrottledMiner(80), ThrottledMiner(90)}
	limits := map[string]float64{
		MetricTensorActive: 0.01, MetricFP64Active: 0.01, MetricFP32Active: 0.01, MetricFP16Active: 0.01,
		MetricPCIeTxBytes: 1e6, MetricPCIeRxBytes: 1e6, MetricNVLinkTxBytes: 1, MetricNVLinkRxBytes: 1,
	}
	for _, p := range miners {
		for m, limit := range limits {
			for _, seed := range []uint64{5, 6} {
				if hi := slices.Max(metricValues(t, p, m, seed, testEnd.Add(-time.Hour), testEnd)); hi >= limit {
					t.Errorf("%s seed %d: %s reaches %g, want < %g", p.Name, seed, m, hi, limit)
				}
			}
		}
	}
}

// Signals follow utilization: the engine ratio is the utilization's, no SM
// is active without the engine, and in a training dip the tensor pipe
// empties while steps keep it at 0.2-0.5.
func TestSignalsFollowUtilization(t *testing.T) {
	for _, p := range []Profile{SteadyMiner(), ThrottledMiner(80), MemoryHardMiner(), FlatTraining(), BurstyTraining(), Inference(), Idle()} {
		for _, ts := range (Scrape{}).Grid(testEnd.Add(-time.Hour), testEnd) {
			util := p.At(9, ts)
			gr, _ := p.Value(MetricGREngineActive, 9, ts)
			sm, _ := p.Value(MetricSMActive, 9, ts)
			if math.Abs(gr-util/100) > 0.02 || sm > gr {
				t.Fatalf("%s at %s: util %v, engine %v, SM %v: want engine ≈ util/100 and SM <= engine", p.Name, ts, util, gr, sm)
			}
		}
	}

	p := BurstyTraining()
	var dips, steps int
	for _, seed := range []uint64{1, 2, 3} {
		for _, ts := range (Scrape{}).Grid(testEnd.Add(-time.Hour), testEnd) {
			tensor, _ := p.Value(MetricTensorActive, seed, ts)
			switch util := p.At(seed, ts); {
			case inBurstyDip(seed, ts):
				dips++
				if tensor >= 0.01 {
					t.Errorf("seed %d at %s: dip (util %v) with tensor %v, want < 0.01", seed, ts, util, tensor)
				}
			case util >= 80:
				steps++
				if tensor < 0.2 || tensor > 0.5 {
					t.Errorf("seed %d at %s: step (util %v) with tensor %v, want 0.2-0.5", seed, ts, util, tensor)
				}
			}
		}
	}
	if dips < 20 || steps < 300 {
		t.Errorf("%d dip and %d step samples: the test saw too few of either", dips, steps)
	}
}

// Inference's tensor pipe and PCIe traffic scale with its load.
func TestInferenceScalesWithLoad(t *testing.T) {
	from := testEnd.Add(-24 * time.Hour)
	util := metricValues(t, Inference(), MetricGPUUtil, 4, from, testEnd)
	for _, m := range []string{MetricTensorActive, MetricPCIeRxBytes, MetricPower} {
		if r := correlation(util, metricValues(t, Inference(), m, 4, from, testEnd)); r < 0.8 {
			t.Errorf("%s: correlation with utilization %.2f, want >= 0.8", m, r)
		}
	}
}

// Flat training reads its input in batches: every hour holds several
// shard prefetches at 300 MB/s or more.
func TestFlatTrainingInputBatches(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		bursts := 0
		for _, v := range metricValues(t, FlatTraining(), MetricPCIeRxBytes, seed, testEnd.Add(-time.Hour), testEnd) {
			if v >= 300e6 {
				bursts++
			}
		}
		if bursts < 10 {
			t.Errorf("seed %d: %d samples at >= 300 MB/s in an hour, want >= 10", seed, bursts)
		}
	}
}

// Value depends on (seed, t) only: reading metrics in any order, or one at
// a time, gives the same numbers, and utilization is At exactly.
func TestValueIsDeterministic(t *testing.T) {
	grid := (Scrape{}).Grid(testEnd.Add(-20*time.Minute), testEnd)
	for _, p := range []Profile{SteadyMiner(), ThrottledMiner(80), MemoryHardMiner(), FlatTraining(), BurstyTraining(), Inference(), Idle(), {}} {
		forward := map[string][]float64{}
		for _, ts := range grid {
			for _, m := range AllMetrics() {
				v, _ := p.Value(m, 21, ts)
				forward[m] = append(forward[m], v)
			}
		}
		for _, m := range slices.Backward(AllMetrics()) {
			for i := len(grid) - 1; i >= 0; i-- {
				if v, _ := p.Value(m, 21, grid[i]); v != forward[m][i] {
					t.Fatalf("%q %s at %s: %v read backwards, %v forwards", p.Name, m, grid[i], v, forward[m][i])
				}
			}
		}
		for i, ts := range grid {
			if forward[MetricGPUUtil][i] != p.At(21, ts) {
				t.Fatalf("%q: Value(GPU_UTIL) %v, At %v", p.Name, forward[MetricGPUUtil][i], p.At(21, ts))
			}
		}
		if p.Name == "idle" || p.Name == "" {
			continue
		}
		other := map[string]bool{}
		for _, m := range ProfilingMetrics() {
			v, _ := p.Value(m, 22, grid[5])
			other[m] = v != forward[m][5]
		}
		if !other[MetricPower] {
			t.Errorf("%s: seeds 21 and 22 draw the same power", p.Name)
		}
	}
}

func TestValueUnknownMetric(t *testing.T) {
	for _, m := range []string{"", "DCGM_FI_DEV_FB_USED", "dcgm_fi_prof_sm_active"} {
		if v, ok := SteadyMiner().Value(m, 1, testEnd); ok || v != 0 {
			t.Errorf("Value(%q) = %v, %v; want 0, false", m, v, ok)
		}
	}
}

func TestProfilingMetrics(t *testing.T) {
	got := ProfilingMetrics()
	if len(got) != 20 || slices.Contains(got, MetricGPUUtil) {
		t.Fatalf("ProfilingMetrics = %v: want the 20 metrics besides GPU_UTIL", got)
	}
	seen := map[string]bool{}
	for _, m := range got {
		if seen[m] {
			t.Errorf("%s listed twice", m)
		}
		seen[m] = true
		if _, ok := Idle().Value(m, 1, testEnd); !ok {
			t.Errorf("%s: Value does not know it", m)
		}
	}
	got[0] = "changed"
	if ProfilingMetrics()[0] == "changed" {
		t.Error("ProfilingMetrics returns the package's own slice")
	}
	if all := AllMetrics(); len(all) != 21 || all[0] != MetricGPUUtil {
		t.Errorf("AllMetrics = %v", all)
	}
}

func correlation(a, b []float64) float64 {
	ma, sa := moments(a)
	mb, sb := moments(b)
	var cov float64
	for i := range a {
		cov += (a[i] - ma) * (b[i] - mb)
	}
	return cov / float64(len(a)) / (sa * sb)
}
