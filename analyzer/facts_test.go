package analyzer

import (
	"strings"
	"testing"
)

// factsOf builds the facts the rules read: utilization mean and stddev
// (percent) over 240 samples, a covered profile, a board.
func factsOf(util, sd float64, p Profile, model string) *Facts {
	g := &group{pod: PodKey{"team", "pod"}, gpu: GPU{Model: model}}
	for s, st := range p {
		if st.Coverage == 0 {
			st.Coverage = 1
		}
		if st.Samples == 0 {
			st.Samples = 240
		}
		// Live readings spread a little; -1 asks for a reading stuck
		// exactly (a frozen profiler).
		switch {
		case st.StdDev < 0:
			st.StdDev = 0
		case st.StdDev == 0 && st.Mean > 0:
			st.StdDev = 0.005
		}
		p[s] = st
	}
	r := GPUReport{Stats: Stats{Moments: Moments{Count: 240, Mean: util, M2: sd * sd * 240}}, Signals: p}
	return newFacts(g, r, DefaultConfig())
}

func TestProfilerFault(t *testing.T) {
	busyPipes := func() Profile {
		return Profile{SignalGREngine: {Mean: 0.99, StdDev: 0.01}, SignalTensor: {Mean: 0.4}, SignalDRAM: {Mean: 0.4, StdDev: 0.02}}
	}
	cases := []struct {
		name   string
		util   float64
		sd     float64
		p      Profile
		mig    bool
		fault  string // substring; "" for none
		strong bool
	}{
		{"healthy training", 99, 0.7, busyPipes(), false, "", false},
		{"every PROF field 0 on a busy GPU (DCGM#303)", 99, 0.7, Profile{SignalGREngine: {}, SignalTensor: {}, SignalDRAM: {}, SignalPower: {Mean: 600}}, false, "every profiling field reads 0", false},
		{"every PROF field 0 at 50 % is not judged busy enough (strict)", 50, 1, Profile{SignalGREngine: {}, SignalTensor: {}}, false, "", false},
		{"graphics engine 0 while utilization 99 (dcgm-exporter#662)", 99, 0.7, Profile{SignalGREngine: {Mean: 0}, SignalTensor: {Mean: 0.3}, SignalDRAM: {Mean: 0.3}}, false, "gr_engine_active reads 0.0000", false},
		{"frozen graphics engine while utilization moves", 80, 10, Profile{SignalGREngine: {Mean: 0.7, StdDev: -1}, SignalTensor: {Mean: 0.3}}, false, "frozen at 0.700000", false},
		{"frozen needs utilization to move", 100, 0, Profile{SignalGREngine: {Mean: 0.99, StdDev: -1}, SignalTensor: {Mean: 0.3}}, false, "", false},
		{"an idle GPU's zeros are true", 0, 0, Profile{SignalGREngine: {}, SignalTensor: {}}, false, "", false},
		{"DEV fields only: nothing to check", 99, 0.5, Profile{SignalMemCopy: {Mean: 0.2}, SignalPower: {Mean: 300}}, false, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := factsOf(c.util, c.sd, c.p, "NVIDIA A100-SXM4-80GB")
			if c.fault == "" {
				if f.ProfilerFault != "" {
					t.Fatalf("fault %q, want none", f.ProfilerFault)
				}
				return
			}
			if !strings.Contains(f.ProfilerFault, c.fault) {
				t.Fatalf("fault %q, want it to say %q", f.ProfilerFault, c.fault)
			}
			for _, s := range profSignals {
				if _, ok := f.Profile[s]; ok {
					t.Errorf("%s still judged on a faulty profiler", s)
				}
			}
		})
	}
}

func TestIntensityIsPerActiveTime(t *testing.T) {
	// A duty-cycled miner: active 0.4 of the time, integer pipe 0.38 over
	// the window, 0.95 while it runs.
	f := factsOf(40, 49, Profile{SignalInt: {Mean: 0.38}, SignalFP32: {Mean: 0.001}}, "NVIDIA H100 80GB HBM3")
	got, ok := f.intensity(SignalInt)
	if !ok || got < 0.949 || got > 0.951 {
		t.Fatalf("intensity = %v, %v; want 0.95", got, ok)
	}
	idle := factsOf(4, 1, Profile{SignalInt: {Mean: 0.04}}, "")
	if _, ok := idle.intensity(SignalInt); ok {
		t.Fatal("an almost idle GPU's intensity computed over a tiny divisor")
	}
}

func TestBoardOf(t *testing.T) {
	cases := []struct {
		model              string
		arch               string
		fp64, integer, sub bool
	}{
		{"NVIDIA H100 80GB HBM3", "hopper", true, true, true},
		{"NVIDIA H200", "hopper", true, true, true},
		{"NVIDIA GH200 480GB", "hopper", true, true, true},
		{"NVIDIA B200", "blackwell", true, true, true},
		{"NVIDIA A100-SXM4-80GB", "ampere-ga100", true, false, true},
		{"NVIDIA A30", "ampere-ga100", true, false, true},
		{"NVIDIA A10G", "ampere", true, false, false},
		{"NVIDIA L4", "ada", false, false, false},
		{"NVIDIA L40S", "ada", false, false, false},
		{"NVIDIA RTX 6000 Ada Generation", "ada", false, false, false},
		{"", "unknown", true, false, false},
		{"Some Future GPU", "unknown", true, false, false},
	}
	for _, c := range cases {
		b := BoardOf(c.model)
		if b.Arch != c.arch || b.FP64 != c.fp64 || b.Integer != c.integer || b.TensorSubtypes != c.sub {
			t.Errorf("BoardOf(%q) = %+v, want %s fp64=%v int=%v subtypes=%v", c.model, b, c.arch, c.fp64, c.integer, c.sub)
		}
	}
}
