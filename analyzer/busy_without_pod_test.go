package analyzer

import (
	"strings"
	"testing"
)

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
