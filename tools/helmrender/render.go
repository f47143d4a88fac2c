package main

import (
	"bytes"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
)

// Defaults of the rendered plain manifests.
const (
	DefaultRelease   = "miner-detector"
	DefaultNamespace = "miner-detector"
)

// RegenerateCommand is how deploy/manifests/miner-detector.yaml is made.
const RegenerateCommand = "cd tools/helmrender && go run . ../../deploy/helm/miner-detector > ../../deploy/manifests/miner-detector.yaml"

// Options say what to render.
type Options struct {
	Release   string
	Namespace string
	// Set are key=value overrides as helm's --set spells them.
	Set []string
	// ValueFiles are values files as helm's -f takes them.
	ValueFiles []string
}

// Values merges the value files and the --set overrides (not the chart's
// defaults; the chart's own values.yaml is applied when rendering).
func (o Options) Values() (map[string]any, error) {
	opts := values.Options{ValueFiles: o.ValueFiles, Values: o.Set}
	v, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	return v, nil
}

// Render renders the chart at chartDir like `helm template`: the manifests in
// helm's install order, each preceded by "# Source: <template>", after a
// header saying how the output was made.
func Render(chartDir string, o Options) ([]byte, error) {
	if o.Release == "" {
		o.Release = DefaultRelease
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	manifest, err := renderManifest(chartDir, o)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(header(o))
	b.WriteString(manifest)
	b.WriteString("\n")
	return b.Bytes(), nil
}

func renderManifest(chartDir string, o Options) (string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return "", fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	vals, err := o.Values()
	if err != nil {
		return "", err
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.DryRunOption = "client"
	install.ClientOnly = true
	install.Replace = true // no release-name check against a cluster
	install.ReleaseName = o.Release
	install.Namespace = o.Namespace
	rel, err := install.Run(chrt, vals)
	if err != nil {
		return "", fmt.Errorf("render chart %s: %w", chrt.Name(), err)
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(rel.Manifest))
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "\n---\n# Source: %s\n%s", h.Path, strings.TrimSpace(h.Manifest))
	}
	return b.String(), nil
}

// header says the file is generated, from what, and how to make it again.
func header(o Options) string {
	var b strings.Builder
	b.WriteString("# Miner Detector: plain Kubernetes manifests, for installs without Helm.\n")
	if len(o.Set) == 0 && len(o.ValueFiles) == 0 && o.Release == DefaultRelease && o.Namespace == DefaultNamespace {
		b.WriteString("# GENERATED from the Helm chart deploy/helm/miner-detector with its default\n")
		b.WriteString("# values (release and namespace \"miner-detector\"). Do not edit: change the\n")
		b.WriteString("# chart, then regenerate from the repository root with\n")
		fmt.Fprintf(&b, "#   %s\n", RegenerateCommand)
	} else {
		b.WriteString("# GENERATED from the Helm chart deploy/helm/miner-detector by tools/helmrender\n")
		fmt.Fprintf(&b, "# (release %q, namespace %q, values files %q, overrides %q).\n", o.Release, o.Namespace, o.ValueFiles, o.Set)
	}
	fmt.Fprintf(&b, "# Apply after: kubectl create namespace %s\n", o.Namespace)
	b.WriteString("# The ServiceMonitor and PrometheusRule need prometheus-operator's CRDs.\n")
	return b.String()
}
