package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// valueKeys lists values.yaml's keys down to the documented leaves: maps
// that are settings of their own (selectors, label maps, resources) count as
// one key.
func valueKeys(prefix string, m map[string]any) []string {
	var keys []string
	for k, v := range m {
		key := prefix + k
		sub, ok := v.(map[string]any)
		if ok && len(sub) > 0 && key != "resources" && !strings.HasSuffix(key, "Selector") && !strings.HasSuffix(key, "additionalLabels") {
			keys = append(keys, valueKeys(key+".", sub)...)
			continue
		}
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

// The chart README's values table documents every value, and has the
// Install and Permissions sections other tools fill in.
func TestReadmeDocumentsValues(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]any
	if err := yaml.Unmarshal(raw, &vals); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)
	for _, key := range valueKeys("", vals) {
		if !strings.Contains(doc, "| `"+key+"` |") {
			t.Errorf("README.md values table lacks `%s`", key)
		}
	}
	for _, want := range []string{"## Install", "helm install miner-detector deploy/helm/miner-detector -n miner-detector --create-namespace",
		"## Permissions", "<!-- can-i:begin -->", "<!-- can-i:end -->", "## Enforcing", "config.actions.enforce=true"} {
		if !strings.Contains(doc, want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
}
