package analyzer

import (
	"strings"
	"testing"
)

// throttledMiner is a profile every ComputeSignature threshold calls a
// miner: SMs held at 0.8, idle pipes, pool traffic of a few kB/s.
func throttledMiner() Profile {
	return Profile{
		SignalSM:     {Mean: 0.8, StdDev: 0.01, Samples: 240, Coverage: 1},
		SignalDRAM:   {Mean: 0.3, StdDev: 0.02, Samples: 240, Coverage: 1},
		SignalTensor: {Mean: 0.001, Samples: 240, Coverage: 1},
		SignalFP32:   {Mean: 0.001, Samples: 240, Coverage: 1},
		SignalPCIeTx: {Mean: 3000, Samples: 240, Coverage: 1},
		SignalPCIeRx: {Mean: 2000, Samples: 240, Coverage: 1},
	}
}

func TestComputeSignature(t *testing.T) {
	rule := DefaultConfig().ComputeSignature // busy > 0.5, stddev < 0.1, pipes < 0.02, link < 50 MB/s, coverage 0.9
	set := func(s Signal, mean, sd float64) func(Profile) {
		return func(p Profile) {
			st := p[s]
			st.Mean, st.StdDev, st.Samples, st.Coverage = mean, sd, 240, 1
			p[s] = st
		}
	}
	cover := func(s Signal, c float64) func(Profile) {
		return func(p Profile) { st := p[s]; st.Coverage = c; p[s] = st }
	}
	drop := func(s Signal) func(Profile) { return func(p Profile) { delete(p, s) } }
	cases := []struct {
		name      string
		mutate    []func(Profile)
		miner     bool
		applies   bool
		reasonHas []string
	}{
		{"throttled miner: every threshold holds", nil, true, true,
			[]string{"sm_active mean 0.800 stddev 0.010", "tensor_active mean 0.0010", "interconnect 5 kB/s"}},
		// busy
		{"SM exactly 0.5 is not busy (strict)", []func(Profile){set(SignalSM, 0.5, 0.01)}, false, true,
			[]string{"not busy", "0.500 <= 0.5"}},
		{"SM just above 0.5 is busy", []func(Profile){set(SignalSM, 0.5001, 0.01)}, true, true, nil},
		{"memory-hard miner: DRAM busier than SM decides", []func(Profile){set(SignalSM, 0.6, 0.02), set(SignalDRAM, 0.9, 0.01)}, true, true,
			[]string{"dram_active mean 0.900 stddev 0.010"}},
		{"memory-hard miner with waiting SMs: DRAM alone is busy enough", []func(Profile){set(SignalSM, 0.3, 0.02), set(SignalDRAM, 0.9, 0.01)}, true, true,
			[]string{"dram_active mean 0.900"}},
		{"neither SM nor DRAM busy: idle or light inference", []func(Profile){set(SignalSM, 0.35, 0.05), set(SignalDRAM, 0.2, 0.05)}, false, true,
			[]string{"sm_active mean 0.350", "not busy"}},
		// held
		{"stddev exactly 0.1 varies (strict)", []func(Profile){set(SignalSM, 0.8, 0.1)}, false, true,
			[]string{"activity varies", "stddev 0.100 >= 0.1"}},
		{"stddev just below 0.1 is held", []func(Profile){set(SignalSM, 0.8, 0.0999)}, true, true, nil},
		{"the busier signal's stddev counts: bursty DRAM", []func(Profile){set(SignalDRAM, 0.9, 0.2)}, false, true,
			[]string{"dram_active", "activity varies"}},
		// pipes
		{"tensor pipe exactly 0.02 is in use (strict)", []func(Profile){set(SignalTensor, 0.02, 0)}, false, true,
			[]string{"math pipes in use", "0.0200 >= 0.02"}},
		{"tensor pipe just below 0.02 is idle", []func(Profile){set(SignalTensor, 0.0199, 0)}, true, true, nil},
		{"FP32 pipe in use", []func(Profile){set(SignalFP32, 0.1, 0)}, false, true, []string{"fp32_active mean 0.1000"}},
		{"an optional FP16 pipe in use counts", []func(Profile){set(SignalFP16, 0.3, 0)}, false, true, []string{"fp16_active mean 0.3000"}},
		{"an optional FP64 pipe in use counts", []func(Profile){set(SignalFP64, 0.05, 0)}, false, true, []string{"fp64_active"}},
		// interconnect
		{"PCIe exactly 50 MB/s moves data (strict)", []func(Profile){set(SignalPCIeTx, 30e6, 0), set(SignalPCIeRx, 20e6, 0)}, false, true,
			[]string{"moves data (>= 50 MB/s)", "interconnect 50 MB/s"}},
		{"PCIe just below 50 MB/s", []func(Profile){set(SignalPCIeTx, 29_999_999, 0), set(SignalPCIeRx, 20e6, 0)}, true, true, nil},
		{"NVLink transmit counts in interconnect", []func(Profile){set(SignalNVLinkTx, 2e9, 0)}, false, true,
			[]string{"moves data", "interconnect 2 GB/s"}},
		{"NVLink receive counts in interconnect", []func(Profile){set(SignalNVLinkRx, 49_995_000, 0)}, false, true,
			[]string{"moves data"}},
		{"idle NVLink links do not clear a miner", []func(Profile){set(SignalNVLinkTx, 0, 0), set(SignalNVLinkRx, 0, 0)}, true, true, nil},
		// roles: each taken from the signals that are there
		{"SM missing: the graphics engine stands in for activity", []func(Profile){drop(SignalSM), set(SignalGREngine, 0.8, 0.01)}, true, true,
			[]string{"gr_engine_active mean 0.800"}},
		{"SM missing and DRAM not busy: not busy", []func(Profile){drop(SignalSM)}, false, true, []string{"dram_active mean 0.300", "not busy"}},
		{"no activity, no memory signal", []func(Profile){drop(SignalSM), drop(SignalDRAM)}, false, false, []string{"no activity or memory signal"}},
		{"DRAM missing: activity alone decides", []func(Profile){drop(SignalDRAM)}, true, true, []string{"sm_active mean 0.800"}},
		{"DRAM missing: memory copy utilization (percent) stands in", []func(Profile){drop(SignalSM), drop(SignalDRAM), set(SignalMemCopy, 0.9, 0.01)}, true, true,
			[]string{"mem_copy_util mean 0.900"}},
		{"tensor pipe missing: the covered FP32 pipe judges", []func(Profile){drop(SignalTensor)}, true, true, []string{"fp32_active mean 0.0010"}},
		{"FP32 pipe missing: the tensor pipe judges", []func(Profile){drop(SignalFP32)}, true, true, []string{"tensor_active mean 0.0010"}},
		{"no pipe at all", []func(Profile){drop(SignalTensor), drop(SignalFP32)}, false, false, []string{"no math pipe signal"}},
		{"PCIe transmit missing: receive alone is enough", []func(Profile){drop(SignalPCIeTx)}, true, true, []string{"interconnect 2 kB/s"}},
		{"PCIe receive missing: transmit alone is enough", []func(Profile){drop(SignalPCIeRx)}, true, true, []string{"interconnect 3 kB/s"}},
		{"PCIe receive alone shows traffic", []func(Profile){drop(SignalPCIeTx), set(SignalPCIeRx, 60e6, 0)}, false, true, []string{"moves data"}},
		{"no PROF interconnect: the DEV PCIe throughput stands in", []func(Profile){drop(SignalPCIeTx), drop(SignalPCIeRx), set(SignalPCIeRxKB, 4000, 0)}, true, true,
			[]string{"interconnect 4 kB/s"}},
		{"no PROF interconnect: DEV NVLink bandwidth shows traffic", []func(Profile){drop(SignalPCIeTx), drop(SignalPCIeRx), set(SignalNVLinkTotal, 3e9, 0)}, false, true,
			[]string{"moves data", "interconnect 3 GB/s"}},
		{"PROF interconnect is preferred over DEV throughput", []func(Profile){set(SignalPCIeRxKB, 9e9, 0)}, true, true, []string{"interconnect 5 kB/s"}},
		{"no interconnect signal", []func(Profile){drop(SignalPCIeTx), drop(SignalPCIeRx)}, false, false, []string{"no interconnect signal"}},
		{"no profiling at all", []func(Profile){func(p Profile) { clear(p) }}, false, false, []string{"no activity or memory signal"}},
		// coverage
		{"SM coverage below 0.9: not judged on it (DRAM 0.3 is not busy)", []func(Profile){cover(SignalSM, 0.89)}, false, true, []string{"dram_active", "not busy"}},
		{"every pipe below coverage 0.9 cannot judge", []func(Profile){cover(SignalTensor, 0.89), cover(SignalFP32, 0.5)}, false, false, []string{"covering 0.90"}},
		{"interconnect below coverage 0.9 cannot judge", []func(Profile){cover(SignalPCIeRx, 0.5), cover(SignalPCIeTx, 0.5)}, false, false, []string{"interconnect"}},
		{"coverage exactly 0.9 is enough", []func(Profile){cover(SignalSM, 0.9), cover(SignalTensor, 0.9)}, true, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := throttledMiner()
			for _, m := range c.mutate {
				m(p)
			}
			miner, applies, reason := rule.Judge(p)
			if miner != c.miner || applies != c.applies {
				t.Fatalf("Judge = miner %v applies %v (%q), want miner %v applies %v", miner, applies, reason, c.miner, c.applies)
			}
			if reason == "" {
				t.Fatal("a judgement without a reason")
			}
			for _, want := range c.reasonHas {
				if !strings.Contains(reason, want) {
					t.Errorf("reason %q does not mention %q", reason, want)
				}
			}
		})
	}
}

func TestComputeSignatureMinerReasonCarriesThresholds(t *testing.T) {
	_, _, reason := DefaultConfig().ComputeSignature.Judge(throttledMiner())
	for _, want := range []string{"busy 0.800 > 0.5", "stddev < 0.1", "pipes < 0.02", "interconnect < 50 MB/s"} {
		if !strings.Contains(reason, want) {
			t.Errorf("miner reason %q does not carry %q", reason, want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	cases := []struct {
		bytes float64
		want  string
	}{
		{0, "0 B"},
		{512, "512 B"},
		{999, "999 B"},
		{1000, "1 kB"},
		{5000, "5 kB"},
		{1234, "1.23 kB"},
		{1e6, "1 MB"},
		{1_234_567, "1.23 MB"},
		{2.5e9, "2.5 GB"},
		{3e12, "3 TB"},
		{4e15, "4e+03 TB"}, // beyond the largest unit: still the right number
		// Values that round up to the next unit must carry into it, not
		// print in exponent form ("1e+03 B").
		{999.7, "1 kB"},
		{999_999, "1 MB"},
	}
	for _, c := range cases {
		if got := humanBytes(c.bytes); got != c.want {
			t.Errorf("humanBytes(%v) = %q, want %q", c.bytes, got, c.want)
		}
	}
}

func TestComputeSignatureValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*ComputeSignature)
		field  string // empty: valid
	}{
		{"defaults", func(*ComputeSignature) {}, ""},
		{"full coverage required", func(r *ComputeSignature) { r.MinCoverage = 1 }, ""},
		{"busyAbove zero", func(r *ComputeSignature) { r.BusyAbove = 0 }, "rules.computeSignature.busyAbove"},
		{"busyAbove one can never be exceeded", func(r *ComputeSignature) { r.BusyAbove = 1 }, "rules.computeSignature.busyAbove"},
		{"busyStddevBelow zero can never hold", func(r *ComputeSignature) { r.BusyStdDevBelow = 0 }, "rules.computeSignature.busyStddevBelow"},
		{"busyStddevBelow negative", func(r *ComputeSignature) { r.BusyStdDevBelow = -0.1 }, "rules.computeSignature.busyStddevBelow"},
		{"pipeActiveBelow zero can never hold", func(r *ComputeSignature) { r.PipeActiveBelow = 0 }, "rules.computeSignature.pipeActiveBelow"},
		{"pipeActiveBelow one", func(r *ComputeSignature) { r.PipeActiveBelow = 1 }, "rules.computeSignature.pipeActiveBelow"},
		{"interconnectBelow zero can never hold", func(r *ComputeSignature) { r.InterconnectBelow = 0 }, "rules.computeSignature.interconnectBelowBytesPerSecond"},
		{"interconnectBelow negative", func(r *ComputeSignature) { r.InterconnectBelow = -1 }, "rules.computeSignature.interconnectBelowBytesPerSecond"},
		{"minCoverage zero", func(r *ComputeSignature) { r.MinCoverage = 0 }, "rules.computeSignature.minCoverage"},
		{"minCoverage above one", func(r *ComputeSignature) { r.MinCoverage = 1.1 }, "rules.computeSignature.minCoverage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.mutate(&cfg.ComputeSignature)
			err := cfg.ComputeSignature.validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("valid thresholds rejected: %v", err)
				}
				if err := cfg.Validate(); err != nil {
					t.Fatalf("Config.Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("validate() = %v, want an error naming %s", err, c.field)
			}
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("Config.Validate() = %v, want an error naming %s", err, c.field)
			}
		})
	}
}
