package main

import (
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// The chart passes `helm lint` (with warnings as errors, like --strict) with
// its defaults and with the value combinations the README documents.
func TestLint(t *testing.T) {
	cases := map[string][]string{
		"defaults":         nil,
		"one replica":      {"replicaCount=1"},
		"watch namespaces": {"watchNamespaces={team-a,team-b}"},
		"slack and enforce": {
			"slack.existingSecret=miner-detector-slack", "config.slack.channel=#gpu-abuse", "config.actions.enforce=true",
		},
		"everything off": {
			"networkPolicy.enabled=false", "serviceMonitor.enabled=false", "prometheusRule.enabled=false",
			"grafanaDashboards.enabled=false", "podDisruptionBudget.enabled=false", "rbac.create=false",
			"serviceAccount.create=false",
		},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			vals, err := Options{Set: set}.Values()
			if err != nil {
				t.Fatal(err)
			}
			linter := lint.All(chartDir, vals, DefaultNamespace, false)
			for _, m := range linter.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %s", m)
				} else {
					t.Logf("lint: %s", m)
				}
			}
			if linter.HighestSeverity >= support.WarningSev {
				t.Errorf("lint highest severity %d, want below warning", linter.HighestSeverity)
			}
		})
	}
}
