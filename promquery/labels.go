package promquery

import (
	"regexp"
	"slices"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/prometheus/common/model"
)

// attribution turns a series' labels into the GPU and the workload using it.
type attribution struct {
	cfg      Config
	exporter *regexp.Regexp
	trust    trust
}

func newAttribution(cfg Config) attribution {
	return attribution{cfg: cfg, exporter: regexp.MustCompile(cfg.ExporterPods), trust: newTrust(cfg.TrustedTargets)}
}

func (a attribution) gpu(m model.Metric) analyzer.GPU {
	return analyzer.GPU{
		Node:  string(m[model.LabelName(a.cfg.NodeLabel)]),
		Index: string(m[model.LabelName(a.cfg.GPULabel)]),
		UUID:  string(m[model.LabelName(a.cfg.UUIDLabel)]),
		Model: string(m[model.LabelName(a.cfg.ModelLabel)]),

		MIGInstance: string(m[model.LabelName(a.cfg.MIGInstanceLabel)]),
		MIGProfile:  string(m[model.LabelName(a.cfg.MIGProfileLabel)]),
	}
}

// workload returns the pod a series attributes its GPU to, or a zero
// Workload for an idle or unattributed GPU. Behind a ServiceMonitor without
// honorLabels the workload arrives as exported_*, and namespace/pod then name
// the exporter; behind either, an idle GPU carries the exporter's own pod as
// its target label. Neither is a workload.
func (a attribution) workload(m model.Metric) analyzer.Workload {
	get := func(name string) string { return string(m[model.LabelName(name)]) }
	if mp := a.cfg.Workload; mp.Pod != "" {
		return analyzer.Workload{Namespace: get(mp.Namespace), Pod: get(mp.Pod), Container: get(mp.Container)}
	}
	if get("exported_pod") != "" {
		return analyzer.Workload{Namespace: get("exported_namespace"), Pod: get("exported_pod"), Container: get("exported_container")}
	}
	if pod := get("pod"); pod != "" && !a.isExporter(get("namespace"), pod) {
		return analyzer.Workload{Namespace: get("namespace"), Pod: pod, Container: get("container")}
	}
	return analyzer.Workload{}
}

// isExporter reports whether namespace/pod is dcgm-exporter itself: named
// like it, in a namespace where it runs. A tenant cannot evade judgement by
// naming its pod like the exporter.
func (a attribution) isExporter(namespace, pod string) bool {
	return a.exporter.MatchString(pod) && slices.Contains(a.cfg.ExporterNamespaces, namespace)
}

// wanted applies the namespace filters. Unattributed GPUs are always kept:
// they belong to no namespace.
func (a attribution) wanted(w analyzer.Workload) bool {
	if w.Pod == "" {
		return true
	}
	if len(a.cfg.Namespaces) > 0 && !slices.Contains(a.cfg.Namespaces, w.Namespace) {
		return false
	}
	return !slices.Contains(a.cfg.ExcludeNamespaces, w.Namespace)
}
