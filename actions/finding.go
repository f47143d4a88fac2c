package actions

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

// FindingKind says what happened to the pod.
type FindingKind string

const (
	// FindingDetected: the pod was judged a miner this cycle.
	FindingDetected FindingKind = "detected"
	// FindingDeleted: the pod was deleted this cycle.
	FindingDeleted FindingKind = "deleted"
	// FindingResolved: the pod is no longer judged a miner.
	FindingResolved FindingKind = "resolved"
	// FindingEscalated: the pod's owner is a repeat offender; its pods are
	// no longer deleted.
	FindingEscalated FindingKind = "escalated"
	// FindingOwnerStopped: the pod's owner was scaled to zero or suspended.
	FindingOwnerStopped FindingKind = "owner_stopped"
)

// Finding is what an Event or a Slack message says about one pod: the
// verdict with its numbers and the action planned or taken.
type Finding struct {
	Kind FindingKind
	Pod  analyzer.PodKey
	Node string
	// Strikes is the number of consecutive cycles with a miner verdict.
	Strikes int
	// Action is the deletion decision of this cycle in words, for example
	// "delete: strike 2 of 2" or "no deletion: protected namespace kube-system".
	Action string
	// Report is the analyzer's verdict and evidence for the pod.
	Report analyzer.PodReport
	// ThreadTS is the Slack thread to reply in; empty starts a new thread.
	ThreadTS string
	// Owner is the pod's owner (a controller), when known.
	Owner *Owner
}

// Window is the length of the evaluation window the verdict covers.
func (f Finding) Window() time.Duration { return evidenceWindow(f.Report) }

// GPULines describes, one line each, the GPUs the verdict rests on (those
// judged miner, or every GPU when none is), with their numbers:
//
//	GPU 0 (GPU-uuid) on node-a: mean 99.1% stddev 0.4 over 1h (240/240 samples): rule flat_high_util mean > 95 and stddev < 2
func (f Finding) GPULines() []string {
	var lines []string
	for _, g := range decidingGPUs(f.Report) {
		lines = append(lines, fmt.Sprintf("GPU %s (%s) on %s: mean %.1f%% stddev %.1f over %s (%d/%d samples): %s%s",
			g.Index, g.UUID, g.Node, g.Mean, g.StdDev(), formatDuration(f.Window()),
			g.Count, g.ExpectedSamples, ruleText(f.Report, g), sharedText(g)))
	}
	return lines
}

// decidingGPUs are the GPUs whose verdict is the pod's verdict.
func decidingGPUs(r analyzer.PodReport) []analyzer.GPUReport {
	var out []analyzer.GPUReport
	for _, g := range r.GPUs {
		if g.Verdict == r.Verdict {
			out = append(out, g)
		}
	}
	if len(out) == 0 {
		return r.GPUs
	}
	return out
}

func ruleText(r analyzer.PodReport, g analyzer.GPUReport) string {
	rule := cmp.Or(g.Rule, r.Evidence.Rule)
	if rule == (analyzer.FlatHighUtil{}).Name() {
		return fmt.Sprintf("rule %s mean > %g and stddev < %g", rule, r.Evidence.Thresholds.MeanAbove, r.Evidence.Thresholds.StdDevBelow)
	}
	return fmt.Sprintf("rule %s: %s", rule, g.Reason)
}

func sharedText(g analyzer.GPUReport) string {
	if !g.Shared {
		return ""
	}
	names := make([]string, len(g.SharedWith))
	for i, k := range g.SharedWith {
		names[i] = k.String()
	}
	return " (shared with " + strings.Join(names, ", ") + ")"
}

// evidenceWindow is the window length the analyzer judged over.
func evidenceWindow(r analyzer.PodReport) time.Duration {
	return time.Duration(r.Evidence.WindowSecs * float64(time.Second))
}

// evidenceStart is the end of the earliest chunk holding a sample of the pod.
// A pod's samples follow its creation, so a live pod created after this time
// cannot be the pod the evidence is about. Zero when there is no sample.
func evidenceStart(r analyzer.PodReport) time.Time {
	var start time.Time
	for _, g := range r.GPUs {
		if g.Count == 0 || g.FirstChunkEnd.IsZero() {
			continue
		}
		if start.IsZero() || g.FirstChunkEnd.Before(start) {
			start = g.FirstChunkEnd
		}
	}
	return start
}

// evidenceEnd is the end of the latest chunk holding a sample of the pod: the
// time the finding was last seen in the data. Zero when there is no sample.
func evidenceEnd(r analyzer.PodReport) time.Time {
	var end time.Time
	for _, g := range r.GPUs {
		for _, c := range g.Curve {
			if c.End.After(end) {
				end = c.End
			}
		}
	}
	return end
}

// formatDuration writes 1h rather than 1h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
