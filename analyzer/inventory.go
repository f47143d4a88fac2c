package analyzer

import "slices"

// Inventory says what the cluster lets the detector see: per signal and per
// role, how many GPUs export it with enough coverage to judge on, and how
// many GPUs each rule and each evidence strength could reach. A GPU time-
// sliced by several pods counts once.
type Inventory struct {
	// GPUs is how many GPUs (or MIG instances) the window held.
	GPUs int `json:"gpus"`
	// Signals counts GPUs per covered signal; Roles per filled role.
	Signals map[Signal]int `json:"signals"`
	Roles   map[Role]int   `json:"roles"`
	// Rules counts the GPUs each rule has the signals to judge.
	Rules map[string]int `json:"rules"`
	// StrongEvidence counts the GPUs on which a miner verdict can reach
	// strong (deletable) evidence: tensor, FP32 and FP64 pipes covered.
	StrongEvidence int `json:"strong_evidence_possible"`
}

// Missing lists the signals some GPUs lack that would widen what can be
// decided, most useful first: the pipes strong evidence needs, SM activity,
// DRAM, then the interconnect.
func (inv Inventory) Missing() []Signal {
	var out []Signal
	for _, s := range []Signal{SignalFP32, SignalFP64, SignalTensor, SignalFP16, SignalSM, SignalDRAM, SignalPCIeTx, SignalPCIeRx, SignalNVLinkTx, SignalNVLinkRx} {
		if inv.Signals[s] < inv.GPUs {
			out = append(out, s)
		}
	}
	return out
}

func inventory(rep Report, cfg Config) Inventory {
	inv := Inventory{Signals: map[Signal]int{}, Roles: map[Role]int{}, Rules: map[string]int{}}
	seen := map[string]bool{}
	count := func(g GPUReport) {
		if seen[g.Key()] {
			return
		}
		seen[g.Key()] = true
		inv.GPUs++
		covered := g.Signals.covered(cfg.MinCoverage)
		for s := range covered {
			inv.Signals[s]++
		}
		v := covered.roles()
		has := map[Role]bool{
			RoleActivity: v.activitySig != "", RolePipes: len(v.pipes) > 0,
			RoleMemory: v.memorySig != "", RoleInterconnect: len(v.interconnectSigs) > 0,
		}
		for r, ok := range has {
			if ok {
				inv.Roles[r]++
			}
		}
		if g.Count > 0 {
			inv.Rules[cfg.FlatHighUtil.Name()]++
		}
		if has[RolePipes] {
			inv.Rules[cfg.TrainingVeto.Name()]++
		}
		if (has[RoleActivity] || has[RoleMemory]) && has[RolePipes] && has[RoleInterconnect] {
			inv.Rules[cfg.ComputeSignature.Name()]++
		}
		if !slices.ContainsFunc(strongPipes, func(s Signal) bool { _, ok := covered[s]; return !ok }) {
			inv.StrongEvidence++
		}
	}
	for _, p := range rep.Pods {
		for _, g := range p.GPUs {
			count(g)
		}
	}
	for _, g := range rep.UnattributedGPUs {
		count(g)
	}
	return inv
}
