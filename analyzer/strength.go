package analyzer

import (
	"fmt"
	"slices"
)

// Strength is how much a miner verdict's evidence can bear. Only strong
// evidence is enforceable (deletable) by default.
//
// Measured on an NVIDIA H200 (analyzer/testdata/h200-telemetry.csv, NVML
// GPM at 1 s): an FP32 matrix loop without TF32 held utilization at a flat
// 100 % with the tensor pipe at 0.000 and the FP32 pipe at 0.76, and an FP64
// matrix loop ran on the tensor cores' DMMA path with the FP64 pipe at
// 0.000; an integer SHA-256 kernel left every math pipe at 0.000 with the
// integer pipe at 1.00. So an idle tensor pipe alone (the GPU Operator's
// counters) cannot clear FP32/FP64 work; every pipe such work uses, seen
// idle, can, and so can the integer pipe a hash kernel saturates.
type Strength string

const (
	// StrengthStrong: a hash kernel's integer pipe saturated (integer_hash),
	// or every pipe the board reports that training, inference or HPC use
	// (tensor, FP32, FP64 unless the board has none) covered and idle on a
	// GPU flat at full utilization, or held and quiet below it.
	StrengthStrong Strength = "strong"
	// StrengthPartial: the rules fired, but what they saw does not rule
	// out ML or HPC work (a pipe not exported, a pipe in use, a GPU that
	// paused or moved data, int8 tensor saturation): recorded, alerted and
	// posted, never deleted by default.
	StrengthPartial Strength = "partial"
	// StrengthUtilizationOnly: no math pipe covered, or a profiler that
	// disagrees with utilization: flat training cannot be told apart:
	// never deleted by default.
	StrengthUtilizationOnly Strength = "utilization_only"
)

// Enforceable reports whether a miner verdict of this strength may lead to
// a deletion without an operator's opt-in.
func (s Strength) Enforceable() bool { return s == StrengthStrong }

// grade grades the evidence of a miner verdict resting on rule.
func grade(f *Facts, rule string, cfg Config) (Strength, string) {
	idle := cfg.ComputeSignature.PipeActiveBelow
	if f.ProfilerFault != "" {
		return StrengthUtilizationOnly, "profiler fault: " + f.ProfilerFault
	}
	sig, _ := cfg.PipeSaturation.signature(f)
	if sig == sigIntegerHash {
		return StrengthStrong, "integer pipe saturated (pipe_saturation " + sig + "): the work a hash kernel cannot shed"
	}
	if len(f.view.pipes) == 0 {
		return StrengthUtilizationOnly, "no math pipe exported: flat training looks the same on utilization alone"
	}
	need := f.Board.strongPipes()
	var missing []Signal
	for _, s := range need {
		if !slices.Contains(f.view.pipes, s) {
			missing = append(missing, s)
		}
	}
	busiest, name, _ := f.busiest(f.view.pipes...)
	board := ""
	if !f.Board.FP64 {
		board = fmt.Sprintf(" (%s board: no FP64 pipe)", f.Board.Arch)
	}
	switch {
	case sig == sigInt8GEMM:
		return StrengthPartial, "int8 tensor pipe saturated, float pipes idle (pipe_saturation " + sig + "): GEMM proof of work, or a fully int8 inference engine"
	case busiest >= idle:
		return StrengthPartial, fmt.Sprintf("math pipe %s at %.3f while active is not idle (< %g)", name, busiest, idle)
	case len(missing) > 0:
		return StrengthPartial, fmt.Sprintf("covered pipes idle (busiest %s %.4f < %g), but %s not exported: FP32/FP64 work without tensor cores looks the same",
			name, busiest, idle, joinSignals(missing))
	}
	idlePipes := fmt.Sprintf("%s covered and idle%s (busiest %s %.4f < %g)", joinSignals(need), board, name, busiest, idle)
	if rule == cfg.FlatHighUtil.Name() {
		return StrengthStrong, idlePipes
	}
	if ok, how := cfg.ComputeSignature.corroborated(f); !ok {
		return StrengthPartial, idlePipes + ", but " + how
	} else {
		return StrengthStrong, idlePipes + ", " + how
	}
}
