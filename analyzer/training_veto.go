package analyzer

import "fmt"

// TrainingVeto spares a GPU the flat-high-utilization rule would call a
// miner when its math pipes are clearly busy: large-model training and
// batch inference hold utilization at a flat ~100 % for hours, but keep the
// tensor (or FP16/FP32/FP64) pipes busy, which hashing kernels do not.
type TrainingVeto struct {
	// Disabled turns the veto off: flat-high-utilization alone decides.
	Disabled bool `json:"disabled,omitempty"`
	// PipeActiveAbove: the busiest pipe's mean activity (0..1) above which
	// the GPU is doing floating-point or tensor math (strict).
	PipeActiveAbove float64 `json:"pipe_active_above"`
}

// Name is the rule's name in evidence, logs and metrics.
func (TrainingVeto) Name() string { return "training_veto" }

// Judge says whether the veto spares a GPU; applies reports whether it had
// the signals to decide.
func (r TrainingVeto) Judge(p Profile) (spare bool, applies bool, reason string) {
	if r.Disabled {
		return false, false, ""
	}
	mean, pipe, ok := p.pipe()
	if !ok {
		return false, false, ""
	}
	if mean > r.PipeActiveAbove {
		return true, true, fmt.Sprintf("%s mean %.3f > %g: math pipes busy, as in training or inference", pipe, mean, r.PipeActiveAbove)
	}
	return false, true, fmt.Sprintf("busiest pipe %s mean %.3f <= %g", pipe, mean, r.PipeActiveAbove)
}

func (r TrainingVeto) validate() error {
	if r.Disabled {
		return nil
	}
	if r.PipeActiveAbove <= 0 || r.PipeActiveAbove >= 1 {
		return fmt.Errorf("rules.trainingVeto.pipeActiveAbove: must be in (0, 1), got %v", r.PipeActiveAbove)
	}
	return nil
}
