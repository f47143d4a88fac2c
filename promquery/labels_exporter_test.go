package promquery

import (
	"testing"

	"github.com/prometheus/common/model"
)

// A pod named like dcgm-exporter is the exporter only where the exporter
// runs; anywhere else it is a workload, judged like any other.
func TestExporterPodOnlyInExporterNamespaces(t *testing.T) {
	a := newAttribution(DefaultConfig())
	cases := []struct {
		name    string
		labels  model.Metric
		wantPod string
	}{
		{"the GPU Operator's exporter pod on an idle GPU",
			model.Metric{"namespace": "gpu-operator", "pod": "nvidia-dcgm-exporter-x7k2p"}, ""},
		{"the standalone chart's exporter in monitoring",
			model.Metric{"namespace": "monitoring", "pod": "dcgm-exporter-abc12"}, ""},
		{"a tenant's pod named like the exporter",
			model.Metric{"namespace": "free-notebooks", "pod": "dcgm-exporter-abc12"}, "dcgm-exporter-abc12"},
		{"a tenant's pod named like the GPU Operator's exporter",
			model.Metric{"namespace": "team-a", "pod": "nvidia-dcgm-exporter-zz9"}, "nvidia-dcgm-exporter-zz9"},
		{"exported layout: the workload in exported_*, the exporter in pod",
			model.Metric{"namespace": "gpu-operator", "pod": "nvidia-dcgm-exporter-x7k2p", "exported_namespace": "team-a", "exported_pod": "dcgm-exporter-abc12"},
			"dcgm-exporter-abc12"},
		{"an ordinary workload pod in an exporter namespace is still a workload",
			model.Metric{"namespace": "monitoring", "pod": "prometheus-0"}, "prometheus-0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := a.workload(c.labels).Pod; got != c.wantPod {
				t.Errorf("workload pod %q, want %q", got, c.wantPod)
			}
		})
	}
}
