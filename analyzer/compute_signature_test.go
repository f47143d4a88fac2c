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
