package actions

import (
	"fmt"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

// ownerBook is what BuildPlan knows of owners this cycle: who owns each
// pod, and each owner's record from the previous state.
type ownerBook struct {
	prev   State
	policy Policy
	pods   []analyzer.PodReport
	// now is the latest evidence time of the cycle (the window's end).
	now time.Time
	// members maps the pods the state keeps under an owner to its key.
	members map[analyzer.PodKey]string
}

func newOwnerBook(pods []analyzer.PodReport, prev State, p Policy) ownerBook {
	b := ownerBook{prev: prev, policy: p, pods: pods, members: prev.PodOwners()}
	for _, r := range pods {
		if r.Evidence.WindowEnd.After(b.now) {
			b.now = r.Evidence.WindowEnd
		}
	}
	return b
}

// of returns the pod's owner when it is a controller: resolved this cycle,
// or remembered by the state.
func (b ownerBook) of(pod analyzer.PodKey) (Owner, bool) {
	if o, ok := b.policy.Owners[pod]; ok {
		return o, !o.IsPod() && o.Kind != ""
	}
	if key := b.prev.Pods[pod.String()].Owner; key != "" {
		if os, ok := b.prev.Owners[key]; ok {
			return os.Owner, true
		}
	}
	if key, ok := b.members[pod]; ok {
		return b.prev.Owners[key].Owner, true
	}
	return Owner{}, false
}

// carried is the previous state's owners that still stand: an owner lapses
// an escalation period after its latest miner verdict, and clears when one
// of its pods is judged benign this cycle while none is judged a miner or
// waits for its data (a replacement too young to judge yet).
func (b ownerBook) carried() map[string]OwnerState {
	benign, undecided := map[string]bool{}, map[string]bool{}
	for _, r := range b.pods {
		o, ok := b.of(r.PodKey)
		if !ok || b.prev.Pods[r.PodKey.String()].Deleted {
			continue // a deleted pod's samples linger in the window
		}
		switch r.Verdict {
		case analyzer.Benign:
			benign[o.Key()] = true
		case analyzer.Miner, analyzer.InsufficientData:
			undecided[o.Key()] = true
		}
	}
	var out map[string]OwnerState
	for key, os := range b.prev.Owners {
		if benign[key] && !undecided[key] {
			continue
		}
		if !b.now.IsZero() && b.now.Sub(os.LastMiner) > b.policy.EscalationPeriod {
			continue
		}
		if out == nil {
			out = map[string]OwnerState{}
		}
		out[key] = os
	}
	return out
}

// judge records a miner pod under its owner in next and, when the owner
// already had EscalateAfter pods deleted within the escalation period,
// replaces the pod's deletion with the owner's escalation: the escalate
// step (once per owner) and, with StopOwners, a stop_owner step. It returns
// the pod's deletion decision and the escalation steps (their pod fields
// are filled by the caller).
//
// Only a deletion the policy would make escalates: protected, exempted,
// silenced, capped, shared and not-yet-struck pods never do. A finding on
// utilization alone never escalates.
func (b ownerBook) judge(next *State, owner Owner, r analyzer.PodReport, seen time.Time,
	kind StepKind, reason string, deletions *int) (StepKind, string, []Step) {
	if next.Owners == nil {
		next.Owners = map[string]OwnerState{}
	}
	os, ok := next.Owners[owner.Key()]
	if !ok {
		os = OwnerState{Owner: owner}
	}
	os.addPod(r.Pod)
	if seen.After(os.LastMiner) {
		os.LastMiner = seen
	}
	n := os.recentDeletions(b.now, b.policy.EscalationPeriod)
	next.Owners[owner.Key()] = os

	wouldDelete := kind == StepDelete || reason == ReasonDryRun
	if !wouldDelete || n < b.policy.EscalateAfter || !escalates(r) {
		return kind, reason, nil
	}
	why := fmt.Sprintf("%s: %s had %d pods deleted within %s, deleting again is futile",
		reasonRepeatPrefix, owner, n, formatDuration(b.policy.EscalationPeriod))
	stop := b.policy.StopOwners && !os.Stopped
	escalate := why
	if stop && !owner.Stoppable() {
		escalate += fmt.Sprintf("; kind %s cannot be stopped by the detector: stop it by hand", owner.Kind)
	}
	var steps []Step
	if !os.Escalated {
		steps = append(steps, Step{Kind: StepEscalate, Reason: escalate})
	}
	switch {
	case stop && !owner.Stoppable():
		*deletions--
	case stop && !b.policy.Enforce:
		steps = append(steps, Step{Kind: StepStopOwner, Reason: ReasonDryRunStop})
	case stop:
		steps = append(steps, Step{Kind: StepStopOwner, Reason: why})
	default:
		*deletions-- // nothing destructive in place of the deletion
	}
	return StepSkipDelete, why, steps
}

// escalates reports whether the finding's evidence may escalate its owner:
// anything but utilization alone.
func escalates(r analyzer.PodReport) bool {
	return r.Evidence.Strength != "" && r.Evidence.Strength != analyzer.StrengthUtilizationOnly
}
