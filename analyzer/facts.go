package analyzer

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// Facts are what the rules judge one GPU on, over one scope (the window, a
// young pod's own span, an owner's merged window): built once, read by
// every rule in the declared list.
type Facts struct {
	// Attributed is false for a GPU no pod holds.
	Attributed bool
	// Util is the primary signal's statistics, in percent (utilization, or
	// a MIG instance's graphics engine × 100).
	Util Stats
	// Active is the share of the scope a kernel ran, 0..1: mean
	// utilization / 100. Every pipe, SM and DRAM ratio is 0 while no kernel
	// runs, so ratio / Active is the pipe's intensity while the GPU worked:
	// a duty cycle, random pauses or a throttle scale Active and leave the
	// intensity of the resource the work scales with unchanged.
	Active float64
	// Profile is the covered, trusted profile: every signal covering the
	// scope's coverage guard, without the profiling fields of a GPU whose
	// profiler disagrees with its utilization (ProfilerFault).
	Profile Profile
	// Board is what the GPU's model reports.
	Board Board
	// ProfilerFault, when set, says why the profiling fields were not
	// believed: judged on utilization alone.
	ProfilerFault string

	view view
}

// minActiveForIntensity is the share of time below which intensities are
// not computed: an almost idle GPU's ratios are noise over a tiny divisor.
const minActiveForIntensity = 0.05

// intensity is the signal's ratio while a kernel ran (mean / Active,
// capped at 1); false when the signal is not covered or the GPU was idle.
func (f *Facts) intensity(s Signal) (float64, bool) {
	st, ok := f.Profile[s]
	if !ok || f.Active < minActiveForIntensity {
		return 0, false
	}
	return math.Min(st.Mean/f.Active, 1), true
}

// busiest is the highest intensity among the covered signals of ss, and its
// signal; false when none is covered.
func (f *Facts) busiest(ss ...Signal) (float64, Signal, bool) {
	var best float64
	var name Signal
	found := false
	for _, s := range ss {
		if v, ok := f.intensity(s); ok && (!found || v > best) {
			best, name, found = v, s, true
		}
	}
	return best, name, found
}

// newFacts builds a GPU's facts from its report's statistics: the coverage
// guard applied to every signal, the profiler's health checked against
// utilization.
func newFacts(g *group, r GPUReport, cfg Config) *Facts {
	f := &Facts{Attributed: g.pod.Pod != "", Util: r.Stats, Board: BoardOf(g.gpu.Model)}
	f.Active = math.Max(0, math.Min(r.Mean/100, 1))
	covered := r.Signals.covered(cfg.MinCoverage)
	if fault := profilerFault(f, covered, g.gpu.MIGInstance != ""); fault != "" {
		f.ProfilerFault = fault
		covered = maps.Clone(covered) // covered may be the report's own profile
		for _, s := range profSignals {
			delete(covered, s)
		}
	}
	f.Profile = covered
	f.view = covered.roles()
	return f
}

// profilerFault says why a GPU's profiling fields cannot be believed, or
// "". Known DCGM faults make them lie on a busy GPU: GR_ENGINE_ACTIVE read
// 0 for weeks while GPU_UTIL was 99-100 (NVIDIA/dcgm-exporter#662); after
// an Xid 31 every DCGM_FI_PROF_* field exported 0 while GPU_UTIL stayed at
// 100 (NVIDIA/DCGM#303); a profiler stuck on one reading repeats it. An
// idle pipe on such a GPU is no evidence, so a GPU whose profiler
// disagrees with its utilization is judged on utilization alone. A MIG
// instance has no utilization of its own to check against.
func profilerFault(f *Facts, p Profile, mig bool) string {
	if mig || f.Util.Count == 0 {
		return ""
	}
	var present []Signal
	for _, s := range profSignals {
		if _, ok := p[s]; ok {
			present = append(present, s)
		}
	}
	if len(present) == 0 {
		return ""
	}
	const busy = 0.5 // utilization / 100 above which the profiler must see work
	if f.Active > busy {
		if !slices.ContainsFunc(present, func(s Signal) bool { return p[s].Mean > 1e-6 }) {
			return fmt.Sprintf("every profiling field reads 0 (%s) while utilization averages %.1f%%: a stalled profiler, not idle pipes",
				joinSignals(present), f.Util.Mean)
		}
		for _, s := range []Signal{SignalGREngine, SignalSM} {
			if st, ok := p[s]; ok && st.Mean < 0.01 {
				return fmt.Sprintf("%s reads %.4f while utilization averages %.1f%%: the profiler disagrees with utilization",
					s, st.Mean, f.Util.Mean)
			}
		}
	}
	// A frozen profiler repeats one reading: no spread at all over many
	// samples while utilization moves.
	// A ratio pinned at 0 or 1 is a true reading of an idle or saturated
	// unit, not a frozen one.
	if f.Util.StdDev() > 0.01 {
		for _, s := range []Signal{SignalGREngine, SignalSM, SignalDRAM} {
			if st, ok := p[s]; ok && st.Samples >= 10 && st.Mean > 0.001 && st.Mean < 0.999 && st.StdDev < 1e-9 {
				return fmt.Sprintf("%s frozen at %.6f over %d samples while utilization varies (stddev %.2f): the profiler repeats a stale reading",
					s, st.Mean, st.Samples, f.Util.StdDev())
			}
		}
	}
	return ""
}
