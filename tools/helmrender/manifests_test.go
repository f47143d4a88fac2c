package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite deploy/manifests/miner-detector.yaml (and the stopOwners render the RBAC tests use) from the chart")

// plainManifests is the rendered file users without Helm apply.
var plainManifests = filepath.Join("..", "..", "deploy", "manifests", "miner-detector.yaml")

// The plain manifests are the chart's render with default values, byte for
// byte: they cannot drift from the chart.
func TestPlainManifestsMatchChart(t *testing.T) {
	checkRender(t, plainManifests, Options{}, RegenerateCommand)
}

// stopOwnersManifests is the chart rendered with stopOwners on: the RBAC
// tests on the real API server (cmd/miner-detector) prove its extra rules
// are enough and minimal.
var stopOwnersManifests = filepath.Join("..", "..", "cmd", "miner-detector", "testdata", "chart-stop-owners.yaml")

func TestStopOwnersManifestsMatchChart(t *testing.T) {
	// Only the RBAC matters there: no dashboards, no monitoring objects.
	checkRender(t, stopOwnersManifests, Options{Set: []string{"config.actions.owners.stopOwners=true",
		"grafanaDashboards.enabled=false", "prometheusRule.enabled=false", "serviceMonitor.enabled=false"}},
		"make manifests")
}

// checkRender compares path with the chart's render (rewriting it with
// -update).
func checkRender(t *testing.T, path string, o Options, regenerate string) {
	t.Helper()
	want, err := Render(chartDir, o)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the chart's render (first difference at line %d); regenerate it from the repository root with\n  %s\nor: make manifests",
			path, firstDiffLine(got, want), regenerate)
	}
}

// The chart's copies of the alert rules and dashboards are identical to
// their sources, which other tests (promtool, the dashboards generator) own.
func TestChartFilesMatchSources(t *testing.T) {
	for copyName, source := range map[string]string{
		"prometheusrule.yaml":       filepath.Join("..", "..", "deploy", "prometheus", "prometheusrule.yaml"),
		"dashboards-configmap.yaml": filepath.Join("..", "..", "deploy", "grafana", "dashboards-configmap.yaml"),
	} {
		chartCopy := filepath.Join(chartDir, "files", copyName)
		got, err := os.ReadFile(chartCopy)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(source)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (line %d); copy it again: cp %s %s",
				chartCopy, source, firstDiffLine(got, want), source, chartCopy)
		}
	}
}

// firstDiffLine is the 1-based line where a and b first differ.
func firstDiffLine(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return line
		}
		if a[i] == '\n' {
			line++
		}
	}
	return line
}
