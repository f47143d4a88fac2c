package fleet

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// gpuMean is the mean of metric on GPU g of p over the hour before end, as
// FleetSeries emits it for p alone; NaN when there is no such series.
func gpuMean(p Pod, g GPUSpec, metric string, end time.Time) float64 {
	want := seriesKey(Labels(p, g, Honor))
	for _, s := range FleetSeries([]Pod{p}, Honor, end.Add(-time.Hour), end, Scrape{Metrics: []string{metric}}) {
		if seriesKey(s.Labels) == want {
			m, _ := moments(s.Values)
			return m
		}
	}
	return math.NaN()
}

// LabelledFleet covers every scenario a backtest needs, each with its
// ground truth.
func TestLabelledFleetScenarios(t *testing.T) {
	pods := LabelledFleet(testEnd)
	defaultNodes := map[string]bool{}
	for _, p := range DefaultFleet(testEnd) {
		defaultNodes[p.Node] = true
	}
	classes := map[string]string{}
	for _, p := range pods {
		classes[p.Key()] = p.Class
	}
	keys := map[string]bool{}
	var judged []Pod
	for _, p := range pods {
		if p.Forges != nil && len(p.GPUs) == 0 {
			// A forger without a GPU of its own: no verdict to score; it
			// must frame a legitimate pod of the fleet, on that pod's node
			// and GPU.
			v := p.Forges
			if classes[v.Key()] != ClassLegitimate || len(v.GPUs) != 1 || len(ForgedSeries(p, testEnd.Add(-time.Hour), testEnd, Scrape{})) != 1 {
				t.Errorf("forger %s: frames %s (class %q, %d GPUs), want one GPU of a legitimate pod", p.Key(), v.Key(), classes[v.Key()], len(v.GPUs))
			}
			continue
		}
		judged = append(judged, p)
		if p.Name != "" && keys[p.Key()] {
			t.Errorf("pod %s listed twice", p.Key())
		}
		keys[p.Key()] = true
		if p.Scenario == "" || len(p.GPUs) == 0 || !strings.HasPrefix(p.Node, "lab-node-") || defaultNodes[p.Node] {
			t.Errorf("pod %s: node %q, %d GPUs, scenario %q", p.Key(), p.Node, len(p.GPUs), p.Scenario)
		}
		// Every entity has a class, a miner class for a miner and a benign
		// one for the rest: the backtest scores each class apart.
		benignClass := p.Class == ClassLegitimate || p.Class == ClassTelemetryFault
		if p.Class == "" || benignClass == p.ExpectMiner {
			t.Errorf("pod %s: class %q with ExpectMiner %v", p.Key(), p.Class, p.ExpectMiner)
		}
	}

	profileOf := func(p Pod) string { return p.ProfileOf(p.GPUs[0]).Name }
	hopper := func(p Pod) bool { return p.GPUs[0].Model == HopperModel }
	noProfiling := func(p Pod) bool { return p.GPUs[0].NoProfiling }
	plain := func(p Pod) bool { // whole GPUs with profiling, for the whole window
		return !noProfiling(p) && p.GPUs[0].MIG == nil && p.Start.IsZero() && p.End.IsZero() && p.Name != ""
	}
	throttledAt := func(level float64) func(Pod) bool {
		return func(p Pod) bool {
			u := gpuMean(p, p.GPUs[0], MetricGPUUtil, testEnd)
			return plain(p) && profileOf(p) == "throttled-miner" && u > level-1 && u < level+1
		}
	}
	scenarios := []struct {
		name  string
		miner bool
		class string // "": not checked
		match func(Pod) bool
	}{
		{"flat training, one GPU", false, "", func(p Pod) bool { return plain(p) && profileOf(p) == "flat-training" && len(p.GPUs) == 1 }},
		{"flat training, 4 GPUs with NVLink", false, "", func(p Pod) bool {
			if !plain(p) || profileOf(p) != "flat-training" || len(p.GPUs) != 4 {
				return false
			}
			for _, g := range p.GPUs {
				if gpuMean(p, g, MetricNVLinkTxBytes, testEnd) < 1e9 {
					return false
				}
			}
			return true
		}},
		{"bursty training", false, "", func(p Pod) bool { return plain(p) && profileOf(p) == "bursty-training" }},
		{"inference", false, "", func(p Pod) bool { return plain(p) && profileOf(p) == "inference" }},
		{"throttled miner at 70 %", true, "", throttledAt(70)},
		{"throttled miner at 80 %", true, "", throttledAt(80)},
		{"throttled miner at 90 %", true, "", throttledAt(90)},
		{"memory-hard miner", true, "", func(p Pod) bool { return plain(p) && profileOf(p) == "memory-hard-miner" }},
		{"steady miner", true, "", func(p Pod) bool { return plain(p) && profileOf(p) == "steady-miner" }},
		{"miner starting hours before the end", true, "", func(p Pod) bool {
			return p.Name != "" && profileOf(p) == "steady-miner" && p.Start.After(testEnd.Add(-12*time.Hour)) && p.Start.Before(testEnd.Add(-2*time.Hour))
		}},
		{"benign pod ending hours before the end", false, "", func(p Pod) bool {
			return p.Name != "" && !p.End.IsZero() && p.End.Before(testEnd.Add(-time.Hour)) && p.End.After(testEnd.Add(-12*time.Hour))
		}},
		{"busy podless GPU mining", true, "", func(p Pod) bool { return p.Name == "" && profileOf(p) == "steady-miner" }},
		{"idle podless GPU", false, "", func(p Pod) bool { return p.Name == "" && profileOf(p) == "idle" }},
		{"MIG instance mining", true, "", func(p Pod) bool { return p.GPUs[0].MIG != nil && profileOf(p) == "steady-miner" }},
		{"MIG instance training", false, "", func(p Pod) bool { return p.GPUs[0].MIG != nil && strings.HasSuffix(profileOf(p), "training") }},
		{"MIG instance serving", false, "", func(p Pod) bool { return p.GPUs[0].MIG != nil && profileOf(p) == "inference" }},
		{"training without profiling metrics", false, "", func(p Pod) bool { return noProfiling(p) && strings.HasSuffix(profileOf(p), "training") }},
		{"steady miner without profiling metrics", true, "", func(p Pod) bool { return noProfiling(p) && profileOf(p) == "steady-miner" }},
		{"duty-cycled miner, 40m on / 20m off", true, ClassAdaptive, func(p Pod) bool {
			u := gpuMean(p, p.GPUs[0], MetricGPUUtil, testEnd)
			return plain(p) && profileOf(p) == "duty-cycle-miner" && u > 60 && u < 73
		}},
		{"jittering miner", true, ClassAdaptive, func(p Pod) bool { return plain(p) && profileOf(p) == "jitter-miner" }},
		{"token-kernel miner on an A100", true, ClassAdaptive, func(p Pod) bool {
			return plain(p) && !hopper(p) && profileOf(p) == "token-kernel-miner"
		}},
		{"token-kernel miner on an H100, its integer pipe reported", true, ClassAdaptive, func(p Pod) bool {
			return plain(p) && hopper(p) && profileOf(p) == "token-kernel-miner" && gpuMean(p, p.GPUs[0], MetricIntActive, testEnd) > 0.6
		}},
		{"int8 GEMM proof of work on an H100, IMMA reported", true, ClassMLShapedPoW, func(p Pod) bool {
			return plain(p) && hopper(p) && profileOf(p) == "int8-gemm-miner" && gpuMean(p, p.GPUs[0], MetricTensorIMMAActive, testEnd) > 0.5
		}},
		{"int8 batch inference on an H100", false, ClassLegitimate, func(p Pod) bool {
			return plain(p) && hopper(p) && profileOf(p) == "int8-batch-inference"
		}},
		{"flat training whose profiler reads 0", false, ClassTelemetryFault, func(p Pod) bool {
			return plain(p) && profileOf(p) == "flat-training+profiler-zeros" && gpuMean(p, p.GPUs[0], MetricGPUUtil, testEnd) > 95 &&
				gpuMean(p, p.GPUs[0], MetricTensorActive, testEnd) == 0 && gpuMean(p, p.GPUs[0], MetricGREngineActive, testEnd) == 0
		}},
		{"training whose profiler froze", false, ClassTelemetryFault, func(p Pod) bool {
			return plain(p) && profileOf(p) == "bursty-training+profiler-frozen"
		}},
		{"busy podless GPU mining is outside Kubernetes", true, ClassOutsideKubernetes, func(p Pod) bool { return p.Name == "" && p.ExpectMiner }},
	}
	for _, sc := range scenarios {
		var matched []string
		for _, p := range judged {
			if !sc.match(p) {
				continue
			}
			matched = append(matched, p.Key())
			if p.ExpectMiner != sc.miner {
				t.Errorf("%s: %s has ExpectMiner %v, want %v", sc.name, p.Key(), p.ExpectMiner, sc.miner)
			}
			if sc.class != "" && p.Class != sc.class {
				t.Errorf("%s: %s has class %q, want %q", sc.name, p.Key(), p.Class, sc.class)
			}
		}
		if len(matched) == 0 {
			t.Errorf("no pod for scenario %q", sc.name)
		}
	}

	// The MIG instances share one physical A100.
	migUUIDs := map[string]int{}
	for _, p := range pods {
		for _, g := range p.GPUs {
			if g.MIG != nil {
				migUUIDs[g.UUID]++
			}
		}
	}
	if len(migUUIDs) != 1 {
		t.Errorf("MIG instances on %d GPUs, want one", len(migUUIDs))
	}
	for _, n := range migUUIDs {
		if n != 3 {
			t.Errorf("%d MIG instances on the GPU, want 3", n)
		}
	}
}

// Over an hour, the old `mean > 95 && stddev < 2` rule flags every flat
// training GPU of the labelled fleet (the one whose profiler reads 0
// included) along with the unthrottled miners, and none of the throttled,
// jittering or duty-cycled ones: the false positives the profiling metrics
// must veto, the misses they must catch.
func TestLabelledFleetUnderTheOldRule(t *testing.T) {
	var flat, benignFlagged int
	for _, p := range LabelledFleet(testEnd) {
		for _, g := range p.GPUs {
			_, v := Samples(p, g, testEnd.Add(-time.Hour), testEnd, Scrape{})
			if len(v) == 0 {
				continue
			}
			mean, sd := moments(v)
			flagged := mean > 95 && sd < 2
			name := p.ProfileOf(g).Name
			// Every flat-100 % profile, whatever its pipes or its profiler
			// say: the token-kernel and int8 GEMM miners as the steady one.
			flatHigh := []string{"steady-miner", "memory-hard-miner", "token-kernel-miner", "int8-gemm-miner", "flat-training", "flat-training+profiler-zeros"}
			if want := slices.Contains(flatHigh, name); flagged != want {
				t.Errorf("%s GPU %s (%s): mean %.2f stddev %.2f: flagged %v, want %v", p.Key(), g.Index, name, mean, sd, flagged, want)
			}
			if strings.HasPrefix(name, "flat-training") {
				flat++
			}
			if flagged && !p.ExpectMiner {
				benignFlagged++
			}
		}
	}
	if flat < 5 || benignFlagged != flat {
		t.Errorf("%d flat-training GPUs, %d benign GPUs flagged: want >= 5 and all of them", flat, benignFlagged)
	}
}
