package promquery

import (
	"testing"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/prometheus/common/model"
)

func TestWorkloadAttribution(t *testing.T) {
	auto := newAttribution(DefaultConfig())
	explicit := DefaultConfig()
	explicit.Workload = LabelMapping{Namespace: "k8s_ns", Pod: "k8s_pod", Container: "k8s_container"}
	cases := []struct {
		name   string
		attr   attribution
		labels model.Metric
		want   analyzer.Workload
	}{
		{"honored labels", auto,
			model.Metric{"namespace": "team-a", "pod": "train-0", "container": "main"},
			analyzer.Workload{Namespace: "team-a", Pod: "train-0", Container: "main"}},
		{"exported labels win over the exporter's own", auto,
			model.Metric{"namespace": "gpu-operator", "pod": "nvidia-dcgm-exporter-x1", "exported_namespace": "team-a", "exported_pod": "train-0", "exported_container": "main"},
			analyzer.Workload{Namespace: "team-a", Pod: "train-0", Container: "main"}},
		{"idle GPU carries only the exporter's pod", auto,
			model.Metric{"namespace": "gpu-operator", "pod": "nvidia-dcgm-exporter-x1", "container": "nvidia-dcgm-exporter"},
			analyzer.Workload{}},
		{"standalone dcgm-exporter", auto,
			model.Metric{"namespace": "monitoring", "pod": "dcgm-exporter-abcde"},
			analyzer.Workload{}},
		{"no workload labels", auto, model.Metric{"gpu": "0"}, analyzer.Workload{}},
		{"explicit mapping", newAttribution(explicit),
			model.Metric{"k8s_ns": "x", "k8s_pod": "y", "pod": "ignored", "exported_pod": "ignored"},
			analyzer.Workload{Namespace: "x", Pod: "y"}},
	}
	for _, c := range cases {
		if got := c.attr.workload(c.labels); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestNamespaceFilters(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Namespaces = []string{"a", "b"}
	cfg.ExcludeNamespaces = []string{"b"}
	a := newAttribution(cfg)
	for ns, want := range map[string]bool{"a": true, "b": false, "c": false} {
		if got := a.wanted(analyzer.Workload{Namespace: ns, Pod: "p"}); got != want {
			t.Errorf("namespace %s: wanted=%v, want %v", ns, got, want)
		}
	}
	if !a.wanted(analyzer.Workload{}) {
		t.Error("unattributed GPU filtered out by a namespace filter")
	}
}
