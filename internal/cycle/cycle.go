// Package cycle runs one detection cycle: read the window from Prometheus,
// judge it, plan and execute the actions, record metrics. It wires promquery,
// analyzer and actions together and owns the rule that partial data means no
// action; it computes no statistics and builds no PromQL.
package cycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/miner-detector/miner-detector/promquery"
)

// Cycle holds what one detection cycle needs. Metrics may be nil.
type Cycle struct {
	// Timeout is the deadline of one Run (cycleTimeout); 0: none. A cycle
	// that hits it stops calling out, saves what it did, counts as failed
	// and logs "cycle deadline exceeded"; the next tick runs as usual.
	Timeout time.Duration
	// Budget is how long a cycle is meant to take (cycleBudget of the
	// schedule); a longer one is counted and logged, and still runs to its
	// end or its Timeout. 0: no budget.
	Budget   time.Duration
	Reader   *promquery.Reader
	Analyzer analyzer.Config
	Window   time.Duration
	Policy   actions.Policy
	Executor actions.Executor
	State    actions.StateStore
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	// Now is the clock for durations and metrics; nil means time.Now.
	Now func() time.Time
	// Silences, when set, fetches the active Alertmanager silences once per
	// cycle before planning; silenced pods are not deleted, and a failed
	// fetch means no deletion this cycle.
	Silences func(context.Context) *actions.SilenceSet
	// Nodes records busy GPUs that no pod holds on their Node; nil: logged
	// only (no cluster access).
	Nodes NodeRecorder
	// Forgeries records untrusted telemetry on its serving pod; nil:
	// logged only (no cluster access).
	Forgeries UntrustedRecorder
	// Owners resolves pods to their owners (controllers), so that evidence,
	// deletions and escalation follow a miner across its pods' restarts;
	// nil: every pod stands alone. MaxResolves bounds the pod reads of one
	// cycle (actions.owners.maxResolvesPerCycle).
	Owners      actions.OwnerResolver
	MaxResolves int
	ownerCache  owners
}

// Result is what a cycle saw and did.
type Result struct {
	At     time.Time
	Window time.Duration
	Report analyzer.Report
	// Read is how the window was read. Its Input.Series are let go once
	// analysed (the Report holds what the output and the actions use): at
	// fleet scale they are the largest thing a cycle holds.
	Read promquery.Result
	// Warnings mean the data may be partial; then no action was taken.
	Warnings []string
	// ActionsSkipped says why no action was planned, when none was.
	ActionsSkipped string
	Plan           actions.Plan
	Outcomes       actions.Outcomes
}

// ErrPartialData is returned with the result when Prometheus's answer may be
// partial: the cycle judged what it got but took no action.
var ErrPartialData = errors.New("prometheus answered with warnings: data may be partial, no action this cycle")

// SaveGrace bounds a state save that runs after the cycle's context ended
// (deadline or lost leadership): what was posted or deleted is recorded
// even then, so the next cycle does not repeat it.
const SaveGrace = 15 * time.Second

// ErrDeadline wraps the error of a cycle that ran past its Timeout.
var ErrDeadline = errors.New("cycle deadline exceeded")

// Run evaluates the window ending at `at` and acts on it, within c.Timeout.
func (c *Cycle) Run(parent context.Context, at time.Time) (res Result, err error) {
	start := c.now()
	res = Result{At: at, Window: c.Window}
	ctx := parent
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, c.Timeout)
		defer cancel()
	}
	outcome := metrics.ResultFailed
	log := c.logger().With("at", at.UTC().Format(time.RFC3339), "window", c.Window.String())
	defer func() {
		if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			outcome = metrics.ResultFailed
			err = fmt.Errorf("%w (cycleTimeout %v): %w", ErrDeadline, c.Timeout, errOr(err, ctx.Err()))
			log.Error("cycle failed: cycle deadline exceeded; the next tick runs as scheduled",
				"cycle_timeout", c.Timeout.String(), "err", err)
		}
		took := c.now().Sub(start)
		over := c.Budget > 0 && took > c.Budget
		if over {
			log.Warn("cycle over budget: it took longer than its share of the schedule",
				"took", took.String(), "budget", c.Budget.String())
		}
		if c.Metrics != nil {
			c.Metrics.CycleDone(outcome, took, c.now())
			c.Metrics.Budget(c.Budget, over)
		}
	}()

	read, err := c.Reader.Read(ctx, at, c.Window)
	res.Read = read
	res.Read.Input.Series = nil
	if err != nil {
		log.Error("cycle failed: read from prometheus", "err", err)
		return res, fmt.Errorf("read window: %w", err)
	}
	res.Report = analyzer.Analyze(read.Input, c.Analyzer)
	res.Warnings = read.Warnings
	if c.Metrics != nil {
		c.Metrics.Queries(read.Queries(), read.Plan.Series, read.PeakSamples())
	}
	c.logFindings(ctx, log, res.Report)
	logUntrusted(log, read.Untrusted)
	log.Info("cycle evaluated", "pods", len(res.Report.Pods), "unattributed_gpus", len(res.Report.UnattributedGPUs),
		"series", read.Plan.Series, "queries", read.Plan.Queries(), "rereads", read.Rereads,
		"semantics", string(read.Semantics), "scrape_interval", res.Report.ScrapeInterval.String(),
		"scrape_interval_source", res.Report.ScrapeIntervalSource)

	// Partial data publishes nothing: the suspect gauges feed alerts, so
	// they keep the last complete cycle's values, like every other action.
	if len(res.Warnings) > 0 {
		outcome = metrics.ResultPartial
		res.ActionsSkipped = ErrPartialData.Error()
		log.Warn("no action this cycle: prometheus answer may be partial", "warnings", res.Warnings)
		return res, ErrPartialData
	}

	if c.Metrics != nil {
		c.Metrics.Report(res.Report)
		c.Metrics.Untrusted(read.Untrusted)
	}
	state, err := c.State.Load(ctx)
	if errors.Is(err, actions.ErrStateCorrupt) {
		log.Error("action state is corrupt: carrying on from an empty state (strikes restart from zero, threads are posted anew); the corrupt text is kept under "+actions.CorruptStateDataKey, "err", err)
		state, err = actions.State{Pods: map[string]actions.PodState{}}, nil
	}
	if err != nil {
		res.ActionsSkipped = "could not load action state: " + err.Error()
		log.Error("cycle failed: load action state; no action this cycle", "err", err)
		return res, fmt.Errorf("load state: %w", err)
	}
	resolved := c.resolveOwners(ctx, log, res.Report, state)
	if rep, changed := c.judgeOnOwners(read.Input, res.Report, state, resolved); changed {
		res.Report = rep
		if c.Metrics != nil {
			c.Metrics.Report(res.Report)
		}
	}
	policy := c.Policy
	policy.Owners = resolved
	policy.Forgers = forgers(read.Untrusted)
	if c.Silences != nil {
		policy.Silences = c.Silences(ctx)
		if err := policy.Silences.Err; err != nil {
			log.Error("alertmanager silences unavailable: no deletion this cycle", "err", err)
			if c.Metrics != nil {
				c.Metrics.SilencesUnavailable()
			}
		}
	}
	plan, next := actions.BuildPlan(res.Report.Pods, state, policy)
	res.Plan = plan
	exec := c.Executor
	if exec.Checkpoint == nil {
		// Each post or deletion is saved as soon as it is made: a crash (or
		// a failed final save) after a Slack post must not post a second
		// thread for the same finding next cycle.
		exec.Checkpoint = c.save
	}
	res.Outcomes, next = exec.Execute(ctx, plan, next)
	next.Nodes = c.recordNodeFindings(ctx, log, res.Report, state.Nodes)
	next.Untrusted = c.recordUntrusted(ctx, log, read.Untrusted, state.Untrusted)
	if c.Metrics != nil {
		for _, o := range res.Outcomes {
			c.Metrics.Action(string(o.Kind), string(o.Result))
		}
		c.Metrics.Capped(plan.Summary().Capped)
		ownerMetrics(c.Metrics, res.Report, resolved, next)
		for _, st := range plan.Steps {
			if st.Kind == actions.StepRecord {
				c.Metrics.Strikes(st.Pod.Namespace, st.Pod.Pod, st.Strikes)
			}
		}
	}
	if err := c.save(ctx, next); err != nil {
		log.Error("cycle failed: save action state", "err", err)
		return res, fmt.Errorf("save state: %w", err)
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("act: %w", ctx.Err())
	}
	outcome = metrics.ResultSuccess
	log.Info("cycle done", "plan", plan.Summary().String(), "failed_actions", res.Outcomes.Count(actions.ResultFailed))
	return res, nil
}

// logFindings writes one structured line per pod that is not benign.
func (c *Cycle) logFindings(ctx context.Context, log *slog.Logger, r analyzer.Report) {
	for _, p := range r.Pods {
		if p.Verdict == analyzer.Benign {
			continue
		}
		level := slog.LevelInfo
		if p.Verdict == analyzer.Miner {
			level = slog.LevelWarn
		}
		log.Log(ctx, level, "finding", "namespace", p.Namespace, "pod", p.Pod, "node", p.Node,
			"verdict", string(p.Verdict), "shared", p.Shared, "rule", p.Evidence.Rule, "reason", p.Evidence.Reason)
	}
}

// save writes the state even when ctx has ended (deadline, lost
// leadership), within SaveGrace: a side effect that happened must be
// recorded.
func (c *Cycle) save(ctx context.Context, s actions.State) error {
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SaveGrace)
	defer cancel()
	return c.State.Save(saveCtx, s)
}

func (c *Cycle) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

func (c *Cycle) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ClaimTick records that a cycle starts for the schedule tick, unless that
// tick (or a later one) was already claimed: across restarts and leader
// changes, at most one cycle runs per tick. The claim is saved before the
// cycle runs, so a leader that dies mid-cycle is not followed by a second
// cycle for the same tick.
func (c *Cycle) ClaimTick(ctx context.Context, tick time.Time) (bool, error) {
	claimed := false
	// One read-modify-write with the read's version as precondition: of two
	// replicas claiming the same tick, exactly one wins.
	err := actions.UpdateState(ctx, c.State, func(st actions.State) (actions.State, error) {
		if !st.LastTick.IsZero() && !tick.After(st.LastTick) {
			return st, actions.ErrNoChange
		}
		st.LastTick = tick.UTC()
		claimed = true
		return st, nil
	})
	switch {
	case errors.Is(err, actions.ErrStateConflict):
		c.logger().Info("tick claimed by another writer of the state", "tick", tick.UTC().Format(time.RFC3339), "err", err)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("claim tick %s: %w", tick.UTC().Format(time.RFC3339), err)
	}
	return claimed, nil
}

// NodeRecorder records findings on Nodes; KubeEvents is one.
type NodeRecorder interface {
	RecordNode(ctx context.Context, f actions.NodeFinding) error
}

// recordNodeFindings records each busy GPU that no pod holds as an Event on
// its Node (never a deletion) and returns the findings' consecutive cycle
// counts for the state. A failure is logged and counted, not fatal.
func (c *Cycle) recordNodeFindings(ctx context.Context, log *slog.Logger, r analyzer.Report, prev map[string]int) map[string]int {
	var next map[string]int
	for _, g := range r.UnattributedGPUs {
		if g.Verdict != analyzer.BusyUnattributed {
			continue
		}
		f := actions.NodeFinding{Node: g.Node, GPU: g.Index, UUID: g.UUID, MIGInstance: g.MIGInstance, Reason: g.Reason}
		f.Cycles = prev[f.Key()] + 1
		if next == nil {
			next = map[string]int{}
		}
		next[f.Key()] = f.Cycles
		log.Warn("finding on node: busy GPU without a pod", "node", g.Node, "gpu", g.Index, "uuid", g.UUID,
			"mig_instance", g.MIGInstance, "cycles", f.Cycles, "reason", g.Reason)
		result := "skipped"
		if c.Nodes != nil {
			result = "ok"
			if err := c.Nodes.RecordNode(ctx, f); err != nil {
				result = "failed"
				log.Error("record node finding", "node", g.Node, "gpu", g.Index, "err", err)
			}
		}
		if c.Metrics != nil {
			c.Metrics.Action("record_node", result)
		}
	}
	return next
}
