package cycle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
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

// UntrustedRecorder records untrusted telemetry on its serving pod;
// actions.KubeEvents is one.
type UntrustedRecorder interface {
	RecordUntrusted(ctx context.Context, f actions.UntrustedFinding) error
}

// recordUntrusted records each forging target as an Event on its serving
// pod, every cycle, and posts it to Slack once while it stands (again after
// a failed post); it returns the findings' state. Nothing is done to the
// pods the forged series named. A failure is logged and counted, not fatal.
func (c *Cycle) recordUntrusted(ctx context.Context, log *slog.Logger, targets []promquery.UntrustedTarget,
	prev map[string]actions.UntrustedState) map[string]actions.UntrustedState {
	var next map[string]actions.UntrustedState
	notifier, _ := c.Executor.Notifier.(actions.UntrustedNotifier)
	for _, u := range targets {
		f := actions.UntrustedFinding{Job: u.Job, Instance: u.Instance, Namespace: u.Namespace, Pod: u.Pod, Series: u.Series, Metrics: u.Metrics}
		for _, cl := range u.Claims {
			f.Claims = append(f.Claims, claimText(cl))
		}
		st := prev[f.Key()]
		st.Cycles++
		f.Cycles = st.Cycles
		result := "skipped"
		if c.Forgeries != nil && f.Pod != "" {
			result = "ok"
			if err := c.Forgeries.RecordUntrusted(ctx, f); err != nil {
				result = "failed"
				log.Error("record untrusted telemetry", "namespace", f.Namespace, "pod", f.Pod, "job", f.Job, "err", err)
			}
		}
		if c.Metrics != nil {
			c.Metrics.Action("record_untrusted", result)
		}
		if notifier != nil && !st.Posted {
			result = "ok"
			if err := notifier.NotifyUntrusted(ctx, f); err != nil {
				result = "failed"
				log.Error("post untrusted telemetry", "namespace", f.Namespace, "pod", f.Pod, "job", f.Job, "err", err)
			} else {
				st.Posted = true
			}
			if c.Metrics != nil {
				c.Metrics.Action("notify_untrusted", result)
			}
		}
		if next == nil {
			next = map[string]actions.UntrustedState{}
		}
		next[f.Key()] = st
	}
	return next
}

// forgers are the pods that served forged telemetry this cycle, as far as
// the layout names them (a target known only by job and instance is no pod).
func forgers(targets []promquery.UntrustedTarget) map[analyzer.PodKey]bool {
	var out map[analyzer.PodKey]bool
	for _, u := range targets {
		if u.Pod == "" {
			continue
		}
		if out == nil {
			out = map[analyzer.PodKey]bool{}
		}
		out[analyzer.PodKey{Namespace: u.Namespace, Pod: u.Pod}] = true
	}
	return out
}
