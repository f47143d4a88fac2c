package fleet

import (
	"maps"
	"testing"
)

func TestLabels(t *testing.T) {
	node := "gpu-node-7"
	g := GPU(node, "2")
	common := map[string]string{
		"__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": "2", "UUID": g.UUID, "Hostname": node,
		"modelName": "NVIDIA A100-SXM4-80GB", "device": "nvidia2", "instance": ExporterInstance(node),
		"job": "nvidia-dcgm-exporter",
	}
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(common)
		maps.Copy(m, extra)
		return m
	}
	exporter := map[string]string{"namespace": "gpu-operator", "pod": ExporterPod(node), "container": "nvidia-dcgm-exporter"}
	pod := Pod{Namespace: "team-a", Name: "w-0", Container: "main", Node: node}
	podless := Pod{Node: node}

	tests := []struct {
		name   string
		pod    Pod
		layout Layout
		want   map[string]string
	}{
		{"honor", pod, Honor, with(map[string]string{"namespace": "team-a", "pod": "w-0", "container": "main"})},
		{"exported", pod, Exported, with(maps.Collect(func(yield func(string, string) bool) {
			maps.All(exporter)(yield)
			maps.All(map[string]string{"exported_namespace": "team-a", "exported_pod": "w-0", "exported_container": "main"})(yield)
		}))},
		{"honor, no pod", podless, Honor, common},
		{"exported, no pod", podless, Exported, with(exporter)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Labels(tc.pod, g, tc.layout); !maps.Equal(got, tc.want) {
				t.Errorf("Labels =\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func TestExporterIdentity(t *testing.T) {
	a, b := ExporterPod("gpu-node-1"), ExporterPod("gpu-node-2")
	if a == b || a != ExporterPod("gpu-node-1") || len(a) != len("nvidia-dcgm-exporter-")+5 {
		t.Errorf("exporter pods %q, %q: want distinct, stable, five-character suffixes", a, b)
	}
	if ExporterInstance("gpu-node-1") == ExporterInstance("gpu-node-2") {
		t.Error("two nodes share an exporter instance")
	}
}
