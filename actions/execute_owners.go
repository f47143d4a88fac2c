package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// recordOwnerDeletion counts a deletion against the pod's owner, unless
// its evidence was utilization alone (which never escalates).
func (s State) recordOwnerDeletion(st Step) {
	if st.Owner == nil || st.Report == nil || !escalates(*st.Report) {
		return
	}
	os, ok := s.Owners[st.Owner.Key()]
	if !ok {
		return
	}
	os.Deletions = append(os.Deletions, evidenceEnd(*st.Report))
	s.Owners[st.Owner.Key()] = os
}

// escalate records on the owner that deleting its pods is futile: an Event
// on the owner (the step's outcome) and a reply in the finding's Slack
// thread (logged when it fails). The owner is marked escalated once the
// Event is written, so a failed one is tried again next cycle.
func (e Executor) escalate(ctx context.Context, st Step, state State, o Outcome) Outcome {
	if st.Owner == nil {
		o.Result, o.Err = ResultFailed, errors.New("escalate: step without an owner")
		return o
	}
	msg := fmt.Sprintf("Owner is a %s. Pod %s is still mining (%s). The detector no longer deletes this owner's pods; stop %s (see the miner-detector runbook).",
		st.Reason, st.Pod.Pod, derefReport(st).Evidence.Reason, st.Owner)
	if e.OwnerEvents != nil {
		if err := e.OwnerEvents.RecordOwner(ctx, *st.Owner, EventReasonRepeatOffender, truncateMessage(msg)); err != nil {
			o.Result, o.Err = ResultFailed, fmt.Errorf("record escalation on %s: %w", st.Owner, err)
			return o
		}
	} else {
		o.Result, o.Reason = ResultSkipped, ReasonNoCluster+": escalation recorded in the state and metrics only"
	}
	os := state.Owners[st.Owner.Key()]
	os.Escalated, os.EscalatedAt = true, evidenceEnd(derefReport(st))
	state.Owners[st.Owner.Key()] = os
	e.tellThread(ctx, st, state, FindingEscalated, st.Reason)
	return o
}

// stopOwner scales the owner to zero or suspends it, then records it on the
// owner and in the finding's Slack thread.
func (e Executor) stopOwner(ctx context.Context, st Step, state State, o Outcome) Outcome {
	switch {
	case st.Reason == ReasonDryRunStop:
		o.Result = ResultDryRun
		return o
	case st.Owner == nil:
		o.Result, o.Err = ResultFailed, errors.New("stop owner: step without an owner")
		return o
	case e.Stopper == nil:
		o.Result, o.Reason = ResultSkipped, ReasonNoCluster
		return o
	}
	undo, err := e.Stopper.Stop(ctx, *st.Owner, StopRequest{Reason: st.Reason, At: evidenceEnd(derefReport(st))})
	if err != nil {
		o.Result, o.Err = ResultFailed, fmt.Errorf("stop %s: %w", st.Owner, err)
		return o
	}
	os := state.Owners[st.Owner.Key()]
	os.Stopped, os.Undo = true, undo
	state.Owners[st.Owner.Key()] = os
	action := fmt.Sprintf("stopped %s (%s); undo: %s", st.Owner, st.Reason, undo)
	o.Reason = action
	if e.OwnerEvents != nil {
		if err := e.OwnerEvents.RecordOwner(ctx, *st.Owner, EventReasonOwnerStopped, truncateMessage(action)); err != nil {
			e.logger().LogAttrs(ctx, slog.LevelError, "record owner stop event failed", stepAttrs(st, "record_stop", ResultFailed, action, err)...)
		}
	}
	e.tellThread(ctx, st, state, FindingOwnerStopped, action)
	return o
}

// tellThread replies in the pod's finding thread; a failure is logged.
func (e Executor) tellThread(ctx context.Context, st Step, state State, kind FindingKind, action string) {
	ts := state.Pods[st.Pod.String()].SlackTS
	if e.Notifier == nil {
		return
	}
	f := e.finding(st, kind, ts)
	f.Action = action
	if _, err := e.Notifier.Notify(ctx, f); err != nil {
		e.logger().LogAttrs(ctx, slog.LevelError, "notify "+string(kind)+" failed", stepAttrs(st, "notify_"+string(kind), ResultFailed, action, err)...)
	}
}
