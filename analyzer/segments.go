package analyzer

import (
	"fmt"
	"strings"
	"time"
)

// SegmentFinding is what the rules said of one part of the window.
type SegmentFinding struct {
	End time.Time `json:"end"`
	// Verdict is miner, benign or insufficient_data (too thin to judge).
	Verdict Verdict `json:"verdict"`
	Rule    string  `json:"rule,omitempty"`
	// Active is the share of the part a kernel ran.
	Active float64 `json:"active"`
}

// judgeSegments judges a GPU the window spares again on each segment of the
// window (Input.Segment), with the rules that read the profiling signals:
// a miner that mines for part of the window and runs ML-shaped work (or
// nothing) for the rest is benign on the window's means, which mix both,
// but a segment inside its mining phase shows the mining alone. One
// segment that a profiling rule calls mining and no rule spares makes the
// GPU a miner, on partial evidence at most: a legitimate job can have a
// phase that looks like mining (a hashing or ETL step between epochs), so
// a part of the window is never deletable evidence by default.
//
// Utilization alone (flat_high_util) is not judged per segment: a training
// run is flat between its evaluations, so a flat part says nothing the
// window did not. Cost to the miner: keeping every segment ML-shaped means
// alternating faster than a segment (20 minutes at the defaults), and then
// the window's mix is what is judged: the ML-shaped share is hashrate lost.
func judgeSegments(g *group, d, r GPUReport, expected int64, cfg Config) (GPUReport, bool) {
	k := g.window.perSegment
	if d.Verdict != Benign || g.pod.Pod == "" || k <= 0 || g.window.n%k != 0 || !d.Profiling || expected <= 0 {
		return d, false
	}
	n := g.window.n / k
	sig, scale, lo, hi := g.primaryRange(cfg)
	// Each segment is a run of each signal's chunks in time order (the
	// series' own slice in the common case: no copy).
	util := g.inOrder(sig)
	segLen := time.Duration(k) * g.window.chunk
	segExpected := expected / int64(n)
	rules := cfg.segmentRules()
	prof := Profile{}
	found := make([]SegmentFinding, 0, n)
	var first GPUReport
	mined := 0
	for j := range n {
		from := g.window.start.Add(time.Duration(j) * segLen)
		end := from.Add(segLen)
		rs := GPUReport{GPU: g.gpu, Container: g.container, Stats: mergeChunks(within(util, from, end), lo, hi, scale, false)}
		rs.ExpectedSamples = segExpected
		rs.Coverage = float64(rs.Count) / float64(max(segExpected, 1))
		sf := SegmentFinding{End: end, Verdict: InsufficientData}
		if rs.Count == 0 || rs.Coverage < cfg.MinCoverage {
			found = append(found, sf)
			continue
		}
		// One profile map for every segment: no segment's report outlives
		// the loop (a mining one lends the result its numbers, not its map).
		clear(prof)
		g.profileInto(prof, func(s Signal) []Chunk { return within(g.inOrder(s), from, end) }, segExpected)
		rs.Signals = prof
		f := newFacts(g, rs, cfg)
		sf.Active = f.Active
		var ops []Opinion
		for _, rule := range rules {
			ops = append(ops, rule.Judge(f))
		}
		v, rule, reason := combine(f, ops)
		sf.Verdict, sf.Rule = v, rule
		if v == Miner {
			if mined == 0 {
				first = rs
				first.Verdict, first.Rule, first.Reason = v, rule, reason
				first.Strength, first.StrengthReason = grade(f, rule, cfg)
				first.ProfilerFault, first.Active, first.Board = f.ProfilerFault, f.Active, f.Board
			}
			mined++
		}
		found = append(found, sf)
	}
	if mined == 0 {
		return d, false
	}
	out := d
	out.Verdict, out.Rule = Miner, first.Rule
	out.Segments = found
	out.Active, out.Board, out.ProfilerFault = first.Active, first.Board, first.ProfilerFault
	out.Strength, out.StrengthReason = first.Strength, first.StrengthReason
	if out.Strength == StrengthStrong {
		out.Strength = StrengthPartial
		out.StrengthReason = first.StrengthReason + ", but in part of the window only: a phase of a legitimate job can look so, never strong"
	}
	seg := formatSpan(segLen)
	out.Reason = fmt.Sprintf("mined in %d of %d segments of %s (%s): %s; the window as a whole: %s; evidence %s: %s",
		mined, n, seg, minedEnds(found), first.Reason, d.Reason, out.Strength, out.StrengthReason)
	return out, true
}

// within is the run of chunks ending in (from, to] of chunks in time order
// (chunks without samples, which carry no end, may sit anywhere: they
// merge to nothing).
func within(cs []Chunk, from, to time.Time) []Chunk {
	lo, hi := At(from), At(to)
	i := 0
	for i < len(cs) && cs[i].End <= lo {
		i++
	}
	j := i
	for j < len(cs) && cs[j].End <= hi {
		j++
	}
	return cs[i:j]
}

// segmentRules are the declared rules that read the profiling signals:
// the ones a segment is judged by.
func (c Config) segmentRules() []Rule {
	var out []Rule
	for _, r := range c.rules() {
		switch r.Name() {
		case c.FlatHighUtil.Name(), c.BusyWithoutPod.Name():
			continue
		}
		out = append(out, r)
	}
	return out
}

// minedEnds lists the segments that mined by their ends.
func minedEnds(found []SegmentFinding) string {
	var ends []string
	for _, f := range found {
		if f.Verdict == Miner {
			ends = append(ends, "ending "+f.End.UTC().Format("15:04"))
		}
	}
	return strings.Join(ends, ", ")
}
