package analyzer

import "strings"

// Finding is what one rule says of a GPU.
type Finding int

const (
	// Abstain: the rule has nothing to say (no signal for it, or it did not
	// fire); its reason still goes into the evidence.
	Abstain Finding = iota
	// SaysMiner: the rule fired.
	SaysMiner
	// SaysSpare: the GPU's work looks like ML or HPC; it spares a miner
	// opinion.
	SaysSpare
	// SaysBusy: a GPU no pod holds is busy.
	SaysBusy
)

// Opinion is one rule's judgement of one GPU with its reason and numbers.
type Opinion struct {
	Rule    string
	Finding Finding
	Reason  string
}

// Rule judges a GPU's facts. Every rule has this one shape; the analyzer
// runs them from one declared list (Config.rules) and combines their
// opinions by one stated rule (combine). A new rule touches its own file
// and one entry of the list.
type Rule interface {
	Name() string
	Judge(f *Facts) Opinion
}

// rules is the declared list, in the order their opinions are read: the
// first miner opinion names a miner verdict's rule.
func (c Config) rules() []Rule {
	veto := c.TrainingVeto
	veto.saturation = c.PipeSaturation
	return []Rule{c.FlatHighUtil, c.PipeSaturation, c.ComputeSignature, veto, c.BusyWithoutPod}
}

// combine turns the opinions into a verdict, the rule it rests on and the
// reason:
//   - a GPU no pod holds is busy_without_pod when a rule says busy (a miner
//     opinion no rule spares is added to its reason), else benign;
//   - otherwise, a spare opinion beats every miner opinion: benign, on the
//     spare's rule;
//   - otherwise, the first miner opinion makes it a miner;
//   - otherwise benign, on the first rule (the old detector's), with every
//     rule's reason.
func combine(f *Facts, ops []Opinion) (Verdict, string, string) {
	first := func(k Finding) (Opinion, bool) {
		for _, o := range ops {
			if o.Finding == k {
				return o, true
			}
		}
		return Opinion{}, false
	}
	miner, isMiner := first(SaysMiner)
	if !f.Attributed {
		// Utilization says busy already; a rule beyond it says how.
		miner, isMiner = Opinion{}, false
		for _, o := range ops {
			if o.Finding == SaysMiner && o.Rule != (FlatHighUtil{}).Name() {
				miner, isMiner = o, true
				break
			}
		}
		busy, ok := first(SaysBusy)
		if !ok {
			b, _ := findRule(ops, BusyWithoutPod{}.Name())
			return Benign, b.Rule, b.Reason
		}
		reason := busy.Reason
		if _, spared := first(SaysSpare); isMiner && !spared {
			reason += "; looks like a miner: " + miner.Rule + ": " + miner.Reason
		}
		return BusyUnattributed, busy.Rule, reason
	}
	if spare, ok := first(SaysSpare); ok && isMiner {
		return Benign, spare.Rule, miner.Reason + ", but " + spare.Reason
	}
	if isMiner {
		return Miner, miner.Rule, miner.Reason + others(ops, miner.Rule)
	}
	return Benign, ops[0].Rule, ops[0].Reason + others(ops, ops[0].Rule)
}

// others joins the reasons of the attributed-GPU rules other than skip.
func others(ops []Opinion, skip string) string {
	var b strings.Builder
	for _, o := range ops {
		if o.Rule == skip || o.Reason == "" || o.Rule == (BusyWithoutPod{}).Name() {
			continue
		}
		b.WriteString("; " + o.Rule + ": " + o.Reason)
	}
	return b.String()
}

func findRule(ops []Opinion, name string) (Opinion, bool) {
	for _, o := range ops {
		if o.Rule == name {
			return o, true
		}
	}
	return Opinion{}, false
}
