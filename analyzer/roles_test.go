package analyzer

import (
	"slices"
	"strings"
	"testing"
)

// The strength of a miner verdict's evidence, by what the cluster exports.
func TestStrength(t *testing.T) {
	cov := func(mean float64) SignalStats { return SignalStats{Mean: mean, Samples: 240, Coverage: 1} }
	allPipesIdle := Profile{SignalSM: cov(0.99), SignalTensor: cov(0), SignalFP16: cov(0), SignalFP32: cov(0.003), SignalFP64: cov(0),
		SignalDRAM: cov(0.2), SignalPCIeTx: cov(3e3), SignalPCIeRx: cov(2e3)}
	gpuOperator := Profile{SignalGREngine: cov(0.99), SignalTensor: cov(0), SignalDRAM: cov(0.2),
		SignalPCIeTx: cov(3e3), SignalPCIeRx: cov(2e3), SignalMemCopy: cov(0.2)}
	with := func(p Profile, s Signal, st SignalStats) Profile {
		out := Profile{}
		for k, v := range p {
			out[k] = v
		}
		out[s] = st
		return out
	}
	without := func(p Profile, ss ...Signal) Profile {
		out := Profile{}
		for k, v := range p {
			if !slices.Contains(ss, k) {
				out[k] = v
			}
		}
		return out
	}
	cases := []struct {
		name      string
		p         Profile
		want      Strength
		reasonHas string
	}{
		{"every DCP pipe covered and idle", allPipesIdle, StrengthStrong, "tensor_active, fp32_active, fp64_active covered and idle"},
		{"every pipe idle, even with the interconnect busy", with(allPipesIdle, SignalPCIeRx, cov(5e8)), StrengthStrong, ""},
		{"FP16 not exported: still strong", without(allPipesIdle, SignalFP16), StrengthStrong, ""},
		{"the GPU Operator's set: tensor idle, FP32/FP64 unseen", gpuOperator, StrengthPartial, "fp32_active, fp64_active not exported"},
		{"the GPU Operator's set, however quiet the PCIe", with(gpuOperator, SignalPCIeRx, cov(0)), StrengthPartial, "FP32/FP64 work"},
		{"FP64 not exported", without(allPipesIdle, SignalFP64), StrengthPartial, "fp64_active not exported"},
		{"FP32 covered, tensor not", without(allPipesIdle, SignalTensor), StrengthPartial, "tensor_active not exported"},
		{"a pipe between idle and busy", with(allPipesIdle, SignalFP32, cov(0.05)), StrengthPartial, "not idle"},
		{"a pipe exactly at the idle bar is not idle", with(allPipesIdle, SignalFP32, cov(0.02)), StrengthPartial, "not idle"},
		{"a pipe just under the idle bar is idle", with(allPipesIdle, SignalFP32, cov(0.0199)), StrengthStrong, ""},
		{"no pipe: SM and power only", Profile{SignalSM: cov(0.99), SignalPower: cov(390)}, StrengthUtilizationOnly, "no math pipe"},
		{"the exporter's default counters", Profile{SignalMemCopy: cov(0.2), SignalPCIeTxKB: cov(3), SignalPCIeRxKB: cov(2), SignalPower: cov(390)},
			StrengthUtilizationOnly, ""},
		{"nothing beyond utilization", Profile{}, StrengthUtilizationOnly, ""},
	}
	cfg := DefaultConfig()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason := grade(factsOf(99.8, 0.5, c.p, "NVIDIA A100-SXM4-80GB"), cfg.FlatHighUtil.Name(), cfg)
			if got != c.want {
				t.Fatalf("strength %s (%s), want %s", got, reason, c.want)
			}
			if !strings.Contains(reason, c.reasonHas) || reason == "" {
				t.Errorf("reason %q does not mention %q", reason, c.reasonHas)
			}
			if got.Enforceable() != (c.want == StrengthStrong) {
				t.Errorf("%s enforceable = %v", got, got.Enforceable())
			}
		})
	}
}

// Each role is read from the best signal that is there, and the evidence
// names what was used and what was absent.
func TestRoles(t *testing.T) {
	cov := func(mean float64) SignalStats { return SignalStats{Mean: mean, Samples: 240, Coverage: 1} }
	v := Profile{SignalGREngine: cov(0.9), SignalSM: cov(0.8), SignalMemCopy: cov(0.4), SignalTensor: cov(0.3),
		SignalPCIeRx: cov(1e6), SignalPCIeRxKB: cov(9e9)}.roles()
	if v.activitySig != SignalSM || v.memorySig != SignalMemCopy || v.interconnect != 1e6 {
		t.Fatalf("activity %s, memory %s, interconnect %v: want sm_active, mem_copy_util, 1e6 (PROF preferred)", v.activitySig, v.memorySig, v.interconnect)
	}
	if got, want := v.used(), []Signal{SignalSM, SignalTensor, SignalMemCopy, SignalPCIeRx}; !slices.Equal(got, want) {
		t.Errorf("used %v, want %v", got, want)
	}
	if got, want := v.absent(), []Signal{SignalFP16, SignalFP32, SignalFP64, SignalDRAM, SignalPCIeTx, SignalNVLinkTx, SignalNVLinkRx}; !slices.Equal(got, want) {
		t.Errorf("absent %v, want %v", got, want)
	}
}

// The inventory counts each GPU once, per covered signal, role and rule.
func TestInventory(t *testing.T) {
	g0, g1, g2 := gpu("n1", "0"), gpu("n1", "1"), gpu("n1", "2")
	in := []Series{}
	in = append(in, gpuSeries(g0, pod("a", "train"), flat(100), trainingProfile)...) // every pipe but FP64
	in = append(in, gpuSeries(g1, pod("a", "gpu-operator"), flat(100), map[Signal]float64{
		SignalGREngine: 1, SignalTensor: 0, SignalDRAM: 0.2, SignalPCIeRx: 1e6})...)
	in = append(in, gpuSeries(g2, pod("a", "old"), flat(50), nil)...)
	in = append(in, gpuSeries(g2, pod("b", "sharer"), flat(50), nil)...) // same GPU, second pod
	rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, profConfig())
	inv := rep.Inventory
	if inv.GPUs != 3 {
		t.Fatalf("%d GPUs, want 3 (a time-sliced GPU counts once)", inv.GPUs)
	}
	for sig, want := range map[Signal]int{SignalTensor: 2, SignalSM: 1, SignalGREngine: 1, SignalFP32: 1, SignalFP64: 0} {
		if inv.Signals[sig] != want {
			t.Errorf("%s on %d GPUs, want %d", sig, inv.Signals[sig], want)
		}
	}
	for role, want := range map[Role]int{RoleActivity: 2, RolePipes: 2, RoleMemory: 2, RoleInterconnect: 2} {
		if inv.Roles[role] != want {
			t.Errorf("role %s on %d GPUs, want %d", role, inv.Roles[role], want)
		}
	}
	for rule, want := range map[string]int{"flat_high_util": 3, "training_veto": 2, "compute_signature": 2} {
		if inv.Rules[rule] != want {
			t.Errorf("rule %s can judge %d GPUs, want %d", rule, inv.Rules[rule], want)
		}
	}
	if inv.StrongEvidence != 0 {
		t.Errorf("strong evidence possible on %d GPUs, want 0 (no FP64 anywhere)", inv.StrongEvidence)
	}
	if got := inv.Missing(); len(got) == 0 || got[0] != SignalFP32 || !slices.Contains(got, SignalFP64) {
		t.Errorf("missing %v: want fp32_active first, and fp64_active", got)
	}
	full := Inventory{GPUs: 1, Signals: map[Signal]int{}}
	for _, s := range ProfilingSignals() {
		full.Signals[s] = 1
	}
	if got := full.Missing(); len(got) != 0 {
		t.Errorf("every signal exported, yet missing %v", got)
	}
}
