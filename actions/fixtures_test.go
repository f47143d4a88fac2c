package actions

import (
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

// The test window is one hour, (t0, t0+1h], in 5-minute chunks scraped
// every 15 s: 240 expected samples per GPU.
var t0 = time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)

const (
	testChunk    = 5 * time.Minute
	testExpected = 240
)

// gpu is one GPU's report over the test window with the given verdict; miner
// GPUs are flat near 99 %, benign ones busy and bursty.
func gpu(node, index string, v analyzer.Verdict) analyzer.GPUReport {
	g := analyzer.GPUReport{
		GPU:     analyzer.GPU{Node: node, Index: index, UUID: "GPU-" + node + "-" + index, Model: "NVIDIA A100-SXM4-80GB"},
		Verdict: v,
		Rule:    "flat_high_util",
		// Judged with profiling metrics, as deletion requires by default.
		Profiling: true,
	}
	if v == analyzer.Miner {
		g.Strength = analyzer.StrengthStrong
	}
	mean, sd := 99.1, 0.4
	if v != analyzer.Miner {
		mean, sd = 60, 25
	}
	count := int64(testExpected)
	if v == analyzer.InsufficientData {
		count = 60
	}
	g.Moments = analyzer.Moments{Count: count, Mean: mean, M2: sd * sd * float64(count), Min: mean - 2, Max: min(mean+0.9, 100)}
	g.ExpectedSamples = testExpected
	g.Coverage = float64(count) / testExpected
	g.FirstChunkEnd = t0.Add(testChunk)
	for end := t0.Add(testChunk); !end.After(t0.Add(time.Hour)); end = end.Add(testChunk) {
		g.Curve = append(g.Curve, analyzer.ChunkMean{End: end, Mean: mean, Samples: 20})
	}
	return g
}

// withoutProfiling marks a GPU as judged without dcgm profiling metrics.
func withoutProfiling(g analyzer.GPUReport) analyzer.GPUReport {
	g.Profiling, g.Strength = false, analyzer.StrengthUtilizationOnly
	return g
}

// withStrength grades a miner GPU's evidence.
func withStrength(g analyzer.GPUReport, s analyzer.Strength) analyzer.GPUReport {
	g.Strength = s
	return g
}

// withDisagreement gives a GPU two exporters that disagree on its utilization.
func withDisagreement(g analyzer.GPUReport) analyzer.GPUReport {
	g.Disagreement = &analyzer.Disagreement{Signal: analyzer.SignalUtil, End: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC),
		Series: [2]analyzer.SeriesValue{{Origin: "a", Mean: 100, Samples: 20}, {Origin: "b", Mean: 40, Samples: 20}}}
	return g
}

// sharedWith marks a GPU as time-sliced with other pods.
func sharedWith(g analyzer.GPUReport, others ...analyzer.PodKey) analyzer.GPUReport {
	g.Shared, g.SharedWith = true, others
	return g
}

// report is a pod's report whose verdict is its most severe GPU's.
func report(ns, pod string, gpus ...analyzer.GPUReport) analyzer.PodReport {
	r := analyzer.PodReport{PodKey: analyzer.PodKey{Namespace: ns, Pod: pod}, Verdict: analyzer.Benign, GPUs: gpus}
	for _, g := range gpus {
		if g.Verdict.Severity() >= r.Verdict.Severity() {
			r.Verdict, r.Node = g.Verdict, g.Node
		}
		r.Shared = r.Shared || g.Shared
	}
	r.Evidence = analyzer.Evidence{
		Rule:                 "flat_high_util",
		Thresholds:           analyzer.Thresholds{MeanAbove: 95, StdDevBelow: 2, MinCoverage: 0.8},
		Reason:               "gpu 0 on " + r.Node + ": mean 99.10 > 95 and stddev 0.40 < 2",
		WindowSecs:           time.Hour.Seconds(),
		ScrapeIntervalSecs:   15,
		ScrapeIntervalSource: "detected",
		ChunkSecs:            testChunk.Seconds(),
	}
	return r
}

// miner is a pod on node-a with one GPU, not shared, judged miner.
func miner(ns, pod string) analyzer.PodReport {
	return report(ns, pod, gpu("node-a", "0", analyzer.Miner))
}

func benign(ns, pod string) analyzer.PodReport {
	return report(ns, pod, gpu("node-a", "0", analyzer.Benign))
}

func insufficient(ns, pod string) analyzer.PodReport {
	return report(ns, pod, gpu("node-a", "0", analyzer.InsufficientData))
}

func key(ns, pod string) analyzer.PodKey { return analyzer.PodKey{Namespace: ns, Pod: pod} }

// states builds a State from "namespace/pod" -> entry.
func states(m map[string]PodState) State {
	s := State{Pods: map[string]PodState{}}
	for k, v := range m {
		s.Pods[k] = v
	}
	return s
}
