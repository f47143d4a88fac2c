package analyzer

import "fmt"

// FlatHighUtil is the old detector's rule: a GPU held flat near full
// utilization is mining. Both comparisons are strict: a mean of exactly
// MeanAbove or a stddev of exactly StdDevBelow is benign.
//
// Evading it costs a miner only a few percent: throttling below MeanAbove
// or jitter above StdDevBelow. The rules beyond utilization
// (PipeSaturation, ComputeSignature) are there for those miners.
type FlatHighUtil struct {
	MeanAbove   float64 `json:"mean_above"`
	StdDevBelow float64 `json:"stddev_below"`
}

// Name is the rule's name in evidence, logs and metrics.
func (FlatHighUtil) Name() string { return "flat_high_util" }

// Judge applies the rule to the GPU's utilization over the scope. It
// judges GPUs no pod holds too (their finding is busy_without_pod).
func (r FlatHighUtil) Judge(f *Facts) Opinion {
	v, reason := r.judge(f.Util)
	o := Opinion{Rule: r.Name(), Reason: reason}
	if v == Miner {
		o.Finding = SaysMiner
	}
	return o
}

func (r FlatHighUtil) judge(s Stats) (Verdict, string) {
	mean, sd := s.Moments.Mean, s.Moments.StdDev()
	if mean > r.MeanAbove && sd < r.StdDevBelow {
		return Miner, fmt.Sprintf("mean %.2f > %g and stddev %.2f < %g", mean, r.MeanAbove, sd, r.StdDevBelow)
	}
	switch {
	case mean <= r.MeanAbove:
		return Benign, fmt.Sprintf("mean %.2f <= %g", mean, r.MeanAbove)
	default:
		return Benign, fmt.Sprintf("stddev %.2f >= %g", sd, r.StdDevBelow)
	}
}

func (r FlatHighUtil) validate() error {
	switch {
	case r.MeanAbove < 0 || r.MeanAbove >= 100:
		return fmt.Errorf("rule.meanAbove: must be in [0, 100), got %v", r.MeanAbove)
	case r.StdDevBelow <= 0:
		return fmt.Errorf("rule.stddevBelow: must be positive, got %v", r.StdDevBelow)
	}
	return nil
}
