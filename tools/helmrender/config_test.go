package main

import (
	"strings"
	"testing"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/config"
	corev1 "k8s.io/api/core/v1"
)

// loadRenderedConfig parses the rendered config.yaml with the detector's own
// loader (unknown keys are errors there) and validates it.
func loadRenderedConfig(t *testing.T, objs []object) config.Config {
	t.Helper()
	var raw string
	for _, cm := range ofKind[*corev1.ConfigMap](objs) {
		if cm.Name == "miner-detector-config" {
			raw = cm.Data["config.yaml"]
		}
	}
	if raw == "" {
		t.Fatal("no ConfigMap miner-detector-config with config.yaml")
	}
	cfg := config.Default()
	if err := config.Parse([]byte(raw), &cfg); err != nil {
		t.Fatalf("the detector rejects the rendered config.yaml: %v\n%s", err, raw)
	}
	if err := cfg.ResolveSecrets(func(k string) string {
		if k == "POD_NAMESPACE" {
			return DefaultNamespace
		}
		return ""
	}); err != nil {
		t.Fatalf("rendered config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("rendered config is invalid: %v\n%s", err, raw)
	}
	return cfg
}

// The rendered config.yaml loads with the detector's loader, is dry-run by
// default, and names the state ConfigMap the Role lets it write.
func TestRenderedConfigLoads(t *testing.T) {
	cases := map[string]struct {
		set    []string
		files  []string
		check  func(t *testing.T, c config.Config)
		leader bool
	}{
		"defaults": {
			leader: true,
			check: func(t *testing.T, c config.Config) {
				if c.Actions.Enforce {
					t.Error("enforcing by default: dry-run must be the default")
				}
				if c.Prometheus.URL != "http://prometheus-operated.monitoring:9090" {
					t.Errorf("prometheus.url %q", c.Prometheus.URL)
				}
			},
		},
		"one replica": {set: []string{"replicaCount=1"}},
		"enforce": {
			set: []string{"config.actions.enforce=true", "config.actions.strikesToEnforce=3"}, leader: true,
			check: func(t *testing.T, c config.Config) {
				if !c.Actions.Enforce || c.Actions.StrikesToEnforce != 3 {
					t.Errorf("actions %+v", c.Actions)
				}
			},
		},
		"full config": {
			leader: true,
			files:  []string{"testdata/full-config.yaml"},
			check: func(t *testing.T, c config.Config) {
				if c.Window.String() != "6h" || c.Query.WorkloadLabels.Namespace != "exported_namespace" ||
					len(c.Actions.Exemptions) != 1 || c.MinCoverage != 0.5 || !c.Actions.AlertmanagerSilences.SuppressEnforcement {
					t.Errorf("values not carried into the config: %+v", c)
				}
				a := c.Analyzer()
				want := analyzer.PipeSaturation{MinActive: 0.3, IntegerAbove: 0.7, IntegerOverFloat: 4, IMMAAbove: 0.6, FloatBelow: 0.04, MemoryAbove: 0.85, IdleBelow: 0.03}
				if a.PipeSaturation != want || a.TrainingVeto.MemoryAbove != 0.2 || a.ComputeSignature.MinActive != 0.3 || a.BusyWithoutPod.MeanAbove != 60 {
					t.Errorf("rule thresholds not carried into the analyzer: %+v", a)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := renderOptions(t, Options{Set: tc.set, ValueFiles: tc.files})
			c := loadRenderedConfig(t, objs)
			if c.State.ConfigMap != "miner-detector-state" || c.State.Namespace != DefaultNamespace {
				t.Errorf("state %+v, want ConfigMap miner-detector-state in %s", c.State, DefaultNamespace)
			}
			raw := objs[0].Raw
			for _, o := range objs {
				if o.Kind == "ConfigMap" && o.Name == "miner-detector-config" {
					raw = o.Raw
				}
			}
			if got := strings.Contains(string(raw), "leaderElection:"); got != tc.leader {
				t.Errorf("leaderElection block present %v, want %v", got, tc.leader)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}
