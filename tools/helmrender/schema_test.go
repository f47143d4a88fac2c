package main

import (
	"strings"
	"testing"
)

// The values schema rejects wrong values, and its message names the field.
func TestSchemaRejectsBadValues(t *testing.T) {
	cases := []struct {
		name  string
		set   []string
		field string // what the error must name
	}{
		{"replicas not a number", []string{`replicaCount=two`}, "replicaCount"},
		{"zero replicas", []string{`replicaCount=0`}, "replicaCount"},
		{"unknown top-level key", []string{`replicas=2`}, "replicas"},
		{"unknown nested key", []string{`image.name=x`}, "name"},
		{"enforce not a boolean", []string{`config.actions.enforce=yes`}, "/config/actions/enforce"},
		{"unknown config key", []string{`config.prometheus.address=http://x`}, "address"},
		{"state belongs to the chart", []string{`config.state.configMap=x`}, "state"},
		{"leader election belongs to the chart", []string{`config.leaderElection.enabled=true`}, "leaderElection"},
		{"bad duration", []string{`config.window=an hour`}, "/config/window"},
		{"bad range semantics", []string{`config.query.rangeSemantics=open`}, "/config/query/rangeSemantics"},
		{"bad pull policy", []string{`image.pullPolicy=Sometimes`}, "/image/pullPolicy"},
		{"bad port", []string{`networkPolicy.egress.prometheus.port=70000`}, "/networkPolicy/egress/prometheus/port"},
		{"bad namespace name", []string{`watchNamespaces={Team_A}`}, "/watchNamespaces/0"},
		{"bad cidr", []string{`networkPolicy.egress.apiServer.cidrs={10.0.0.1}`}, "/networkPolicy/egress/apiServer/cidrs/0"},
		{"prometheus url without scheme", []string{`config.prometheus.url=prometheus:9090`}, "/config/prometheus/url"},
		{"unknown owners key", []string{`config.actions.owners.stopAfter=3`}, "stopAfter"},
		{"escalate after zero deletions", []string{`config.actions.owners.escalateAfter=0`}, "/config/actions/owners/escalateAfter"},
		{"stopOwners not a boolean", []string{`config.actions.owners.stopOwners=yes`}, "/config/actions/owners/stopOwners"},
		{"bad escalation period", []string{`config.actions.owners.escalationPeriod=a day`}, "/config/actions/owners/escalationPeriod"},
		{"training veto memory ratio of 1", []string{`config.rules.trainingVeto.memoryAbove=1`}, "/config/rules/trainingVeto/memoryAbove"},
		{"compute signature active share of 2", []string{`config.rules.computeSignature.minActive=2`}, "/config/rules/computeSignature/minActive"},
		{"pipe saturation enabled not a boolean", []string{`config.rules.pipeSaturation.enabled=yes`}, "/config/rules/pipeSaturation/enabled"},
		{"pipe saturation active share of 0", []string{`config.rules.pipeSaturation.minActive=0`}, "/config/rules/pipeSaturation/minActive"},
		{"integer pipe ratio of 1", []string{`config.rules.pipeSaturation.integerAbove=1`}, "/config/rules/pipeSaturation/integerAbove"},
		{"integer over float below 1", []string{`config.rules.pipeSaturation.integerOverFloat=0`}, "/config/rules/pipeSaturation/integerOverFloat"},
		{"int8 tensor ratio of 2", []string{`config.rules.pipeSaturation.immaAbove=2`}, "/config/rules/pipeSaturation/immaAbove"},
		{"float idle bar of 0", []string{`config.rules.pipeSaturation.floatBelow=0`}, "/config/rules/pipeSaturation/floatBelow"},
		{"memory ratio of 1", []string{`config.rules.pipeSaturation.memoryAbove=1`}, "/config/rules/pipeSaturation/memoryAbove"},
		{"idle bar of 1", []string{`config.rules.pipeSaturation.idleBelow=1`}, "/config/rules/pipeSaturation/idleBelow"},
		{"unknown pipe saturation key", []string{`config.rules.pipeSaturation.hashAbove=1`}, "hashAbove"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render(chartDir, Options{Set: c.set})
			if err == nil {
				t.Fatalf("values %q accepted", c.set)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), c.field) {
				t.Errorf("values %q: error does not name %q as a schema violation:\n%v", c.set, c.field, err)
			}
		})
	}
}

// The documented settings pass the schema.
func TestSchemaAcceptsDocumentedValues(t *testing.T) {
	for _, set := range [][]string{
		{"config.prometheus.url=https://thanos.example.com", "config.window=6h", "config.query.chunk=30m"},
		{"config.actions.enforce=true", "config.actions.strikesToEnforce=3", "config.actions.maxDeletionsPerCycle=2"},
		{"config.actions.alertmanagerSilences.url=http://alertmanager-operated.monitoring:9093",
			"config.actions.alertmanagerSilences.suppressEnforcement=true"},
		{"image.digest=sha256:" + strings.Repeat("ab", 32)},
		{"grafanaDashboards.namespace=monitoring", "serviceMonitor.interval=30s"},
		{"leaderElection.enabled=true", "replicaCount=1", "leaderElection.leaseDuration=30s"},
		{"config.rules.pipeSaturation.enabled=false", "config.rules.pipeSaturation.integerOverFloat=4"},
		{"config.actions.enforce=true", "config.actions.owners.stopOwners=true", "config.actions.owners.escalateAfter=2",
			"config.actions.owners.escalationPeriod=12h", "config.actions.owners.minOwnSpan=0s", "config.actions.owners.maxResolvesPerCycle=500"},
	} {
		if _, err := Render(chartDir, Options{Set: set}); err != nil {
			t.Errorf("values %q: %v", set, err)
		}
	}
}
