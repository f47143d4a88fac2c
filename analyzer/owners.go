package analyzer

import (
	"cmp"
	"fmt"
	"slices"
)

// OwnerEvidence is the owner's window a young pod was judged on: the
// verdict over every sample of the owner's pods in the window (its
// predecessors' and its own, merged exactly), and the pod's own span that
// showed the same verdict.
type OwnerEvidence struct {
	// Owner is the top controller, "namespace/Kind/name".
	Owner string `json:"owner"`
	// Pods are the owner's pods whose samples were merged, the judged pod
	// included.
	Pods     []PodKey `json:"pods"`
	Verdict  Verdict  `json:"verdict"`
	Rule     string   `json:"rule"`
	Reason   string   `json:"reason"`
	Mean     float64  `json:"mean"`
	StdDev   float64  `json:"stddev"`
	Samples  int64    `json:"samples"`
	Coverage float64  `json:"coverage"`
	Strength Strength `json:"strength,omitempty"`
	// OwnSpanSecs is how long the judged pod's own samples span.
	OwnSpanSecs float64 `json:"own_span_seconds"`
}

// judgeOwners re-judges young pods (insufficient_data) of owners already
// judged a miner (cfg.Owners) on their owner's window. A GPU of such a pod
// becomes a miner when both hold:
//   - the owner's window, every sample of the owner's pods in the window
//     merged per chunk, is judged a miner by the same rules (coverage over
//     the window, or the young-pod span on strong evidence, as for a pod);
//   - the pod's own samples span at least cfg.MinOwnSpan, cover it, and are
//     judged a miner by the same rules there.
//
// Its strength is the weaker of the two. Anything else leaves the GPU as it
// was. byPod and podGroups are updated in place.
func judgeOwners(byPod map[PodKey][]GPUReport, podGroups map[PodKey][]*group, expected int64, cfg Config) {
	if len(cfg.Owners) == 0 || cfg.MinOwnSpan <= 0 || expected <= 0 {
		return
	}
	members := map[string][]PodKey{}
	for pod, owner := range cfg.Owners {
		if len(podGroups[pod]) > 0 {
			members[owner] = append(members[owner], pod)
		}
	}
	verdicts := map[string]*OwnerEvidence{}
	for pod, gpus := range byPod {
		owner, ok := cfg.Owners[pod]
		if !ok || worstVerdict(gpus) != InsufficientData {
			continue
		}
		ev, ok := verdicts[owner]
		if !ok {
			ev = judgeOwner(owner, members[owner], podGroups, expected, cfg)
			verdicts[owner] = ev
		}
		if ev.Verdict != Miner {
			continue
		}
		for i, r := range gpus {
			if r.Verdict != InsufficientData {
				continue
			}
			own, span, ok := judgeSpan(podGroups[pod][i], r, expected, cfg, cfg.MinOwnSpan)
			if !ok || own.Verdict != Miner {
				continue
			}
			e := *ev
			e.OwnSpanSecs = span.Seconds()
			own.Owner = &e
			own.Strength = weaker(own.Strength, ev.Strength)
			own.Reason = fmt.Sprintf("owner %s judged miner over its pods' window (%d pods, mean %.1f%% stddev %.2f, %d samples): %s; "+
				"own samples over %s (min %s): %s", owner, len(ev.Pods), ev.Mean, ev.StdDev, ev.Samples, ev.Reason,
				formatSpan(span), formatSpan(cfg.MinOwnSpan), own.Reason)
			gpus[i] = own
		}
	}
}

// judgeOwner judges the owner's window: the groups of all its pods merged.
func judgeOwner(owner string, pods []PodKey, podGroups map[PodKey][]*group, expected int64, cfg Config) *OwnerEvidence {
	slices.SortFunc(pods, func(a, b PodKey) int { return cmp.Compare(a.String(), b.String()) })
	var gs []*group
	perPod := int64(1)
	for _, p := range pods {
		gs = append(gs, podGroups[p]...)
		perPod = max(perPod, int64(len(podGroups[p])))
	}
	ev := &OwnerEvidence{Owner: owner, Pods: pods, Verdict: InsufficientData}
	if len(gs) == 0 {
		return ev
	}
	merged := mergeOwner(gs, perPod, cfg)
	// The owner's own config: no owner evidence inside it.
	c := cfg
	c.Owners = nil
	r := judgeGPU(merged, expected*perPod, c)
	ev.Verdict, ev.Rule, ev.Reason, ev.Strength = r.Verdict, r.Rule, r.Reason, r.Strength
	ev.Mean, ev.StdDev, ev.Samples, ev.Coverage = r.Mean, r.StdDev(), r.Count, r.Coverage
	return ev
}

// mergeOwner merges the groups' valid chunks, signal by signal and chunk by
// chunk, into one group judged as if it were one pod on perPod GPUs.
// Invalid chunks are kept out of the merge (their samples stay bad).
func mergeOwner(gs []*group, perPod int64, cfg Config) *group {
	first := gs[0]
	m := &group{pod: first.pod, gpu: first.gpu, container: first.container, window: first.window,
		parallel: perPod}
	for _, g := range gs {
		if m.disagrees == nil {
			m.disagrees = g.disagreement(cfg)
		}
	}
	var sigs []Signal
	for _, g := range gs {
		sigs = append(sigs, g.series.signals()...)
	}
	slices.Sort(sigs)
	for _, sig := range slices.Compact(sigs) {
		lo, hi := sig.ValidRange()
		if sig == SignalUtil {
			lo, hi = cfg.ValidMin, cfg.ValidMax
		}
		out := make([]Chunk, m.window.n)
		for _, g := range gs {
			if !g.series.has(sig) {
				continue
			}
			for i, c := range g.chunks(sig) {
				if c.samples() == 0 {
					continue
				}
				out[i].End = c.End
				out[i].BadSamples += c.BadSamples
				if !c.Moments.Valid(lo, hi) {
					out[i].BadSamples += max(c.Count, 0)
					continue
				}
				out[i].Moments = out[i].Moments.Merge(c.Moments)
			}
		}
		out = slices.DeleteFunc(out, func(c Chunk) bool { return c.samples() == 0 })
		m.series = append(m.series, &Series{Signal: sig, Source: &Source{GPU: first.gpu}, Chunks: out})
	}
	return m
}

// weaker is the weaker of two evidence strengths.
func weaker(a, b Strength) Strength {
	rank := func(s Strength) int {
		switch s {
		case StrengthStrong:
			return 3
		case StrengthPartial:
			return 2
		case StrengthUtilizationOnly:
			return 1
		}
		return 0
	}
	if rank(a) <= rank(b) {
		return a
	}
	return b
}
