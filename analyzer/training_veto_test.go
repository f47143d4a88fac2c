package analyzer

import (
	"strings"
	"testing"
)

func TestTrainingVeto(t *testing.T) {
	rule := DefaultConfig().TrainingVeto // PipeActiveAbove 0.05
	pipes := func(tensor, fp16, fp32, fp64 float64) Profile {
		return Profile{
			SignalSM:     {Mean: 0.95, Coverage: 1},
			SignalTensor: {Mean: tensor, Coverage: 1},
			SignalFP16:   {Mean: fp16, Coverage: 1},
			SignalFP32:   {Mean: fp32, Coverage: 1},
			SignalFP64:   {Mean: fp64, Coverage: 1},
		}
	}
	cases := []struct {
		name      string
		rule      TrainingVeto
		profile   Profile
		spare     bool
		applies   bool
		reasonHas []string
	}{
		{"training: tensor pipe well above the bar is spared", rule, pipes(0.4, 0.1, 0.05, 0), true, true,
			[]string{"tensor_active", "0.400", "> 0.1"}},
		{"tensor pipe exactly at 0.1 is not spared (strict)", rule, pipes(0.1, 0, 0, 0), false, true,
			[]string{"busiest pipe tensor_active", "0.100", "<= 0.1"}},
		{"tensor pipe just above 0.1 is spared", rule, pipes(0.1001, 0, 0, 0), true, true,
			[]string{"tensor_active", "0.100", "> 0.1"}},
		{"hashing: every pipe idle is not spared", rule, pipes(0.001, 0.002, 0.003, 0), false, true,
			[]string{"busiest pipe fp32_active", "0.003", "<= 0.1"}},
		{"mixed precision: busy FP16 pipe spares though tensor idle", rule, pipes(0.01, 0.3, 0.02, 0), true, true,
			[]string{"fp16_active", "0.300"}},
		{"classic CUDA math: busy FP32 pipe spares", rule, pipes(0, 0, 0.2, 0), true, true,
			[]string{"fp32_active", "0.200"}},
		{"HPC: busy FP64 pipe spares", rule, pipes(0, 0, 0, 0.6), true, true,
			[]string{"fp64_active", "0.600"}},
		{"the busiest pipe decides, not the tensor pipe alone", rule, pipes(0.04, 0.01, 0.16, 0.02), true, true,
			[]string{"fp32_active", "0.160"}},
		{"a hashing kernel's FP32 noise of 0.05 is no training", rule, pipes(0, 0, 0.05, 0), false, true,
			[]string{"busiest pipe fp32_active", "0.050", "<= 0.1"}},
		{"busiest pipe below the bar names that pipe", rule, pipes(0.04, 0.01, 0.03, 0.02), false, true,
			[]string{"busiest pipe tensor_active", "0.040"}},
		{"only the tensor pipe exported still decides", rule, Profile{SignalSM: {Mean: 1}, SignalTensor: {Mean: 0.3}}, true, true,
			[]string{"tensor_active", "0.300"}},
		{"no pipe signal: the veto cannot judge", rule, Profile{SignalSM: {Mean: 0.99, Coverage: 1}, SignalDRAM: {Mean: 0.5, Coverage: 1}}, false, false, nil},
		{"no profiling at all: the veto cannot judge", rule, Profile{}, false, false, nil},
		{"disabled veto never applies, even to busy pipes", TrainingVeto{Disabled: true, PipeActiveAbove: 0.05}, pipes(0.9, 0.9, 0.9, 0.9), false, false, nil},
		{"custom threshold 0.3: tensor 0.25 is not spared", TrainingVeto{PipeActiveAbove: 0.3}, pipes(0.25, 0, 0, 0), false, true,
			[]string{"tensor_active", "0.250", "<= 0.3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spare, applies, reason := c.rule.Judge(c.profile)
			if spare != c.spare || applies != c.applies {
				t.Fatalf("Judge = spare %v applies %v (%q), want spare %v applies %v", spare, applies, reason, c.spare, c.applies)
			}
			if applies && reason == "" {
				t.Fatal("a judgement without a reason")
			}
			if !applies && (spare || reason != "") {
				t.Fatalf("not applicable but spare=%v reason=%q", spare, reason)
			}
			for _, want := range c.reasonHas {
				if !strings.Contains(reason, want) {
					t.Errorf("reason %q does not mention %q", reason, want)
				}
			}
		})
	}
}

func TestTrainingVetoValidate(t *testing.T) {
	cases := []struct {
		name  string
		above float64
		ok    bool
	}{
		{"default 0.05", 0.05, true},
		{"close to 1", 0.999, true},
		{"zero would spare any GPU with a pipe above 0", 0, false},
		{"one can never be exceeded", 1, false},
		{"above one", 1.5, false},
		{"negative", -0.1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := TrainingVeto{PipeActiveAbove: c.above}.validate()
			if c.ok {
				if err != nil {
					t.Fatalf("pipeActiveAbove %v rejected: %v", c.above, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("pipeActiveAbove %v accepted", c.above)
			}
			if !strings.Contains(err.Error(), "rules.trainingVeto.pipeActiveAbove") {
				t.Errorf("error %q does not name the field", err)
			}
			// Config.Validate reports it too.
			cfg := DefaultConfig()
			cfg.TrainingVeto.PipeActiveAbove = c.above
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "rules.trainingVeto.pipeActiveAbove") {
				t.Errorf("Config.Validate = %v, want the trainingVeto field named", err)
			}
		})
	}
}
