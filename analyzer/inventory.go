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
	// strong (deletable) evidence: the integer pipe, or every pipe the
	// board reports that ML and HPC use (tensor, FP32, FP64 but on Ada)
	// covered.
	StrongEvidence int `json:"strong_evidence_possible"`
	// ProfilerFaults counts the GPUs whose profiling fields disagreed with
	// their utilization (zeros or a frozen reading on a busy GPU): judged
	// on utilization alone.
	ProfilerFaults int `json:"profiler_faults"`
	// SeriesDisagree counts the GPUs two of whose series report different
	// values for one chunk (two exporters, or a stale twin): never
	// enforceable while they do.
	SeriesDisagree int `json:"series_disagree"`
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
			RoleSaturation: slices.ContainsFunc(RoleSaturation.Signals(), func(s Signal) bool { _, ok := covered[s]; return ok }),
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
		if _, ok := covered[SignalInt]; ok || covered.has(SignalIMMA) || has[RoleMemory] {
			inv.Rules[cfg.PipeSaturation.Name()]++
		}
		if (has[RoleActivity] || has[RoleMemory]) && has[RolePipes] && has[RoleInterconnect] {
			inv.Rules[cfg.ComputeSignature.Name()]++
		}
		if g.ProfilerFault != "" {
			inv.ProfilerFaults++
		}
		if g.Disagreement != nil {
			inv.SeriesDisagree++
		}
		_, integer := covered[SignalInt]
		if integer || !slices.ContainsFunc(BoardOf(g.Model).strongPipes(), func(s Signal) bool { _, ok := covered[s]; return !ok }) {
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
