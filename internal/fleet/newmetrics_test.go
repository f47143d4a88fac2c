package fleet

import (
	"slices"
	"testing"
	"time"
)

// Values recorded before the integer pipe and the tensor subtypes were
// added: the existing profiles' existing metrics must not move (golden
// files elsewhere depend on them).
func TestExistingProfilesUnchanged(t *testing.T) {
	type sample struct {
		p    Profile
		seed uint64
		unix int64
		want map[string]float64
	}
	tests := []sample{
		{SteadyMiner(), 3, 1714564800, map[string]float64{
			MetricGPUUtil: 99, MetricGREngineActive: 0.992705, MetricSMActive: 0.975285, MetricTensorActive: 0,
			MetricFP32Active: 0.002078, MetricDRAMActive: 0.205265, MetricPCIeTxBytes: 29040, MetricPCIeRxBytes: 31603,
			MetricPower: 382.931, MetricMemCopyUtil: 21, MetricPCIeRxThroughput: 32,
		}},
		{FlatTraining(), 1, 1714564800, map[string]float64{
			MetricGPUUtil: 100, MetricGREngineActive: 0.997976, MetricSMActive: 0.886993, MetricTensorActive: 0.307039,
			MetricFP64Active: 1.6e-05, MetricFP32Active: 0.079012, MetricFP16Active: 0.138083, MetricDRAMActive: 0.372613,
			MetricPCIeTxBytes: 3.500851e+06, MetricPCIeRxBytes: 1.39710288e+08, MetricNVLinkTxBytes: 8.347396865e+09,
			MetricNVLinkRxBytes: 8.130836252e+09, MetricPower: 341.789, MetricNVLinkBandwidthTotal: 16478,
		}},
		{FP64HPC(), 2, 1714564800, map[string]float64{
			MetricGPUUtil: 100, MetricGREngineActive: 1, MetricSMActive: 0.919548, MetricFP64Active: 0.499533,
			MetricFP32Active: 0.047699, MetricDRAMActive: 0.620063, MetricPCIeTxBytes: 6.833292e+06, MetricPower: 338.333,
		}},
		{ThrottledMiner(80), 1, 1714560000, map[string]float64{
			MetricGPUUtil: 80, MetricSMActive: 0.797424, MetricFP32Active: 0.003209, MetricDRAMActive: 0.149089,
			MetricPCIeRxBytes: 17610, MetricPower: 314.211,
		}},
		{MemoryHardMiner(), 4, 1714560300, map[string]float64{
			MetricGPUUtil: 100, MetricSMActive: 0.660413, MetricFP32Active: 0.003599, MetricDRAMActive: 0.89012,
			MetricPCIeRxBytes: 36827, MetricPower: 246.739,
		}},
		{BurstyTraining(), 5, 1714563900, map[string]float64{
			MetricGPUUtil: 92, MetricSMActive: 0.877331, MetricTensorActive: 0.35436, MetricFP32Active: 0.083461,
			MetricDRAMActive: 0.350323, MetricPCIeRxBytes: 1.01979198e+08, MetricNVLinkTxBytes: 6.02680656e+09, MetricPower: 340.974,
		}},
		{Inference(), 0, 1714562100, map[string]float64{
			MetricGPUUtil: 39, MetricSMActive: 0.343902, MetricTensorActive: 0.171347, MetricFP32Active: 0.042577,
			MetricDRAMActive: 0.290485, MetricPCIeRxBytes: 7.3273834e+07, MetricPower: 206.741,
		}},
		{FP32HPC(), 0, 1714564785, map[string]float64{
			MetricGPUUtil: 100, MetricSMActive: 0.92639, MetricFP32Active: 0.604324, MetricPCIeTxBytes: 7.056608e+06,
			MetricPower: 377.293, MetricMemCopyUtil: 28,
		}},
		{Idle(), 1, 1714564785, map[string]float64{MetricGPUUtil: 0, MetricSMActive: 0, MetricPCIeTxBytes: 2968, MetricPower: 60.1}},
	}
	for _, tc := range tests {
		for m, want := range tc.want {
			if got, _ := tc.p.Value(m, tc.seed, time.Unix(tc.unix, 0).UTC()); got != want {
				t.Errorf("%s seed %d at %d %s: %v, recorded %v", tc.p.Name, tc.seed, tc.unix, m, got, want)
			}
		}
	}
}

// The existing profiles report the new fields consistently with the old
// ones: training and inference run HMMA only, miners and HPC no tensor
// work, and the integer pipe is busiest on compute-bound hashes.
func TestExistingProfilesNewFields(t *testing.T) {
	tests := []struct {
		p            Profile
		intp         band
		hmmaIsTensor bool
	}{
		{SteadyMiner(), band{0.88, 0.99}, false},
		{ThrottledMiner(80), band{0.7, 0.8}, false},
		{MemoryHardMiner(), band{0.28, 0.46}, false},
		{FlatTraining(), band{0.07, 0.16}, true},
		{BurstyTraining(), band{0.04, 0.15}, true},
		{Inference(), band{0.015, 0.06}, true},
		{FP32HPC(), band{0.045, 0.105}, false},
		{FP64HPC(), band{0.045, 0.105}, false},
		{Idle(), band{0, 0}, false},
	}
	for _, tc := range tests {
		for _, seed := range []uint64{1, 2, 42} {
			intp := metricValues(t, tc.p, MetricIntActive, seed, testEnd.Add(-time.Hour), testEnd)
			if mean, _ := moments(intp); !tc.intp.has(mean) {
				t.Errorf("%s seed %d: integer pipe mean %.4g, want in %v", tc.p.Name, seed, mean, tc.intp)
			}
			tensor := metricValues(t, tc.p, MetricTensorActive, seed, testEnd.Add(-time.Hour), testEnd)
			hmma := metricValues(t, tc.p, MetricTensorHMMAActive, seed, testEnd.Add(-time.Hour), testEnd)
			for _, m := range []string{MetricTensorIMMAActive, MetricTensorDFMAActive} {
				if v := metricValues(t, tc.p, m, seed, testEnd.Add(-time.Hour), testEnd); slices.Max(v) != 0 {
					t.Errorf("%s seed %d: %s up to %g, want 0", tc.p.Name, seed, m, slices.Max(v))
				}
			}
			if tc.hmmaIsTensor && !slices.Equal(tensor, hmma) {
				t.Errorf("%s seed %d: HMMA is not the tensor pipe", tc.p.Name, seed)
			}
			if !tc.hmmaIsTensor && slices.Max(hmma) != 0 {
				t.Errorf("%s seed %d: HMMA up to %g, want 0", tc.p.Name, seed, slices.Max(hmma))
			}
		}
	}
}

func TestCounterSetsKeepTheirMetrics(t *testing.T) {
	if len(AllDCPCounters.Metrics) != 17 || !slices.Equal(AllDCPCounters.Metrics, AllMetrics()[:17]) {
		t.Errorf("all-dcp = %v, want the 17 metrics it had", AllDCPCounters.Metrics)
	}
	for _, m := range []string{MetricIntActive, MetricTensorIMMAActive, MetricTensorHMMAActive, MetricTensorDFMAActive} {
		if slices.Contains(AllDCPCounters.Metrics, m) || !slices.Contains(HopperCounters.Metrics, m) {
			t.Errorf("%s: in all-dcp or missing from hopper-all-dcp", m)
		}
	}
	if !slices.Equal(HopperCounters.Metrics, AllMetrics()) {
		t.Errorf("hopper-all-dcp = %v", HopperCounters.Metrics)
	}
	sets := CounterSets()
	names := []string{}
	for _, s := range sets {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"gpu-operator", "exporter-default", "all-dcp", "utilization-only", "hopper-all-dcp"}) {
		t.Errorf("CounterSets = %v", names)
	}
	if !slices.Equal(DemoCounters("gpu-node-5").Metrics, AllDCPCounters.Metrics) {
		t.Error("the demo's all-dcp node changed its counters")
	}
	// The demo's H100 node exports fields 1013-1016, and its GPUs report them.
	if DemoCounters("gpu-node-6").Name != HopperCounters.Name {
		t.Errorf("gpu-node-6 exports %s, want %s", DemoCounters("gpu-node-6").Name, HopperCounters.Name)
	}
	h100s := 0
	for _, p := range DemoFleet(testEnd) {
		for _, g := range p.GPUs {
			if (p.Node == "gpu-node-6") != reportsGPM(g.Model) {
				t.Errorf("%s GPU %s on %s is a %s", p.Key(), g.Index, p.Node, g.Model)
			}
			if p.Node == "gpu-node-6" {
				h100s++
			}
		}
	}
	if h100s == 0 {
		t.Error("no GPU on the demo's H100 node")
	}
	all := AllMetrics()
	if !slices.Equal(all[17:], []string{MetricIntActive, MetricTensorIMMAActive, MetricTensorHMMAActive, MetricTensorDFMAActive}) {
		t.Errorf("AllMetrics ends with %v", all[17:])
	}
}

// A GPU labelled HopperModel publishes the integer pipe and the tensor
// subtypes under HopperCounters; an A100 does not.
func TestHopperGPUPublishesTheNewFields(t *testing.T) {
	h := GPU("n", "0")
	h.Model = HopperModel
	p := Pod{Namespace: "ns", Name: "int8", Node: "n", Profile: Int8GEMMMiner(), GPUs: []GPUSpec{h, GPU("n", "1")}}
	got := map[string]map[string]bool{}
	for _, s := range FleetSeries([]Pod{p}, Honor, testEnd.Add(-5*time.Minute), testEnd, Scrape{Metrics: HopperCounters.Metrics}) {
		if got[s.Labels["modelName"]] == nil {
			got[s.Labels["modelName"]] = map[string]bool{}
		}
		got[s.Labels["modelName"]][s.Labels["__name__"]] = true
		if s.Labels["__name__"] == MetricTensorIMMAActive && slices.Min(s.Values) < 0.75 {
			t.Errorf("IMMA %v on the int8 miner", s.Values)
		}
	}
	for _, m := range []string{MetricIntActive, MetricTensorIMMAActive, MetricTensorHMMAActive, MetricTensorDFMAActive} {
		if !got[HopperModel][m] || got[DefaultModel][m] {
			t.Errorf("%s: on the H100 %v, on the A100 %v; want only on the H100", m, got[HopperModel][m], got[DefaultModel][m])
		}
	}
}
