package analyzer

import (
	"strings"
	"testing"
)

// The rules' tables, one row per case, boundary rows included. Profiles
// are window means; utilization sets the active share the ratios are
// divided by.
func TestPipeSaturation(t *testing.T) {
	rule := DefaultConfig().PipeSaturation
	h100 := "NVIDIA H100 80GB HBM3"
	cases := []struct {
		name  string
		util  float64
		p     Profile
		model string
		sig   string
		has   string
	}{
		{"SHA-256 on an H200: integer pipe 1.00", 99.9, Profile{SignalInt: {Mean: 1}, SignalFP32: {Mean: 0}, SignalTensor: {Mean: 0}}, h100, sigIntegerHash, "integer pipe 1.000 > 0.6"},
		{"bf16 LLM training on an H200: integer 0.17", 99.6, Profile{SignalInt: {Mean: 0.166}, SignalFP32: {Mean: 0.035}, SignalTensor: {Mean: 0.504}, SignalDRAM: {Mean: 0.339}}, h100, "", ""},
		{"integer exactly 0.6 is not saturated (strict)", 100, Profile{SignalInt: {Mean: 0.6}, SignalFP32: {Mean: 0}}, h100, "", ""},
		{"a token tensor kernel beside the hash changes nothing", 100, Profile{SignalInt: {Mean: 0.95}, SignalTensor: {Mean: 0.15}, SignalFP32: {Mean: 0.004}}, h100, sigIntegerHash, ""},
		{"duty cycle 40 %: judged while it mines", 40, Profile{SignalInt: {Mean: 0.38}, SignalFP32: {Mean: 0.001}}, h100, sigIntegerHash, "integer pipe 0.950"},
		{"active a fifth of the time: too little to judge", 20, Profile{SignalInt: {Mean: 0.19}}, h100, "", "active 0.20"},
		{"FP32 above a third of the integer pipe: ML-shaped enough (costs the miner a third)", 100, Profile{SignalInt: {Mean: 0.9}, SignalFP32: {Mean: 0.31}}, h100, "", ""},
		{"FP32 just under a third: still hashing", 100, Profile{SignalInt: {Mean: 0.9}, SignalFP32: {Mean: 0.29}}, h100, sigIntegerHash, "3.1x"},
		{"Pearl-style int8 GEMM: IMMA busy, float idle", 99, Profile{SignalIMMA: {Mean: 0.85}, SignalHMMA: {Mean: 0}, SignalFP32: {Mean: 0.01}, SignalFP16: {Mean: 0}}, h100, sigInt8GEMM, "int8 tensor pipe"},
		{"int8 batch inference: FP16 work beside IMMA", 95, Profile{SignalIMMA: {Mean: 0.5}, SignalHMMA: {Mean: 0.08}, SignalFP32: {Mean: 0.05}, SignalFP16: {Mean: 0.1}}, h100, "", ""},
		{"IMMA without HMMA exported cannot be judged pure", 99, Profile{SignalIMMA: {Mean: 0.85}, SignalFP32: {Mean: 0.01}}, h100, "", ""},
		{"DAG miner: memory saturated, float pipes idle", 100, Profile{SignalDRAM: {Mean: 0.9}, SignalFP16: {}, SignalFP32: {Mean: 0.003}, SignalFP64: {}}, "NVIDIA A100-SXM4-80GB", sigMemoryDAG, "device memory 0.900 > 0.8"},
		{"LLM decoding: memory saturated, FP32 in use", 100, Profile{SignalDRAM: {Mean: 0.9}, SignalFP16: {}, SignalFP32: {Mean: 0.05}, SignalFP64: {}}, "NVIDIA A100-SXM4-80GB", "", ""},
		{"memory saturated, FP64 not exported on an A100: cannot judge", 100, Profile{SignalDRAM: {Mean: 0.9}, SignalFP16: {}, SignalFP32: {}}, "NVIDIA A100-SXM4-80GB", "", ""},
		{"memory saturated on an L40S: no FP64 pipe needed", 100, Profile{SignalDRAM: {Mean: 0.9}, SignalFP16: {}, SignalFP32: {}}, "NVIDIA L40S", sigMemoryDAG, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := factsOf(c.util, 0.5, c.p, c.model)
			sig, why := rule.signature(f)
			if sig != c.sig {
				t.Fatalf("signature = %q (%s), want %q", sig, why, c.sig)
			}
			if !strings.Contains(why, c.has) {
				t.Errorf("reason %q does not say %q", why, c.has)
			}
			o := rule.Judge(f)
			if (o.Finding == SaysMiner) != (c.sig != "") || o.Rule != "pipe_saturation" {
				t.Errorf("Judge = %+v", o)
			}
		})
	}
}

func TestTrainingVeto(t *testing.T) {
	veto := DefaultConfig().rules()[3].(TrainingVeto)
	a100, h100 := "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"
	cases := []struct {
		name  string
		p     Profile
		model string
		spare bool
		has   string
	}{
		{"LLM training on an H200 (real): tensor 0.50, DRAM 0.34", Profile{SignalTensor: {Mean: 0.504}, SignalFP32: {Mean: 0.035}, SignalDRAM: {Mean: 0.339}}, a100, true, "tensor work"},
		{"inference on an H200 (real): tensor 0.75, DRAM 0.23", Profile{SignalTensor: {Mean: 0.745}, SignalFP32: {Mean: 0.049}, SignalDRAM: {Mean: 0.229}}, a100, true, ""},
		{"FP64 DGEMM on an H200 (real): DMMA 0.95 on the tensor pipe, DRAM 0.13", Profile{SignalTensor: {Mean: 0.947}, SignalFP64: {}, SignalDRAM: {Mean: 0.126}}, a100, true, ""},
		{"FP32 HPC (real): FP32 0.76 spares without memory", Profile{SignalTensor: {}, SignalFP32: {Mean: 0.764}, SignalDRAM: {Mean: 0.047}}, a100, true, "float math"},
		{"a token tensor kernel with no memory traffic spares nothing", Profile{SignalTensor: {Mean: 0.15}, SignalFP32: {Mean: 0.003}, SignalDRAM: {Mean: 0.0}}, a100, false, "without memory traffic"},
		{"device memory exactly 0.1 is not enough (strict)", Profile{SignalTensor: {Mean: 0.4}, SignalDRAM: {Mean: 0.1}}, a100, false, "0.100 <= 0.1"},
		{"tensor exactly 0.1 is not busy (strict)", Profile{SignalTensor: {Mean: 0.1}, SignalDRAM: {Mean: 0.4}}, a100, false, "<= 0.1"},
		{"tensor pipe alone, no memory signal: spares nothing", Profile{SignalTensor: {Mean: 0.5}}, a100, false, "no device-memory signal"},
		{"memory copy utilization stands in for DRAM", Profile{SignalTensor: {Mean: 0.5}, SignalMemCopy: {Mean: 0.3}}, a100, true, ""},
		{"a hash kernel with a token tensor kernel on an H100: no veto", Profile{SignalInt: {Mean: 0.95}, SignalTensor: {Mean: 0.15}, SignalFP32: {Mean: 0.003}, SignalDRAM: {Mean: 0.3}}, h100, false, "no veto: saturated as integer_hash"},
		{"subtypes exported: IMMA is not float math", Profile{SignalTensor: {Mean: 0.85}, SignalIMMA: {Mean: 0.85}, SignalHMMA: {Mean: 0.01}, SignalFP32: {Mean: 0.06}, SignalDRAM: {Mean: 0.3}}, h100, false, "busiest float pipe"},
		{"no pipe: the veto abstains silently", Profile{SignalDRAM: {Mean: 0.4}}, a100, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := veto.Judge(factsOf(100, 0.5, c.p, c.model))
			if (o.Finding == SaysSpare) != c.spare {
				t.Fatalf("spare = %v (%s), want %v", o.Finding == SaysSpare, o.Reason, c.spare)
			}
			if !strings.Contains(o.Reason, c.has) {
				t.Errorf("reason %q does not say %q", o.Reason, c.has)
			}
		})
	}
}

func TestComputeSignature(t *testing.T) {
	rule := DefaultConfig().ComputeSignature
	miner := func() Profile {
		return Profile{SignalSM: {Mean: 0.8, StdDev: 0.01}, SignalDRAM: {Mean: 0.2, StdDev: 0.02}, SignalTensor: {Mean: 0.001},
			SignalFP32: {Mean: 0.001}, SignalPCIeTx: {Mean: 3000}, SignalPCIeRx: {Mean: 2000}}
	}
	with := func(p Profile, s Signal, st SignalStats) Profile { p[s] = st; return p }
	cases := []struct {
		name       string
		util       float64
		p          Profile
		miner      bool
		has        string
		corrobated bool
	}{
		{"throttled miner at 80 %: held and quiet", 80, miner(), true, "sm_active 1.000 while active", true},
		{"SM exactly 0.5 while active is not busy (strict)", 100, with(miner(), SignalSM, SignalStats{Mean: 0.5, StdDev: 0.01}), false, "not busy", false},
		{"jittering miner: busy while active, not held", 78, with(miner(), SignalSM, SignalStats{Mean: 0.76, StdDev: 0.13}), true, "", false},
		{"copy loop: busy, moves data", 100, with(miner(), SignalPCIeRx, SignalStats{Mean: 5e9}), true, "", false},
		{"duty cycle 40 %: SM 0.39 over the window is 0.97 while active", 40, with(miner(), SignalSM, SignalStats{Mean: 0.39, StdDev: 0.48}), true, "", false},
		{"tensor exactly 0.02 while active is in use (strict)", 100, with(miner(), SignalTensor, SignalStats{Mean: 0.02}), false, "math pipes in use", false},
		{"GPU ETL: FP32 0.05 while active", 65, with(miner(), SignalFP32, SignalStats{Mean: 0.033}), false, "math pipes in use", false},
		{"active a fifth of the time: too little", 20, with(miner(), SignalSM, SignalStats{Mean: 0.19, StdDev: 0.4}), false, "active 0.20", false},
		{"no pipe exported", 80, Profile{SignalSM: {Mean: 0.8}}, false, "no math pipe signal", false},
		{"no activity or memory", 80, Profile{SignalTensor: {}}, false, "no activity or memory signal", false},
		{"SM coverage below 0.9 is not judged on", 80, with(miner(), SignalSM, SignalStats{Mean: 0.8, Coverage: 0.89}), false, "not busy", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := factsOf(c.util, 1, c.p, "NVIDIA A100-SXM4-80GB")
			o := rule.Judge(f)
			if (o.Finding == SaysMiner) != c.miner {
				t.Fatalf("miner = %v (%s), want %v", o.Finding == SaysMiner, o.Reason, c.miner)
			}
			if !strings.Contains(o.Reason, c.has) {
				t.Errorf("reason %q does not say %q", o.Reason, c.has)
			}
			if c.miner {
				if ok, how := rule.corroborated(f); ok != c.corrobated {
					t.Errorf("corroborated = %v (%s), want %v", ok, how, c.corrobated)
				}
			}
		})
	}
}

func TestGrade(t *testing.T) {
	cfg := DefaultConfig()
	idle := func() Profile {
		return Profile{SignalSM: {Mean: 0.97, StdDev: 0.01}, SignalTensor: {}, SignalFP32: {Mean: 0.003}, SignalFP64: {}, SignalFP16: {},
			SignalPCIeTx: {Mean: 3000}}
	}
	with := func(p Profile, s Signal, st SignalStats) Profile { p[s] = st; return p }
	without := func(p Profile, s Signal) Profile { delete(p, s); return p }
	cases := []struct {
		name  string
		util  float64
		p     Profile
		model string
		rule  string
		want  Strength
		has   string
	}{
		{"every pipe idle on a flat GPU", 99.8, idle(), "NVIDIA A100-SXM4-80GB", "flat_high_util", StrengthStrong, "covered and idle"},
		{"FP64 not exported on an A100: partial", 99.8, without(idle(), SignalFP64), "NVIDIA A100-SXM4-80GB", "flat_high_util", StrengthPartial, "fp64_active not exported"},
		{"FP64 not exported on an L40S: the board has none", 99.8, without(idle(), SignalFP64), "NVIDIA L40S", "flat_high_util", StrengthStrong, "no FP64 pipe"},
		{"a pipe in use: partial", 99.8, with(idle(), SignalTensor, SignalStats{Mean: 0.15}), "NVIDIA A100-SXM4-80GB", "flat_high_util", StrengthPartial, "not idle"},
		{"integer pipe saturated: strong whatever else", 78, with(with(idle(), SignalInt, SignalStats{Mean: 0.74}), SignalTensor, SignalStats{Mean: 0.12}), "NVIDIA H100 80GB HBM3", "pipe_saturation", StrengthStrong, "cannot shed"},
		{"int8 GEMM: partial", 99, Profile{SignalTensor: {Mean: 0.85}, SignalIMMA: {Mean: 0.85}, SignalHMMA: {}, SignalFP32: {Mean: 0.01}, SignalFP16: {}, SignalFP64: {}}, "NVIDIA H100 80GB HBM3", "pipe_saturation", StrengthPartial, "int8"},
		{"below 95, idle pipes, held and quiet: strong", 80, with(idle(), SignalSM, SignalStats{Mean: 0.78, StdDev: 0.01}), "NVIDIA A100-SXM4-80GB", "compute_signature", StrengthStrong, "held"},
		{"below 95, idle pipes, jittered: partial", 78, with(idle(), SignalSM, SignalStats{Mean: 0.76, StdDev: 0.13}), "NVIDIA A100-SXM4-80GB", "compute_signature", StrengthPartial, "paused or jittered"},
		{"no pipe: utilization only", 99.8, Profile{SignalPower: {Mean: 300}}, "", "flat_high_util", StrengthUtilizationOnly, "no math pipe"},
		{"zeros on a busy GPU: utilization only, never strong", 99.8, Profile{SignalSM: {}, SignalTensor: {}, SignalFP32: {}, SignalFP64: {}, SignalFP16: {}}, "NVIDIA A100-SXM4-80GB", "flat_high_util", StrengthUtilizationOnly, "profiler fault"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := grade(factsOf(c.util, 0.5, c.p, c.model), c.rule, cfg)
			if got != c.want || !strings.Contains(why, c.has) {
				t.Fatalf("grade = %s (%s), want %s saying %q", got, why, c.want, c.has)
			}
		})
	}
}

func TestFlatHighUtil(t *testing.T) {
	rule := DefaultConfig().FlatHighUtil
	cases := []struct {
		name   string
		mean   float64
		stddev float64
		want   bool
	}{
		{"flat at full utilization", 99.5, 0.3, true},
		{"just above both thresholds", 95.0001, 1.9999, true},
		{"mean exactly 95 is benign", 95.0, 0.1, false},
		{"stddev exactly 2 is benign", 99.0, 2.0, false},
		{"mean and stddev exactly at thresholds", 95.0, 2.0, false},
		{"high but bursty (training)", 97, 8, false},
		{"flat but throttled below the bar", 90, 0.2, false},
		{"idle", 0, 0, false},
		{"pinned at 100", 100, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := rule.Judge(factsOf(c.mean, c.stddev, Profile{}, ""))
			if (o.Finding == SaysMiner) != c.want || o.Reason == "" {
				t.Fatalf("Judge(mean=%v, stddev=%v) = %+v, want miner %v", c.mean, c.stddev, o, c.want)
			}
		})
	}
	custom := FlatHighUtil{MeanAbove: 80, StdDevBelow: 5}
	if o := custom.Judge(factsOf(85, 4, Profile{}, "")); o.Finding != SaysMiner {
		t.Fatalf("custom thresholds: %+v, want miner", o)
	}
}

func TestBusyWithoutPod(t *testing.T) {
	rule := DefaultConfig().BusyWithoutPod
	for _, c := range []struct {
		mean float64
		busy bool
		has  string
	}{{0, false, "0.00 <= 50"}, {50, false, "50.00 <= 50"}, {50.0001, true, "50.00 > 50"}, {100, true, "100.00 > 50"}} {
		f := factsOf(c.mean, 0, Profile{}, "")
		f.Attributed = false
		o := rule.Judge(f)
		if (o.Finding == SaysBusy) != c.busy || !strings.Contains(o.Reason, c.has) || !strings.Contains(o.Reason, "no pod holds it") {
			t.Errorf("mean %v: %+v, want busy %v saying %q", c.mean, o, c.busy, c.has)
		}
	}
	f := factsOf(100, 0, Profile{}, "")
	if o := rule.Judge(f); o.Finding != Abstain || o.Reason != "" {
		t.Errorf("a GPU a pod holds: %+v, want a silent abstention", o)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.MinCoverage = 0 },
		func(c *Config) { c.MinCoverage = 1.5 },
		func(c *Config) { c.FlatHighUtil.MeanAbove = 100 },
		func(c *Config) { c.FlatHighUtil.StdDevBelow = 0 },
		func(c *Config) { c.ScrapeInterval = -1 },
		func(c *Config) { c.ValidMax = c.ValidMin },
		func(c *Config) { c.PipeSaturation.IntegerAbove = 1 },
		func(c *Config) { c.PipeSaturation.IntegerOverFloat = 0.5 },
		func(c *Config) { c.TrainingVeto.MemoryAbove = 1 },
		func(c *Config) { c.ComputeSignature.MinActive = -0.1 },
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	for i, mutate := range bad {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: invalid config accepted: %+v", i, c)
		}
	}
}
