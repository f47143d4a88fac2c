package fleet

import (
	"math"
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
	keys := map[string]bool{}
	for _, p := range pods {
		if p.Name != "" && keys[p.Key()] {
			t.Errorf("pod %s listed twice", p.Key())
		}
		keys[p.Key()] = true
		if p.Scenario == "" || len(p.GPUs) == 0 || !strings.HasPrefix(p.Node, "lab-node-") || defaultNodes[p.Node] {
			t.Errorf("pod %s: node %q, %d GPUs, scenario %q", p.Key(), p.Node, len(p.GPUs), p.Scenario)
		}
	}

	profileOf := func(p Pod) string { return p.ProfileOf(p.GPUs[0]).Name }
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
		match func(Pod) bool
	}{
		{"flat training, one GPU", false, func(p Pod) bool { return plain(p) && profileOf(p) == "flat-training" && len(p.GPUs) == 1 }},
		{"flat training, 4 GPUs with NVLink", false, func(p Pod) bool {
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
		{"bursty training", false, func(p Pod) bool { return plain(p) && profileOf(p) == "bursty-training" }},
		{"inference", false, func(p Pod) bool { return plain(p) && profileOf(p) == "inference" }},
		{"throttled miner at 70 %", true, throttledAt(70)},
		{"throttled miner at 80 %", true, throttledAt(80)},
		{"throttled miner at 90 %", true, throttledAt(90)},
		{"memory-hard miner", true, func(p Pod) bool { return plain(p) && profileOf(p) == "memory-hard-miner" }},
		{"steady miner", true, func(p Pod) bool { return plain(p) && profileOf(p) == "steady-miner" }},
		{"miner starting hours before the end", true, func(p Pod) bool {
			return p.Name != "" && profileOf(p) == "steady-miner" && p.Start.After(testEnd.Add(-12*time.Hour)) && p.Start.Before(testEnd.Add(-2*time.Hour))
		}},
		{"benign pod ending hours before the end", false, func(p Pod) bool {
			return p.Name != "" && !p.End.IsZero() && p.End.Before(testEnd.Add(-time.Hour)) && p.End.After(testEnd.Add(-12*time.Hour))
		}},
		{"busy podless GPU mining", true, func(p Pod) bool { return p.Name == "" && profileOf(p) == "steady-miner" }},
		{"idle podless GPU", false, func(p Pod) bool { return p.Name == "" && profileOf(p) == "idle" }},
		{"MIG instance mining", true, func(p Pod) bool { return p.GPUs[0].MIG != nil && profileOf(p) == "steady-miner" }},
		{"MIG instance training", false, func(p Pod) bool { return p.GPUs[0].MIG != nil && strings.HasSuffix(profileOf(p), "training") }},
		{"MIG instance serving", false, func(p Pod) bool { return p.GPUs[0].MIG != nil && profileOf(p) == "inference" }},
		{"training without profiling metrics", false, func(p Pod) bool { return noProfiling(p) && strings.HasSuffix(profileOf(p), "training") }},
		{"steady miner without profiling metrics", true, func(p Pod) bool { return noProfiling(p) && profileOf(p) == "steady-miner" }},
	}
	for _, sc := range scenarios {
		var matched []string
		for _, p := range pods {
			if !sc.match(p) {
				continue
			}
			matched = append(matched, p.Key())
			if p.ExpectMiner != sc.miner {
				t.Errorf("%s: %s has ExpectMiner %v, want %v", sc.name, p.Key(), p.ExpectMiner, sc.miner)
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
// training GPU of the labelled fleet along with the unthrottled miners:
// the false positive the profiling metrics must veto.
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
			if want := name == "steady-miner" || name == "memory-hard-miner" || name == "flat-training"; flagged != want {
				t.Errorf("%s GPU %s (%s): mean %.2f stddev %.2f: flagged %v, want %v", p.Key(), g.Index, name, mean, sd, flagged, want)
			}
			if name == "flat-training" {
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
