package fleet

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// Layout is how the workload labels reach Prometheus.
type Layout string

const (
	// Honor: the ServiceMonitor honors the exporter's labels, so `namespace`,
	// `pod` and `container` name the workload.
	Honor Layout = "honor"
	// Exported: the ServiceMonitor does not honor labels, so the workload's
	// labels are renamed `exported_namespace`, `exported_pod`,
	// `exported_container`, and `namespace`, `pod`, `container` name the
	// exporter pod itself.
	Exported Layout = "exported"
)

// Exporter identity in the simulated GPU operator.
const (
	ExporterNamespace = "gpu-operator"
	ExporterContainer = "nvidia-dcgm-exporter"
	ExporterJob       = "nvidia-dcgm-exporter"
)

// Labels returns the label set (including __name__) of the utilization series
// of GPU g held by p, as stored by Prometheus in layout. A podless p gives no
// workload labels: none at all in Honor, only the exporter's own namespace,
// pod and container in Exported. A MIG instance adds dcgm-exporter's
// GPU_I_ID and GPU_I_PROFILE (and has no utilization series: the other
// metrics' series carry these labels under their own __name__).
func Labels(p Pod, g GPUSpec, layout Layout) map[string]string {
	return metricLabels(p, g, layout, Metric)
}

// metricLabels is Labels with __name__ set to metric: every metric of one
// GPU carries the same labels.
func metricLabels(p Pod, g GPUSpec, layout Layout, metric string) map[string]string {
	l := map[string]string{
		"__name__":  metric,
		"gpu":       g.Index,
		"UUID":      g.UUID,
		"Hostname":  p.Node,
		"modelName": g.Model,
		"device":    "nvidia" + g.Index,
		"instance":  ExporterInstance(p.Node),
		"job":       ExporterJob,
	}
	if g.MIG != nil {
		l["GPU_I_ID"] = g.MIG.GPUInstanceID
		l["GPU_I_PROFILE"] = g.MIG.Profile
	}
	switch layout {
	case Exported:
		l["namespace"] = ExporterNamespace
		l["pod"] = ExporterPod(p.Node)
		l["container"] = ExporterContainer
		if p.Name != "" {
			l["exported_namespace"] = p.Namespace
			l["exported_pod"] = p.Name
			l["exported_container"] = p.Container
		}
	default:
		if p.Name != "" {
			l["namespace"] = p.Namespace
			l["pod"] = p.Name
			l["container"] = p.Container
		}
	}
	return l
}

// ExporterPod is the name of the dcgm-exporter DaemonSet pod on node:
// "nvidia-dcgm-exporter-" and a deterministic five-character suffix.
func ExporterPod(node string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // Kubernetes' suffix alphabet
	sum := sha256.Sum256([]byte("exporter/" + node))
	var b strings.Builder
	for _, c := range sum[:5] {
		b.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return "nvidia-dcgm-exporter-" + b.String()
}

// ExporterInstance is the scrape target of the exporter on node: a
// deterministic pod IP and dcgm-exporter's port 9400.
func ExporterInstance(node string) string {
	sum := sha256.Sum256([]byte("ip/" + node))
	return fmt.Sprintf("10.244.%d.%d:9400", sum[0], 2+int(sum[1])%250)
}

// exporterLabels is l as the gen-th replacement of node's exporter pod
// serves it (gen 0: the first pod, l unchanged): a new pod IP in instance
// and, where the exporter's own pod label is kept (Exported), a new pod
// name.
func exporterLabels(l map[string]string, node string, gen int, layout Layout) map[string]string {
	if gen == 0 {
		return l
	}
	id := fmt.Sprintf("%s#%d", node, gen)
	l["instance"] = ExporterInstance(id)
	if layout == Exported {
		l["pod"] = ExporterPod(id)
	}
	return l
}
