package fleet

import (
	"slices"
	"testing"
	"time"
)

// newProfileCase is where a new profile's signals must lie over one hour at
// 15 s for several GPUs: mean bounds each metric's window mean, sd its
// window stddev, each every sample.
type newProfileCase struct {
	profile        Profile
	mean, sd, each map[string]band
}

var newProfileSeeds = []uint64{1, 2, 42, 7, 1 << 60}

func checkNewProfiles(t *testing.T, tests []newProfileCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.profile.Name, func(t *testing.T) {
			for _, seed := range newProfileSeeds {
				for _, m := range AllMetrics() {
					_, inMean := tc.mean[m]
					_, inSD := tc.sd[m]
					_, inEach := tc.each[m]
					if !inMean && !inSD && !inEach {
						continue
					}
					v := metricValues(t, tc.profile, m, seed, testEnd.Add(-time.Hour), testEnd)
					mean, sd := moments(v)
					if b, ok := tc.mean[m]; ok && !b.has(mean) {
						t.Errorf("seed %d %s: mean %.4g, want in %v", seed, m, mean, b)
					}
					if b, ok := tc.sd[m]; ok && !b.has(sd) {
						t.Errorf("seed %d %s: stddev %.4g, want in %v", seed, m, sd, b)
					}
					if b, ok := tc.each[m]; ok {
						if lo, hi := slices.Min(v), slices.Max(v); !b.has(lo) || !b.has(hi) {
							t.Errorf("seed %d %s: samples in [%.4g, %.4g], want in %v", seed, m, lo, hi, b)
						}
					}
				}
			}
		})
	}
}

// minerHostQuiet: a miner's host link carries pool jobs and shares only.
var minerHostQuiet = map[string]band{MetricPCIeTxBytes: {0, 100e3}, MetricPCIeRxBytes: {0, 100e3}, MetricNVLinkTxBytes: {0, 0}}

func TestAdversarialMinerBands(t *testing.T) {
	noTensor := map[string]band{MetricTensorActive: {0, 0}, MetricTensorIMMAActive: {0, 0}, MetricTensorHMMAActive: {0, 0}, MetricTensorDFMAActive: {0, 0}}
	checkNewProfiles(t, []newProfileCase{
		{TokenKernelMiner(),
			map[string]band{
				MetricGPUUtil: {99, 100}, MetricSMActive: {0.95, 1}, MetricTensorActive: {0.125, 0.175},
				MetricTensorHMMAActive: {0.125, 0.175}, MetricIntActive: {0.85, 0.97}, MetricPower: {365, 400},
			},
			map[string]band{MetricGPUUtil: {0, 1}},
			with(minerHostQuiet, map[string]band{MetricTensorIMMAActive: {0, 0}, MetricTensorDFMAActive: {0, 0}, MetricFP16Active: {0, 0}})},
		{JitterMiner(),
			map[string]band{
				MetricGPUUtil: {70, 86}, MetricSMActive: {0.65, 0.86}, MetricIntActive: {0.62, 0.85},
				MetricPower: {270, 350},
			},
			map[string]band{MetricGPUUtil: {8, 20}, MetricSMActive: {0.08, 0.2}, MetricPower: {30, 70}},
			with(with(minerHostQuiet, noTensor), map[string]band{MetricGPUUtil: {54, 100}})},
		{DutyCycleMiner(40*time.Minute, 20*time.Minute),
			map[string]band{MetricGPUUtil: {62, 70}, MetricSMActive: {0.6, 0.7}, MetricPower: {230, 300}},
			map[string]band{MetricGPUUtil: {40, 50}},
			with(minerHostQuiet, noTensor)},
		{CopyLoopMiner(),
			map[string]band{
				MetricGPUUtil: {99, 100}, MetricSMActive: {0.95, 1}, MetricIntActive: {0.88, 1},
				MetricDRAMActive: {0.22, 0.34}, MetricPCIeTxBytes: {3e9, 6e9}, MetricPCIeRxBytes: {3e9, 6e9},
			},
			nil,
			with(noTensor, map[string]band{MetricPCIeTxBytes: {2.4e9, 7e9}, MetricPCIeRxBytes: {2.4e9, 7e9}, MetricNVLinkTxBytes: {0, 0}})},
		{DisguisedMiner(),
			map[string]band{
				MetricGPUUtil: {70, 86}, MetricTensorActive: {0.1, 0.14}, MetricTensorHMMAActive: {0.1, 0.14},
				MetricFP32Active: {0.02, 0.045}, MetricPCIeTxBytes: {2e9, 5.2e9}, MetricPCIeRxBytes: {2e9, 5.2e9},
				MetricIntActive: {0.58, 0.8},
			},
			map[string]band{MetricGPUUtil: {8, 20}},
			map[string]band{MetricTensorIMMAActive: {0, 0}, MetricTensorDFMAActive: {0, 0}, MetricGPUUtil: {54, 100}}},
		{Int8GEMMMiner(),
			map[string]band{
				MetricGPUUtil: {99, 100}, MetricTensorActive: {0.79, 0.91}, MetricTensorIMMAActive: {0.79, 0.91},
				MetricFP32Active: {0.003, 0.011}, MetricIntActive: {0.14, 0.26}, MetricSMActive: {0.88, 0.98},
				MetricDRAMActive: {0.19, 0.36}, MetricPower: {0.86 * tdpWatts, 0.96 * tdpWatts},
			},
			map[string]band{MetricGPUUtil: {0, 1}, MetricPower: {0, 3}},
			with(minerHostQuiet, map[string]band{MetricTensorHMMAActive: {0, 0}, MetricTensorDFMAActive: {0, 0}, MetricFP16Active: {0, 0}, MetricGPUUtil: {98, 100}})},
	})
}

func with(a, b map[string]band) map[string]band {
	m := map[string]band{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// The tensor pipe is the sum of its subtypes, for every profile.
func TestTensorIsTheSumOfItsSubtypes(t *testing.T) {
	for _, p := range allTestProfiles() {
		for _, ts := range (Scrape{}).Grid(testEnd.Add(-20*time.Minute), testEnd) {
			get := func(m string) float64 { v, _ := p.Value(m, 3, ts); return v }
			sum := get(MetricTensorIMMAActive) + get(MetricTensorHMMAActive) + get(MetricTensorDFMAActive)
			if d := sum - get(MetricTensorActive); d > 2e-6 || d < -2e-6 {
				t.Fatalf("%s at %v: IMMA+HMMA+DFMA = %g, tensor %g", p.Name, ts, sum, get(MetricTensorActive))
			}
			if intp, sm := get(MetricIntActive), get(MetricSMActive); intp > sm+1e-6 {
				t.Fatalf("%s at %v: integer pipe %g above SM_ACTIVE %g", p.Name, ts, intp, sm)
			}
		}
	}
}

func allTestProfiles() []Profile {
	return []Profile{
		SteadyMiner(), ThrottledMiner(80), MemoryHardMiner(), FlatTraining(), BurstyTraining(), Inference(), Idle(), FP32HPC(), FP64HPC(),
		TokenKernelMiner(), JitterMiner(), DutyCycleMiner(40*time.Minute, 20*time.Minute), CopyLoopMiner(), DisguisedMiner(), Int8GEMMMiner(),
		SmallCNN(), GPUETL(), Int8BatchInference(), FP64MolecularDynamics(), IdleNotebook(),
	}
}

// The evasions leave the rest of SteadyMiner as it was: the same
// utilization, SM activity and power on the same GPU.
func TestEvasionsKeepSteadyMinersHash(t *testing.T) {
	steady := SteadyMiner()
	for _, p := range []Profile{TokenKernelMiner(), CopyLoopMiner()} {
		for _, ts := range (Scrape{}).Grid(testEnd.Add(-10*time.Minute), testEnd) {
			for _, m := range []string{MetricGPUUtil, MetricSMActive, MetricFP64Active} {
				got, _ := p.Value(m, 9, ts)
				want, _ := steady.Value(m, 9, ts)
				if got != want {
					t.Errorf("%s %s at %v: %g, SteadyMiner %g", p.Name, m, ts, got, want)
				}
			}
		}
	}
}

// JitterMiner's level holds for 2 minutes: within a slot utilization moves
// by at most 2 (the ±1 noise), and across an hour the level moves.
func TestJitterMinerHoldsEachLevelTwoMinutes(t *testing.T) {
	p := JitterMiner()
	v := metricValues(t, p, MetricGPUUtil, 5, testEnd.Add(-time.Hour), testEnd)
	jumps := 0
	for i := 1; i < len(v); i++ {
		if d := v[i] - v[i-1]; d > 2 || d < -2 {
			jumps++
		}
	}
	// 30 slots, so at most 30 level changes, and most of them above noise.
	if jumps < 15 || jumps > 31 {
		t.Errorf("%d jumps above ±2 in an hour, want 15..31 (a new level every 2 minutes)", jumps)
	}
}

// DutyCycleMiner mines for on and idles for off, in one stretch each.
func TestDutyCycleMinerPhases(t *testing.T) {
	for _, c := range []struct{ on, off time.Duration }{{40 * time.Minute, 20 * time.Minute}, {10 * time.Minute, 50 * time.Minute}} {
		p := DutyCycleMiner(c.on, c.off)
		v := metricValues(t, p, MetricGPUUtil, 11, testEnd.Add(-time.Hour), testEnd.Add(-15*time.Second))
		busy, edges := 0, 0
		for i, x := range v {
			if x > 0 {
				busy++
			}
			if i > 0 && (x > 0) != (v[i-1] > 0) {
				edges++
			}
		}
		want := int(c.on / DefaultInterval)
		if busy < want-1 || busy > want+1 || edges > 2 {
			t.Errorf("%v/%v: %d busy samples of %d in %d stretches, want %d in one", c.on, c.off, busy, len(v), edges, want)
		}
	}
	if v, _ := DutyCycleMiner(time.Hour, 0).Value(MetricGPUUtil, 1, testEnd); v < 98 {
		t.Errorf("no off time: utilization %g, want a miner's", v)
	}
	if v, _ := DutyCycleMiner(0, time.Hour).Value(MetricGPUUtil, 1, testEnd); v != 0 {
		t.Errorf("no on time: utilization %g, want 0", v)
	}
}
