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
// utilization rule: every threshold must hold, on every signal it needs,
// with its own coverage guard.
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

// needed are the signals the rule cannot judge without.
var computeSignatureNeeds = []Signal{SignalSM, SignalDRAM, SignalTensor, SignalFP32, SignalPCIeTx, SignalPCIeRx}

// Judge applies the rule; applies is false when a needed signal is missing
// or thin.
func (r ComputeSignature) Judge(p Profile) (miner bool, applies bool, reason string) {
	for _, s := range computeSignatureNeeds {
		st, ok := p[s]
		if !ok || st.Coverage < r.MinCoverage {
			return false, false, fmt.Sprintf("%s missing or below coverage %.2f", s, r.MinCoverage)
		}
	}
	busy, busyName := p[SignalSM], SignalSM
	if d := p[SignalDRAM]; d.Mean > busy.Mean {
		busy, busyName = d, SignalDRAM
	}
	pipe, pipeName, _ := p.pipe()
	link := p.mean(SignalPCIeTx) + p.mean(SignalPCIeRx) + p.mean(SignalNVLinkTx) + p.mean(SignalNVLinkRx)
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
