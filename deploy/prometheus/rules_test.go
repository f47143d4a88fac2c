// Package prometheus_test checks the alerting rules in this folder with the
// real promtool and amtool: syntax, unit tests, the PrometheusRule wrapper
// and the example Alertmanager configuration.
package prometheus_test

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const installHint = "install Debian's Prometheus and Alertmanager with " +
	"`apt-get install -y prometheus prometheus-alertmanager` (they provide promtool and amtool), " +
	"or run `make deps`"

func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if _, statErr := os.Stat("/usr/bin/" + name); statErr == nil {
			return "/usr/bin/" + name
		}
		t.Fatalf("%s not found: %s", name, installHint)
	}
	return path
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckRules(t *testing.T) {
	out := runTool(t, "promtool", "check", "rules", "miner-detector-rules.yaml")
	if !strings.Contains(out, "SUCCESS: 10 rules found") {
		t.Fatalf("promtool check rules: want 10 rules, got:\n%s", out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	out := runTool(t, "promtool", "test", "rules", "rules_test.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

// Every alert has a firing and a not-firing case in rules_test.yaml.
func TestEveryAlertIsUnitTested(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `json:"alert"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	readYAML(t, "miner-detector-rules.yaml", &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	readYAML(t, "rules_test.yaml", &tests)
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if !firing[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: rules_test.yaml needs a firing and a not-firing case (firing %v, not firing %v)", r.Alert, firing[r.Alert], quiet[r.Alert])
			}
			if r.Labels["severity"] == "" {
				t.Errorf("%s: no severity label", r.Alert)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			const prefix = "https://github.com/miner-detector/miner-detector/blob/main/"
			url := r.Annotations["runbook_url"]
			if !strings.HasPrefix(url, prefix) {
				t.Errorf("%s: runbook_url %q does not point into the repository", r.Alert, url)
				continue
			}
			if want := "docs/runbooks/" + r.Alert + ".md"; strings.TrimPrefix(url, prefix) != want {
				t.Errorf("%s: runbook_url %q, want …/%s", r.Alert, url, want)
			}
			if _, err := os.Stat("../../" + strings.TrimPrefix(url, prefix)); err != nil {
				t.Errorf("%s: runbook missing: %v", r.Alert, err)
			}
		}
	}
	if n != 10 {
		t.Errorf("want 10 alerts, found %d", n)
	}
}

func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	var plain map[string]any
	readYAML(t, "miner-detector-rules.yaml", &plain)
	var cr struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec map[string]any `json:"spec"`
	}
	readYAML(t, "prometheusrule.yaml", &cr)
	if cr.APIVersion != "monitoring.coreos.com/v1" || cr.Kind != "PrometheusRule" {
		t.Errorf("got %s %s, want monitoring.coreos.com/v1 PrometheusRule", cr.APIVersion, cr.Kind)
	}
	if cr.Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("metadata.labels.release = %q, want kube-prometheus-stack", cr.Metadata.Labels["release"])
	}
	if plain["groups"] == nil {
		t.Fatal("rules file has no groups")
	}
	if !reflect.DeepEqual(cr.Spec["groups"], plain["groups"]) {
		t.Errorf("prometheusrule.yaml spec.groups differs from miner-detector-rules.yaml: keep them identical")
	}
}

func TestAlertmanagerExampleConfig(t *testing.T) {
	out := runTool(t, "amtool", "check-config", "alertmanager-example.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("amtool check-config:\n%s", out)
	}
	// The Slack route must catch every alert of the rules file.
	raw, err := os.ReadFile("alertmanager-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`alertname=~"GPUMinerDetected|GPUBusyWithoutPod|MinerDetector.*"`, "api_url_file:", "send_resolved: true",
		".Labels.namespace", ".Labels.pod", ".Labels.node", ".Annotations.description"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("alertmanager-example.yaml lacks %s", want)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
