package cycle

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/miner-detector/miner-detector/promquery"
)

// logUntrusted writes one line per target that served forged telemetry:
// dcgm-exporter metric names from a target that is not the exporter. Its
// series were judged for no one; the pods it named are only listed.
func logUntrusted(log *slog.Logger, targets []promquery.UntrustedTarget) {
	for _, u := range targets {
		claimed := make([]string, 0, len(u.Claims))
		for _, c := range u.Claims {
			claimed = append(claimed, claimText(c))
		}
		log.Warn("finding: untrusted telemetry: a target that is not dcgm-exporter serves its metric names; "+
			"never evidence against the pods it names, and a strong sign of abuse by the serving pod",
			"namespace", u.Namespace, "pod", u.Pod, "job", u.Job, "instance", u.Instance,
			"series", u.Series, "metrics", u.Metrics, "claims", claimed)
	}
}

// claimText is a claim as namespace/pod@node/gpu (uuid).
func claimText(c promquery.Claim) string {
	pod := "(no pod)"
	if c.Workload.Pod != "" {
		pod = c.Workload.Namespace + "/" + c.Workload.Pod
	}
	return pod + "@" + c.GPU.Node + "/" + c.GPU.Index + " (" + c.GPU.UUID + ")"
}

// writeUntrusted writes the table's untrusted-telemetry section: one line
// per serving target, then the pods and GPUs it claimed.
func writeUntrusted(w io.Writer, targets []promquery.UntrustedTarget) {
	if len(targets) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%d target(s) serving untrusted telemetry (dcgm-exporter metric names from a target that is not the exporter; never judged):\n", len(targets))
	for _, u := range targets {
		pod := "pod unknown"
		if u.Pod != "" {
			pod = "pod " + u.Namespace + "/" + u.Pod
		}
		fmt.Fprintf(w, "  job %s instance %s (%s): %d series of %s\n", u.Job, u.Instance, pod, u.Series, strings.Join(u.Metrics, ", "))
		for _, c := range u.Claims {
			fmt.Fprintf(w, "    claims %s\n", claimText(c))
		}
	}
}
