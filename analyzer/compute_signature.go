package analyzer

import (
	"fmt"
	"math"
)

// ComputeSignature catches miners below the flat-high-utilization rule's
// 95 % (throttled with --intensity, a power cap or a duty cycle): busy SMs
// or DRAM held steady, idle math pipes (hashing runs integer instructions),
// and almost no PCIe/NVLink traffic once the work is on the GPU. Training
// and inference keep pipes busy and move data. It is stricter than the
// utilization rule: every threshold must hold, on the signals each role has,
// with its own coverage guard. PipeActiveBelow is also the bar under which a
// pipe counts as idle when grading any miner verdict's strength.
type ComputeSignature struct {
	// BusyAbove: the mean of the busier of SM activity and DRAM activity
	// (0..1) must exceed it. DRAM covers memory-hard algorithms, whose SMs
	// wait on memory.
	BusyAbove float64 `json:"busy_above"`
	// BusyStdDevBelow: that signal's standard deviation must stay below it
	// (held, not bursty).
	BusyStdDevBelow float64 `json:"busy_stddev_below"`
	// PipeActiveBelow: the busiest math pipe's mean must stay below it.
	PipeActiveBelow float64 `json:"pipe_active_below"`
	// InterconnectBelow: mean PCIe plus NVLink traffic, both directions, in
	// bytes per second, must stay below it.
	InterconnectBelow float64 `json:"interconnect_below_bytes_per_second"`
	// MinCoverage: each needed signal's share of expected samples.
	MinCoverage float64 `json:"min_coverage"`
}

// Name is the rule's name in evidence, logs and metrics.
func (ComputeSignature) Name() string { return "compute_signature" }

// Judge applies the rule to the signals each role has (see Role): activity
// (SM_ACTIVE or GR_ENGINE_ACTIVE) or memory (DRAM_ACTIVE or MEM_COPY_UTIL),
// whichever is busier; the covered math pipes; the covered interconnect.
// Only signals covering MinCoverage of the window count; applies is false
// when a role it needs has none.
func (r ComputeSignature) Judge(p Profile) (miner bool, applies bool, reason string) {
	v := p.covered(r.MinCoverage).roles()
	switch {
	case v.activitySig == "" && v.memorySig == "":
		return false, false, fmt.Sprintf("no activity or memory signal covering %.2f of the window", r.MinCoverage)
	case len(v.pipes) == 0:
		return false, false, fmt.Sprintf("no math pipe signal covering %.2f of the window", r.MinCoverage)
	case len(v.interconnectSigs) == 0:
		return false, false, fmt.Sprintf("no interconnect signal covering %.2f of the window", r.MinCoverage)
	}
	busy, busyName := v.activity, v.activitySig
	if v.memorySig != "" && (busyName == "" || v.memory.Mean > busy.Mean) {
		busy, busyName = v.memory, v.memorySig
	}
	pipe, pipeName, _ := v.busiestPipe()
	link := v.interconnect
	numbers := fmt.Sprintf("%s mean %.3f stddev %.3f, %s mean %.4f, interconnect %s/s",
		busyName, busy.Mean, busy.StdDev, pipeName, pipe, humanBytes(link))
	switch {
	case busy.Mean <= r.BusyAbove:
		return false, true, fmt.Sprintf("%s: not busy (%.3f <= %g)", numbers, busy.Mean, r.BusyAbove)
	case busy.StdDev >= r.BusyStdDevBelow:
		return false, true, fmt.Sprintf("%s: activity varies (stddev %.3f >= %g)", numbers, busy.StdDev, r.BusyStdDevBelow)
	case pipe >= r.PipeActiveBelow:
		return false, true, fmt.Sprintf("%s: math pipes in use (%.4f >= %g)", numbers, pipe, r.PipeActiveBelow)
	case link >= r.InterconnectBelow:
		return false, true, fmt.Sprintf("%s: moves data (>= %s/s)", numbers, humanBytes(r.InterconnectBelow))
	}
	return true, true, fmt.Sprintf("%s: busy %.3f > %g held (stddev < %g), pipes < %g, interconnect < %s/s",
		numbers, busy.Mean, r.BusyAbove, r.BusyStdDevBelow, r.PipeActiveBelow, humanBytes(r.InterconnectBelow))
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
