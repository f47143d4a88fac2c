package analyzer

import "fmt"

// BusyWithoutPod flags a GPU with sustained activity that no pod holds: a
// process outside Kubernetes' accounting (a pod that did not request
// nvidia.com/gpu but sees every GPU via NVIDIA_VISIBLE_DEVICES=all, or a
// process on the host). It is a finding on the node, never a deletion.
type BusyWithoutPod struct {
	// MeanAbove: mean utilization (percent) above which the GPU is busy.
	MeanAbove float64 `json:"mean_above"`
}

// Name is the rule's name in evidence, logs and metrics.
func (BusyWithoutPod) Name() string { return "busy_without_pod" }

// Judge applies the rule to an unattributed GPU's utilization; it abstains
// silently on a GPU a pod holds.
func (r BusyWithoutPod) Judge(f *Facts) Opinion {
	o := Opinion{Rule: r.Name()}
	if f.Attributed {
		return o
	}
	if f.Util.Mean > r.MeanAbove {
		o.Finding = SaysBusy
		o.Reason = fmt.Sprintf("no pod holds it, yet mean utilization %.2f > %g", f.Util.Mean, r.MeanAbove)
		return o
	}
	o.Reason = fmt.Sprintf("no pod holds it; mean utilization %.2f <= %g", f.Util.Mean, r.MeanAbove)
	return o
}

func (r BusyWithoutPod) validate() error {
	if r.MeanAbove < 0 || r.MeanAbove >= 100 {
		return fmt.Errorf("rules.busyWithoutPod.meanAbove: must be in [0, 100), got %v", r.MeanAbove)
	}
	return nil
}
