package analyzer

import (
	"fmt"
	"math"
)

// ComputeSignature catches miners below the flat-high-utilization rule's
// 95 % (throttled with --intensity, a power cap, a duty cycle or random
// pauses): busy SMs or DRAM while a kernel runs, with every covered float
// and tensor pipe idle. Intensities are read while active (ratio / active
// share), so a miner that pauses at random or mines 40 minutes an hour is
// judged on what it does while it mines; no "held" condition and no
// interconnect bar decide whether it fires, because jitter and a copy loop
// on the copy engines (separate from the SMs) cost a miner nothing. Both
// are kept as corroboration: only a GPU whose activity was also held and
// whose interconnect was quiet can be strong evidence here (see grade).
type ComputeSignature struct {
	// BusyAbove: the busier of SM activity and DRAM activity while active
	// (0..1) must exceed it. DRAM covers memory-hard algorithms, whose SMs
	// wait on memory.
	BusyAbove float64 `json:"busy_above"`
	// BusyStdDevBelow: that signal's standard deviation below it makes the
	// activity "held" (corroboration for strong evidence).
	BusyStdDevBelow float64 `json:"busy_stddev_below"`
	// PipeActiveBelow: the busiest math pipe's intensity while active must
	// stay below it. It is also the bar under which a pipe counts as idle
	// when grading any miner verdict's strength.
	PipeActiveBelow float64 `json:"pipe_active_below"`
	// InterconnectBelow: mean PCIe plus NVLink traffic, both directions, in
	// bytes per second, below which the GPU is "quiet" (corroboration).
	InterconnectBelow float64 `json:"interconnect_below_bytes_per_second"`
	// MinCoverage: each needed signal's share of expected samples.
	MinCoverage float64 `json:"min_coverage"`
	// MinActive: the share of the scope a kernel must have run (0..1).
	MinActive float64 `json:"min_active"`
}

// Name is the rule's name in evidence, logs and metrics.
func (ComputeSignature) Name() string { return "compute_signature" }

// Judge applies the rule to the signals each role has (see Role): activity
// (SM_ACTIVE or GR_ENGINE_ACTIVE) or memory (DRAM_ACTIVE or MEM_COPY_UTIL),
// whichever is busier while active; the covered math pipes. Only signals
// covering MinCoverage of the scope count.
func (r ComputeSignature) Judge(f *Facts) Opinion {
	o := Opinion{Rule: r.Name()}
	c := r.facts(f)
	v := c.view
	switch {
	case v.activitySig == "" && v.memorySig == "":
		o.Reason = fmt.Sprintf("no activity or memory signal covering %.2f of the window", r.MinCoverage)
		return o
	case len(v.pipes) == 0:
		o.Reason = fmt.Sprintf("no math pipe signal covering %.2f of the window", r.MinCoverage)
		return o
	case f.Active < r.MinActive:
		o.Reason = fmt.Sprintf("active %.2f of the time (< %g)", f.Active, r.MinActive)
		return o
	}
	busy, busyName := r.busy(c)
	pipe, pipeName, _ := c.busiest(v.pipes...)
	numbers := fmt.Sprintf("active %.2f, %s %.3f while active, %s %.4f while active", f.Active, busyName, busy, pipeName, pipe)
	switch {
	case busy <= r.BusyAbove:
		o.Reason = fmt.Sprintf("%s: not busy (%.3f <= %g)", numbers, busy, r.BusyAbove)
	case pipe >= r.PipeActiveBelow:
		o.Reason = fmt.Sprintf("%s: math pipes in use (%.4f >= %g)", numbers, pipe, r.PipeActiveBelow)
	default:
		o.Finding = SaysMiner
		o.Reason = fmt.Sprintf("%s: busy %.3f > %g while active, pipes < %g", numbers, busy, r.BusyAbove, r.PipeActiveBelow)
	}
	return o
}

// facts are f with only the signals covering the rule's own coverage.
func (r ComputeSignature) facts(f *Facts) *Facts {
	c := *f
	c.Profile = f.Profile.covered(r.MinCoverage)
	c.view = c.Profile.roles()
	return &c
}

// busy is the busier of activity and memory while active, and its signal.
func (r ComputeSignature) busy(c *Facts) (float64, Signal) {
	busy, name, _ := c.busiest(c.view.activitySig, c.view.memorySig)
	return busy, name
}

// corroborated reports whether a firing signature was also held (activity
// spread below BusyStdDevBelow) and quiet (interconnect below
// InterconnectBelow), with the numbers.
func (r ComputeSignature) corroborated(f *Facts) (bool, string) {
	c := r.facts(f)
	_, name := r.busy(c)
	sd := c.Profile[name].StdDev
	link := c.view.interconnect
	switch {
	case len(c.view.interconnectSigs) == 0:
		return false, "no interconnect signal to show the GPU quiet"
	case sd >= r.BusyStdDevBelow:
		return false, fmt.Sprintf("%s varies (stddev %.3f >= %g): paused or jittered", name, sd, r.BusyStdDevBelow)
	case link >= r.InterconnectBelow:
		return false, fmt.Sprintf("interconnect %s/s >= %s/s", humanBytes(link), humanBytes(r.InterconnectBelow))
	}
	return true, fmt.Sprintf("%s held (stddev %.3f < %g), interconnect %s/s < %s/s", name, sd, r.BusyStdDevBelow,
		humanBytes(link), humanBytes(r.InterconnectBelow))
}

func (r ComputeSignature) validate() error {
	switch {
	case r.BusyAbove <= 0 || r.BusyAbove >= 1:
		return fmt.Errorf("rules.computeSignature.busyAbove: must be in (0, 1), got %v", r.BusyAbove)
	case r.BusyStdDevBelow <= 0:
		return fmt.Errorf("rules.computeSignature.busyStddevBelow: must be positive, got %v", r.BusyStdDevBelow)
	case r.PipeActiveBelow <= 0 || r.PipeActiveBelow >= 1:
		return fmt.Errorf("rules.computeSignature.pipeActiveBelow: must be in (0, 1), got %v", r.PipeActiveBelow)
	case r.InterconnectBelow <= 0:
		return fmt.Errorf("rules.computeSignature.interconnectBelowBytesPerSecond: must be positive, got %v", r.InterconnectBelow)
	case r.MinCoverage <= 0 || r.MinCoverage > 1:
		return fmt.Errorf("rules.computeSignature.minCoverage: must be in (0, 1], got %v", r.MinCoverage)
	case r.MinActive < 0 || r.MinActive >= 1:
		return fmt.Errorf("rules.computeSignature.minActive: must be in [0, 1), got %v", r.MinActive)
	}
	return nil
}

// humanBytes prints a byte count with a decimal unit.
func humanBytes(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for math.Abs(b) >= 999.5 && i < len(units)-1 { // 999.5 prints as 1e+03 at 3 digits
		b /= 1000
		i++
	}
	return fmt.Sprintf("%.3g %s", b, units[i])
}
