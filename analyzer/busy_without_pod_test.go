package analyzer

import (
	"strings"
	"testing"
)

func TestBusyWithoutPod(t *testing.T) {
	rule := DefaultConfig().BusyWithoutPod // MeanAbove 50
	cases := []struct {
		name      string
		rule      BusyWithoutPod
		mean      float64
		busy      bool
		reasonHas string
	}{
		{"idle GPU", rule, 0, false, "0.00 <= 50"},
		{"light use below the bar", rule, 30, false, "30.00 <= 50"},
		{"mean exactly 50 is not busy (strict)", rule, 50, false, "50.00 <= 50"},
		{"mean just above 50 is busy", rule, 50.0001, true, "50.00 > 50"},
		{"host process pinning the GPU", rule, 100, true, "100.00 > 50"},
		{"meanAbove 0: any activity is a finding", BusyWithoutPod{MeanAbove: 0}, 0.5, true, "0.50 > 0"},
		{"meanAbove 0: a fully idle GPU is not", BusyWithoutPod{MeanAbove: 0}, 0, false, "0.00 <= 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Stats{Moments: Moments{Count: 240, Mean: c.mean, Min: c.mean, Max: c.mean}}
			busy, reason := c.rule.Judge(s)
			if busy != c.busy {
				t.Fatalf("Judge(mean=%v) = %v (%s), want %v", c.mean, busy, reason, c.busy)
			}
			if !strings.Contains(reason, "no pod holds it") || !strings.Contains(reason, c.reasonHas) {
				t.Errorf("reason %q, want it to say no pod holds it and %q", reason, c.reasonHas)
			}
		})
	}
}

func TestBusyWithoutPodValidate(t *testing.T) {
	cases := []struct {
		name  string
		above float64
		ok    bool
	}{
		{"default 50", 50, true},
		{"zero: any activity", 0, true},
		{"99.9", 99.9, true},
		{"100 can never be exceeded", 100, false},
		{"above 100", 150, false},
		{"negative", -1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := BusyWithoutPod{MeanAbove: c.above}.validate()
			if c.ok != (err == nil) {
				t.Fatalf("meanAbove %v: validate() = %v, want ok=%v", c.above, err, c.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "rules.busyWithoutPod.meanAbove") {
				t.Errorf("error %q does not name the field", err)
			}
			cfg := DefaultConfig()
			cfg.BusyWithoutPod.MeanAbove = c.above
			if err := cfg.Validate(); c.ok != (err == nil) {
				t.Errorf("Config.Validate() = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
