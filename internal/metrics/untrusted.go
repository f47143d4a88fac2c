package metrics

import (
	"github.com/miner-detector/miner-detector/promquery"
	"github.com/prometheus/client_golang/prometheus"
)

func newUntrustedGauge() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_untrusted_series",
		Help: "Label sets with dcgm-exporter metric names served by a scrape target that is not the exporter (forged telemetry, " +
			"never judged), by serving target, in the last complete cycle. namespace and pod are empty when the target's " +
			"own labels cannot be told from what it wrote."}, []string{"namespace", "pod", "job"})
}

// Untrusted records the forged telemetry of the last complete cycle: rebuilt
// each time, so a target that stops forging disappears.
func (m *Metrics) Untrusted(targets []promquery.UntrustedTarget) {
	m.untrusted.Reset()
	for _, u := range targets {
		m.untrusted.WithLabelValues(u.Namespace, u.Pod, u.Job).Add(float64(u.Series))
	}
}
