package analyzer

import "fmt"

// TrainingVeto spares a flat-high-utilization GPU whose whole mix looks
// like ML or HPC work: large-model training, batch inference and
// simulation hold utilization at a flat ~100 % for hours, like a miner.
// No single busy pipe spares a GPU, because a token kernel on a spare pipe
// is cheap: the veto needs
//   - no saturation signature (PipeSaturation): a GPU saturated on what
//     proof of work scales with is not spared by anything beside it;
//   - float math busy while active: the busiest of the tensor pipe (its
//     HMMA/DFMA part where the subtypes are exported), FP16, FP32, FP64
//     above PipeActiveAbove;
//   - and, when that busiest pipe is the tensor pipe, device memory busy
//     beside it (above MemoryAbove while active). Tensor work streams
//     weights and activations from HBM: measured on an H200
//     (testdata/h200-telemetry.csv) DRAM 0.34 for bf16 LLM training, 0.23
//     for inference, 0.13 for FP64 DGEMM, 0.00 for a SHA-256 kernel. A
//     busy FP16/FP32/FP64 pipe needs no such support: filling it costs a
//     miner issue slots, that is hashrate, in proportion.
//
// What it costs a miner to pass it: a token tensor kernel (one HMMA every
// few dozen cycles, ~3 % of issue slots) plus a device-memory stream (a
// vector load every few hundred cycles, under 1 %) on boards without the
// integer pipe; on Hopper and newer the integer pipe gives a hash kernel
// away whatever it adds (PipeSaturation).
type TrainingVeto struct {
	// Disabled turns the veto off: flat-high-utilization alone decides.
	Disabled bool `json:"disabled,omitempty"`
	// PipeActiveAbove: the busiest float pipe's intensity while active
	// (0..1) above which the GPU does floating-point or tensor math
	// (strict).
	PipeActiveAbove float64 `json:"pipe_active_above"`
	// MemoryAbove: the device-memory intensity a busy tensor pipe needs
	// beside it (strict).
	MemoryAbove float64 `json:"memory_above"`

	saturation PipeSaturation
}

// Name is the rule's name in evidence, logs and metrics.
func (TrainingVeto) Name() string { return "training_veto" }

// Judge says spare when the GPU's mix looks like ML or HPC work.
func (r TrainingVeto) Judge(f *Facts) Opinion {
	o := Opinion{Rule: r.Name()}
	if r.Disabled {
		return o
	}
	tensor := []Signal{SignalTensor}
	if f.Profile.has(SignalHMMA) {
		tensor = []Signal{SignalHMMA, SignalDFMA}
	}
	pipe, name, ok := f.busiest(append(tensor, SignalFP16, SignalFP32, SignalFP64)...)
	if !ok {
		return o
	}
	if sig, _ := r.saturation.signature(f); sig != "" {
		o.Reason = "no veto: saturated as " + sig + " (pipe_saturation)"
		return o
	}
	if pipe <= r.PipeActiveAbove {
		o.Reason = fmt.Sprintf("busiest float pipe %s %.3f <= %g while active", name, pipe, r.PipeActiveAbove)
		return o
	}
	if name == SignalTensor || name == SignalHMMA || name == SignalDFMA {
		mem, ok := f.intensity(SignalDRAM)
		if !ok {
			mem, ok = f.intensity(SignalMemCopy)
		}
		switch {
		case !ok:
			o.Reason = fmt.Sprintf("%s %.3f > %g, but no device-memory signal to corroborate it: a tensor pipe alone spares nothing", name, pipe, r.PipeActiveAbove)
			return o
		case mem <= r.MemoryAbove:
			o.Reason = fmt.Sprintf("%s %.3f > %g, but device memory %.3f <= %g while active: tensor work without memory traffic is no ML",
				name, pipe, r.PipeActiveAbove, mem, r.MemoryAbove)
			return o
		}
		o.Finding = SaysSpare
		o.Reason = fmt.Sprintf("%s %.3f > %g with device memory %.3f > %g while active: tensor work as in training or inference",
			name, pipe, r.PipeActiveAbove, mem, r.MemoryAbove)
		return o
	}
	o.Finding = SaysSpare
	o.Reason = fmt.Sprintf("%s %.3f > %g while active: float math as in training, inference or HPC", name, pipe, r.PipeActiveAbove)
	return o
}

func (r TrainingVeto) validate() error {
	if r.Disabled {
		return nil
	}
	if r.PipeActiveAbove <= 0 || r.PipeActiveAbove >= 1 {
		return fmt.Errorf("rules.trainingVeto.pipeActiveAbove: must be in (0, 1), got %v", r.PipeActiveAbove)
	}
	if r.MemoryAbove < 0 || r.MemoryAbove >= 1 {
		return fmt.Errorf("rules.trainingVeto.memoryAbove: must be in [0, 1), got %v", r.MemoryAbove)
	}
	return nil
}
