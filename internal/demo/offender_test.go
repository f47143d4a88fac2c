package demo

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/internal/config"
)

// gpuKept is how long each of the offender's replacement pods mined before
// the detector deleted it (or the run ended): pod -> minutes.
func gpuKept(t *testing.T, o Outcome) map[string]time.Duration {
	t.Helper()
	started := map[string]time.Time{}
	for _, p := range o.Fleet {
		if p.Namespace == offenderNamespace && !p.Start.IsZero() {
			started[p.Key()] = p.Start
		}
	}
	kept := map[string]time.Duration{}
	for _, r := range o.Results {
		for _, oc := range r.Outcomes {
			if s, ok := started[oc.Pod.String()]; ok && oc.Kind == actions.StepDelete && oc.Result == actions.ResultOK {
				kept[oc.Pod.String()] = r.At.Sub(s)
			}
		}
	}
	last := o.Results[len(o.Results)-1].At
	for pod, s := range started {
		if _, ok := kept[pod]; !ok {
			kept[pod] = -last.Sub(s) // negative: never deleted within the run
		}
	}
	return kept
}

// A miner behind a Deployment comes back after each deletion. Judged on its
// owner's window, each replacement loses its GPU at the first cycle after
// it starts (4m45s: it starts 15 s after a cycle); after three deletions
// the Deployment is escalated and scaled to zero, with its undo annotation.
func TestDemoRepeatOffender(t *testing.T) {
	o, err := Run(context.Background(), Options{Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	kept := gpuKept(t, o)
	for _, pod := range []string{"team-f/hash-relay-6c8f9d7b5-m4q9z", "team-f/hash-relay-6c8f9d7b5-t2w8r"} {
		if kept[pod] != 4*time.Minute+45*time.Second {
			t.Errorf("%s kept its GPU %v, want 4m45s (the next cycle)", pod, kept[pod])
		}
	}
	var escalated, stopped int
	for _, r := range o.Results {
		for _, oc := range r.Outcomes {
			switch {
			case oc.Kind == actions.StepEscalate && oc.Result == actions.ResultOK:
				escalated++
			case oc.Kind == actions.StepStopOwner && oc.Result == actions.ResultOK:
				stopped++
			}
		}
	}
	if escalated != 1 || stopped != 1 {
		t.Errorf("escalated %d times, stopped %d times; want once each", escalated, stopped)
	}
	d := o.Offender
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 0 || d.Annotations[actions.AnnotationReplicas] != "1" ||
		!strings.Contains(d.Annotations[actions.AnnotationUndo], "--replicas=1") {
		t.Errorf("deployment after escalation: replicas %v, annotations %v", d.Spec.Replicas, d.Annotations)
	}
	for _, p := range o.Remained {
		if strings.HasPrefix(p, offenderNamespace+"/") {
			t.Errorf("%s still runs after its Deployment was scaled to zero", p)
		}
	}
}

// Without owner evidence (minOwnSpan 0s) a replacement is a stranger. On a
// node exporting every math pipe the young-pod path still catches it: judged
// over its own 10 minutes, then a second strike, 14m45s after it started,
// three times as long as on its owner's evidence. (On the GPU Operator's
// counters it waits for the window's coverage, about 50 minutes, and is
// deleted only with deleteOnPartialEvidence.) This is the "before" of the
// repeat-offender work.
func TestDemoRepeatOffenderWithoutOwnerEvidence(t *testing.T) {
	o, err := Run(context.Background(), Options{Out: io.Discard,
		Configure: func(c *config.Config) { c.Actions.Owners.MinOwnSpan = 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if kept := gpuKept(t, o)["team-f/hash-relay-6c8f9d7b5-m4q9z"]; kept != 14*time.Minute+45*time.Second {
		t.Errorf("without owner evidence the replacement kept its GPU %v, want 14m45s (young-pod path and two strikes)", kept)
	}
}

// On the GPU Operator's counters (gpu-node-1: tensor pipe only) the
// evidence is partial: with deleteOnPartialEvidence a replacement judged on
// its owner's window is deleted at the first cycle after it starts; without
// owner evidence it waits for the window's coverage (48 of 60 minutes) and
// a second strike.
func TestDemoRepeatOffenderPartialEvidence(t *testing.T) {
	for _, c := range []struct {
		name       string
		minOwnSpan time.Duration
		want       time.Duration
	}{
		{"with owner evidence", 3 * time.Minute, 4*time.Minute + 45*time.Second},
		{"without owner evidence", 0, 54*time.Minute + 45*time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := Run(context.Background(), Options{Out: io.Discard, Cycles: 14, OffenderNode: "gpu-node-1",
				Configure: func(cfg *config.Config) {
					cfg.Actions.DeleteOnPartialEvidence = true
					cfg.Actions.Owners.MinOwnSpan = config.Duration(c.minOwnSpan)
				}})
			if err != nil {
				t.Fatal(err)
			}
			if kept := gpuKept(t, o)["team-f/hash-relay-6c8f9d7b5-m4q9z"]; kept != c.want {
				t.Errorf("the replacement kept its GPU %v, want %v", kept, c.want)
			}
		})
	}
}
