package actions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/miner-detector/miner-detector/analyzer"
)

// Result is how a step ended.
type Result string

const (
	// ResultOK: the step did what it says.
	ResultOK Result = "ok"
	// ResultFailed: the step failed; Outcome.Err says why.
	ResultFailed Result = "failed"
	// ResultSkipped: nothing done, by policy or for want of a client;
	// Outcome.Reason says why.
	ResultSkipped Result = "skipped"
	// ResultDryRun: a deletion that enforce mode would have made.
	ResultDryRun Result = "dry_run"
)

// Reasons for skipped steps that callers may compare against.
const (
	ReasonNoCluster = "no cluster access"
	ReasonNoSlack   = "no Slack configured"
	ReasonPodGone   = "pod already gone"
	// ReasonNotRecorded: a deletion held back because the finding's Event
	// could not be recorded this cycle.
	ReasonNotRecorded = "finding not recorded on the pod (Event failed): deletion waits for the next cycle"
)

// Outcome is what came of one step.
type Outcome struct {
	Kind   StepKind
	Pod    analyzer.PodKey
	Result Result
	// Reason says why a step was skipped or what it did.
	Reason string
	// Err is set when Result is failed.
	Err error
}

// Outcomes are a plan's outcomes, one per step, in plan order.
type Outcomes []Outcome

// Count is the number of outcomes with the result.
func (o Outcomes) Count(r Result) int {
	n := 0
	for _, x := range o {
		if x.Result == r {
			n++
		}
	}
	return n
}

// Err joins the errors of the failed steps; nil when none failed.
func (o Outcomes) Err() error {
	var errs []error
	for _, x := range o {
		if x.Err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", x.Kind, x.Pod, x.Err))
		}
	}
	return errors.Join(errs...)
}

// Executor runs plans. Any of Events, Deleter and Notifier may be nil (no
// cluster access, no Slack): their steps are then skipped, not failed.
type Executor struct {
	Events   EventRecorder
	Deleter  PodDeleter
	Notifier Notifier
	// OwnerEvents records escalations on owners and Stopper stops them;
	// either may be nil (no cluster access): their steps are skipped.
	OwnerEvents OwnerEventRecorder
	Stopper     OwnerStopper
	// Log receives one record per step; discarded when nil.
	Log *slog.Logger
	// Checkpoint, when set, persists the state right after each step that
	// posted to Slack or deleted a pod, before the next step runs. The
	// side effect and its record are then at most one step apart: a crash
	// (or a failed final save) after a post does not make the next cycle
	// post a new thread for the same finding. A failed checkpoint is
	// logged; the cycle's final save tries again.
	Checkpoint func(ctx context.Context, s State) error
}

// Execute runs every step of the plan, in order; a failing step does not stop
// the others. It returns one outcome per step and the state updated with what
// happened: Notified and SlackTS after a successful notify (a failed one is
// retried next cycle), Deleted and DeletedAt after a deletion or when the pod
// was found gone. The given state is not modified.
//
// A pod whose record step (its Event) failed is not deleted this cycle: no
// deletion without its audit trail.
//
// A deletion is followed by a GPUMinerPodDeleted Event and a reply in the
// finding's Slack thread; their failures are logged, not outcomes. A refused
// deletion (ErrStaleEvidence) or a pod already gone is skipped, not failed.
func (e Executor) Execute(ctx context.Context, plan Plan, state State) (Outcomes, State) {
	next := state.Clone()
	out := make(Outcomes, 0, len(plan.Steps))
	unrecorded := map[analyzer.PodKey]bool{}
	for _, st := range plan.Steps {
		var o Outcome
		switch err := ctx.Err(); {
		case st.Kind == StepDelete && unrecorded[st.Pod]:
			// No deletion without its audit record: the pod's Event failed
			// this cycle, so the deletion waits for a cycle that records it
			// (strikes keep counting).
			o = Outcome{Kind: st.Kind, Pod: st.Pod, Result: ResultSkipped, Reason: ReasonNotRecorded}
		case err != nil:
			// Past the cycle's deadline (or leadership lost): no new side
			// effect; the step is failed and comes again next cycle.
			o = Outcome{Kind: st.Kind, Pod: st.Pod, Result: ResultFailed, Reason: st.Reason, Err: fmt.Errorf("not started: %w", err)}
			if st.Kind == StepSkipDelete {
				o = e.run(ctx, st, next) // no call out: just the decision
			}
		default:
			o = e.run(ctx, st, next)
		}
		if st.Kind == StepRecord && o.Result == ResultFailed {
			unrecorded[st.Pod] = true
		}
		e.log(ctx, st, o)
		out = append(out, o)
		if e.Checkpoint != nil && madeSideEffect(st, o) {
			if err := e.Checkpoint(ctx, next); err != nil {
				e.logger().LogAttrs(ctx, slog.LevelError, "checkpoint action state failed; a crash before the cycle's final save could repeat this step",
					stepAttrs(st, "checkpoint", ResultFailed, o.Reason, err)...)
			}
		}
	}
	return out, next
}

// madeSideEffect reports whether the step changed something outside the
// detector that the state must remember: a Slack post or a deletion (or a
// pod found gone).
func madeSideEffect(st Step, o Outcome) bool {
	switch st.Kind {
	case StepNotify, StepResolve:
		return o.Result == ResultOK
	case StepDelete:
		return o.Result == ResultOK || o.Reason == ReasonPodGone
	case StepEscalate, StepStopOwner:
		return o.Result == ResultOK
	}
	return false
}

func (e Executor) run(ctx context.Context, st Step, state State) Outcome {
	o := Outcome{Kind: st.Kind, Pod: st.Pod, Result: ResultOK, Reason: st.Reason}
	key := st.Pod.String()
	ps := state.Pods[key]
	fail := func(err error) Outcome {
		o.Result, o.Err = ResultFailed, err
		return o
	}
	skip := func(reason string) Outcome {
		o.Result, o.Reason = ResultSkipped, reason
		return o
	}

	switch st.Kind {
	case StepRecord:
		if e.Events == nil {
			return skip(ReasonNoCluster)
		}
		err := e.Events.Record(ctx, e.finding(st, FindingDetected, ""))
		switch {
		case errors.Is(err, ErrPodNotFound):
			return skip(ReasonPodGone)
		case err != nil:
			return fail(err)
		}
		return o

	case StepNotify:
		if e.Notifier == nil {
			return skip(ReasonNoSlack)
		}
		ts, err := e.Notifier.Notify(ctx, e.finding(st, FindingDetected, ps.SlackTS))
		if err != nil {
			return fail(err)
		}
		ps.Notified = true
		ps.SlackTS = cmp.Or(ts, ps.SlackTS)
		state.Pods[key] = ps
		return o

	case StepDelete:
		if e.Deleter == nil {
			return skip(ReasonNoCluster)
		}
		start := evidenceStart(derefReport(st))
		err := e.Deleter.Delete(ctx, DeleteRequest{Pod: st.Pod, Node: st.Node, EvidenceStart: start, Reason: st.Reason})
		switch {
		case errors.Is(err, ErrPodGone):
			ps.Deleted, ps.DeletedAt = true, evidenceEnd(derefReport(st))
			state.Pods[key] = ps
			return skip(ReasonPodGone)
		case errors.Is(err, ErrStaleEvidence):
			return skip("refused: " + err.Error())
		case err != nil:
			return fail(err)
		}
		ps.Deleted, ps.DeletedAt = true, evidenceEnd(derefReport(st))
		state.Pods[key] = ps
		state.recordOwnerDeletion(st)
		o.Reason = "deleted: " + st.Reason
		e.afterDelete(ctx, st, ps)
		return o

	case StepEscalate:
		return e.escalate(ctx, st, state, o)

	case StepStopOwner:
		return e.stopOwner(ctx, st, state, o)

	case StepResolve:
		if e.Notifier == nil {
			return skip(ReasonNoSlack)
		}
		f := e.finding(st, FindingResolved, st.ThreadTS)
		f.Action = st.Reason
		if _, err := e.Notifier.Notify(ctx, f); err != nil {
			return fail(err)
		}
		return o

	case StepSkipDelete:
		o.Result = ResultSkipped
		if st.Reason == ReasonDryRun {
			o.Result = ResultDryRun
		}
		return o
	}
	return fail(fmt.Errorf("unknown step kind %q", st.Kind))
}

// afterDelete records the deletion on the pod and in the finding's Slack
// thread. Their failures are logged; the deletion stands.
func (e Executor) afterDelete(ctx context.Context, st Step, ps PodState) {
	f := e.finding(st, FindingDeleted, ps.SlackTS)
	f.Action = st.Reason
	if e.Events != nil {
		if err := e.Events.Record(ctx, f); err != nil {
			e.logger().LogAttrs(ctx, slog.LevelError, "record deletion event failed", stepAttrs(st, "record_deletion", ResultFailed, st.Reason, err)...)
		}
	}
	if e.Notifier != nil && ps.SlackTS != "" {
		if _, err := e.Notifier.Notify(ctx, f); err != nil {
			e.logger().LogAttrs(ctx, slog.LevelError, "notify deletion failed", stepAttrs(st, "notify_deletion", ResultFailed, st.Reason, err)...)
		}
	}
}

func (e Executor) finding(st Step, kind FindingKind, threadTS string) Finding {
	return Finding{
		Kind:     kind,
		Pod:      st.Pod,
		Node:     st.Node,
		Strikes:  st.Strikes,
		Action:   st.Decision,
		Report:   derefReport(st),
		ThreadTS: threadTS,
		Owner:    st.Owner,
	}
}

func derefReport(st Step) analyzer.PodReport {
	if st.Report == nil {
		return analyzer.PodReport{PodKey: st.Pod, Node: st.Node}
	}
	return *st.Report
}

func (e Executor) log(ctx context.Context, st Step, o Outcome) {
	level := slog.LevelInfo
	switch {
	case o.Result == ResultFailed:
		level = slog.LevelError
	case st.Kind == StepRecord, o.Result == ResultSkipped && st.Kind == StepDelete:
		level = slog.LevelWarn
	}
	e.logger().LogAttrs(ctx, level, "action", stepAttrs(st, string(st.Kind), o.Result, o.Reason, o.Err)...)
}

func stepAttrs(st Step, action string, result Result, reason string, err error) []slog.Attr {
	verdict := ""
	if st.Report != nil {
		verdict = string(st.Report.Verdict)
	}
	attrs := []slog.Attr{
		slog.String("namespace", st.Pod.Namespace),
		slog.String("pod", st.Pod.Pod),
		slog.String("node", st.Node),
		slog.String("verdict", verdict),
		slog.String("action", action),
		slog.String("result", string(result)),
		slog.String("reason", reason),
		slog.Int("strikes", st.Strikes),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	return attrs
}

func (e Executor) logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.DiscardHandler)
}
