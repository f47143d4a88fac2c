package analyzer

import "testing"

func TestFlatHighUtil(t *testing.T) {
	rule := DefaultConfig().FlatHighUtil
	cases := []struct {
		name   string
		mean   float64
		stddev float64
		want   Verdict
	}{
		{"flat at full utilization", 99.5, 0.3, Miner},
		{"just above both thresholds", 95.0001, 1.9999, Miner},
		{"mean exactly 95 is benign", 95.0, 0.1, Benign},
		{"stddev exactly 2 is benign", 99.0, 2.0, Benign},
		{"mean and stddev exactly at thresholds", 95.0, 2.0, Benign},
		{"high but bursty (training)", 97, 8, Benign},
		{"flat but throttled below the bar", 90, 0.2, Benign},
		{"idle", 0, 0, Benign},
		{"pinned at 100", 100, 0, Miner},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Stats{Moments: Moments{Count: 100, Mean: c.mean, M2: c.stddev * c.stddev * 100}}
			got, reason := rule.Judge(s)
			if got != c.want {
				t.Fatalf("Judge(mean=%v, stddev=%v) = %s (%s), want %s", c.mean, c.stddev, got, reason, c.want)
			}
			if reason == "" {
				t.Fatal("verdict without a reason")
			}
		})
	}
}

func TestFlatHighUtilConfigurable(t *testing.T) {
	rule := FlatHighUtil{MeanAbove: 80, StdDevBelow: 5}
	s := Stats{Moments: Moments{Count: 10, Mean: 85, M2: 16 * 10}} // stddev 4
	if got, _ := rule.Judge(s); got != Miner {
		t.Fatalf("custom thresholds: got %s, want miner", got)
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
