package analyzer

import "fmt"

// PipeSaturation catches a GPU saturated on the resource a proof of work
// scales with, whatever its utilization looks like: a miner can cheaply
// add activity (a token tensor kernel, random pauses, a copy loop), but
// cannot remove the work its hashrate is made of. Intensities are read
// while a kernel ran (ratio / active share), so duty cycles, jitter and
// throttling leave them unchanged.
//
//   - integer_hash: the integer pipe (Hopper and newer) busy and at least
//     more than IntegerOverFloat times the busiest FP16/FP32/FP64 pipe. Hash kernels
//     (SHA-256d, Blake3, kHeavyHash, Keccak) are integer and bitwise work:
//     measured on an H200 (testdata/h200-telemetry.csv) the integer pipe
//     read 1.00 for a SHA-256 kernel and 0.17 for bf16 LLM training, 0.07
//     for inference, 0.06 for FP64 DGEMM. A miner that lifts a float pipe
//     to a third of its integer pipe spends about that share of its issue
//     slots: a third of its hashrate. The tensor pipe is not counted: a
//     token tensor kernel costs a few percent.
//   - int8_gemm: the int8 tensor pipe (IMMA) busy while every float pipe
//     (HMMA, FP16, FP32) is nearly idle: GEMM proof of work (Pearl's noised
//     int8 matrix products) has no normalization, softmax or dequantization
//     beside its matrix products. A fully int8 inference engine comes
//     close, so this is never strong evidence on its own.
//   - memory_dag: device memory saturated while the FP16, FP32 and (where
//     the board has it) FP64 pipes are idle: DAG algorithms (Ethash reads
//     64 × 128 B = 8 KiB of random DAG pages per hash, ethereum/execution-
//     specs ethash.py) scale with memory bandwidth. Memory-bound ML (LLM
//     decoding) and HPC keep float pipes busy beside memory.
type PipeSaturation struct {
	// Disabled turns the rule off.
	Disabled bool `json:"disabled,omitempty"`
	// MinActive: the share of the scope a kernel must have run (0..1).
	MinActive float64 `json:"min_active"`
	// IntegerAbove and IntegerOverFloat: integer_hash's bars (strict).
	IntegerAbove     float64 `json:"integer_above"`
	IntegerOverFloat float64 `json:"integer_over_float"`
	// IMMAAbove and FloatBelow: int8_gemm's bars.
	IMMAAbove  float64 `json:"imma_above"`
	FloatBelow float64 `json:"float_below"`
	// MemoryAbove and IdleBelow: memory_dag's bars.
	MemoryAbove float64 `json:"memory_above"`
	IdleBelow   float64 `json:"idle_below"`
}

// Name is the rule's name in evidence, logs and metrics.
func (PipeSaturation) Name() string { return "pipe_saturation" }

// The saturation signatures.
const (
	sigIntegerHash = "integer_hash"
	sigInt8GEMM    = "int8_gemm"
	sigMemoryDAG   = "memory_dag"
)

// Judge says miner when a saturation signature holds.
func (r PipeSaturation) Judge(f *Facts) Opinion {
	o := Opinion{Rule: r.Name()}
	if r.Disabled {
		return o
	}
	sig, why := r.signature(f)
	o.Reason = why
	if sig != "" {
		o.Finding = SaysMiner
	}
	return o
}

// signature names the saturation signature the GPU shows, with its
// numbers; "" with the reason when none holds or none can be judged.
func (r PipeSaturation) signature(f *Facts) (string, string) {
	if r.Disabled {
		return "", ""
	}
	if f.Active < r.MinActive {
		return "", fmt.Sprintf("active %.2f of the time (< %g)", f.Active, r.MinActive)
	}
	floatPipes := []Signal{SignalFP16, SignalFP32, SignalFP64}
	fp, fpName, fpOK := f.busiest(floatPipes...)
	if in, ok := f.intensity(SignalInt); ok {
		switch {
		case in <= r.IntegerAbove:
		case !fpOK:
			return sigIntegerHash, fmt.Sprintf("%s: integer pipe %.3f > %g while active, no FP16/FP32/FP64 pipe exported beside it",
				sigIntegerHash, in, r.IntegerAbove)
		case in > r.IntegerOverFloat*fp:
			return sigIntegerHash, fmt.Sprintf("%s: integer pipe %.3f > %g while active, %.1fx the busiest float pipe (%s %.3f; > %gx)",
				sigIntegerHash, in, r.IntegerAbove, in/max(fp, 1e-9), fpName, fp, r.IntegerOverFloat)
		}
	}
	if imma, ok := f.intensity(SignalIMMA); ok && imma > r.IMMAAbove {
		fl, flName, flOK := f.busiest(SignalHMMA, SignalFP16, SignalFP32, SignalDFMA)
		_, hmma := f.Profile[SignalHMMA]
		_, fp32 := f.Profile[SignalFP32]
		if flOK && hmma && fp32 && fl < r.FloatBelow {
			return sigInt8GEMM, fmt.Sprintf("%s: int8 tensor pipe %.3f > %g while active, every float pipe below %g (busiest %s %.3f)",
				sigInt8GEMM, imma, r.IMMAAbove, r.FloatBelow, flName, fl)
		}
	}
	if mem, ok := f.intensity(SignalDRAM); ok && mem > r.MemoryAbove {
		need := []Signal{SignalFP16, SignalFP32}
		if f.Board.FP64 {
			need = append(need, SignalFP64)
		}
		if f.Profile.has(need...) {
			if fl, flName, _ := f.busiest(need...); fl < r.IdleBelow {
				return sigMemoryDAG, fmt.Sprintf("%s: device memory %.3f > %g while active, %s idle (busiest %s %.4f < %g)",
					sigMemoryDAG, mem, r.MemoryAbove, joinSignals(need), flName, fl, r.IdleBelow)
			}
		}
	}
	return "", "no pipe saturated as proof of work saturates it"
}

func (r PipeSaturation) validate() error {
	if r.Disabled {
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"minActive", r.MinActive}, {"integerAbove", r.IntegerAbove}, {"immaAbove", r.IMMAAbove},
		{"floatBelow", r.FloatBelow}, {"memoryAbove", r.MemoryAbove}, {"idleBelow", r.IdleBelow}} {
		if f.v <= 0 || f.v >= 1 {
			return fmt.Errorf("rules.pipeSaturation.%s: must be in (0, 1), got %v", f.name, f.v)
		}
	}
	if r.IntegerOverFloat < 1 {
		return fmt.Errorf("rules.pipeSaturation.integerOverFloat: must be at least 1, got %v", r.IntegerOverFloat)
	}
	return nil
}
