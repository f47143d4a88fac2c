package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite deploy/manifests/miner-detector.yaml from the chart")

// plainManifests is the rendered file users without Helm apply.
var plainManifests = filepath.Join("..", "..", "deploy", "manifests", "miner-detector.yaml")

// The plain manifests are the chart's render with default values, byte for
// byte: they cannot drift from the chart.
func TestPlainManifestsMatchChart(t *testing.T) {
	want, err := Render(chartDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(plainManifests, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(plainManifests)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the chart's render (first difference at line %d); regenerate it from the repository root with\n  %s\nor: cd tools/helmrender && go test -run TestPlainManifestsMatchChart -update",
			plainManifests, firstDiffLine(got, want), RegenerateCommand)
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
