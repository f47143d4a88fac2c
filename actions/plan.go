package actions

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/miner-detector/miner-detector/analyzer"
)

// StepKind is what a step does.
type StepKind string

const (
	// StepRecord records the finding: structured log and a Kubernetes Event
	// on the pod. Every miner pod, every cycle.
	StepRecord StepKind = "record"
	// StepNotify posts the finding to Slack, once per standing finding.
	StepNotify StepKind = "notify"
	// StepDelete deletes the pod (enforce mode only).
	StepDelete StepKind = "delete"
	// StepSkipDelete says why a miner pod is not deleted this cycle.
	StepSkipDelete StepKind = "skip_delete"
	// StepResolve tells the finding's Slack thread that the pod is no
	// longer judged a miner (benign, or gone from the data).
	StepResolve StepKind = "resolve"
	// StepEscalate records that deleting an owner's pods is futile: an
	// Event on the owner, a reply in the finding's Slack thread, the
	// repeat-offender gauge. Once per owner.
	StepEscalate StepKind = "escalate"
	// StepStopOwner scales an escalated owner to zero or suspends it
	// (actions.owners.stopOwners, enforce mode only).
	StepStopOwner StepKind = "stop_owner"
)

// Reasons a step carries that callers may compare against.
const (
	ReasonDryRun     = "dry-run: would delete"
	ReasonSharedOnly = "miner only on shared (time-sliced) GPUs"
	// ReasonNoProfiling: the only miner evidence is utilization alone,
	// which flat large-model training also shows.
	ReasonNoProfiling = "judged on utilization alone (no profiling metrics), which flat training also shows; " +
		"set actions.deleteWithoutProfiling to delete on it"
	// ReasonUngraded: a miner verdict without an evidence strength (a
	// producer that does not grade it) is never deleted.
	ReasonUngraded = "evidence strength not graded"
	// ReasonPartialEvidence: the miner evidence saw some math pipes idle,
	// not every pipe FP32/FP64 work would use.
	ReasonPartialEvidence = "evidence partial (not every math pipe exported, or one neither idle nor busy), which FP32/FP64 work can also show; " +
		"enable the missing counters (miner-detector signals) or set actions.deleteOnPartialEvidence"
	// ReasonSeriesDisagree: two trusted series of the miner GPU report
	// different values (two exporters, or a stale twin); no policy deletes
	// on it while they do.
	ReasonSeriesDisagree = "two series of the GPU disagree (two exporters, or a stale one): never deleted while they do; see the evidence's disagreement"
	// ReasonAlreadyDeleted: the pod was deleted and the window still holds
	// its samples.
	ReasonAlreadyDeleted = "already deleted; the window still holds its samples"
	// ReasonDeletedUnnotified: a deleted pod whose finding Slack never got.
	ReasonDeletedUnnotified = "deleted before Slack was told: posting the finding now"
	// ReasonDryRunStop: a stop that enforce mode would make.
	ReasonDryRunStop = "dry-run: would stop the owner"
	// reasonRepeatPrefix starts the reason of a deletion replaced by an
	// escalation.
	reasonRepeatPrefix = "repeat offender"
)

// Step is one action of a plan.
type Step struct {
	Kind StepKind
	Pod  analyzer.PodKey
	// Node is where the deletion evidence was seen (the first non-shared
	// miner GPU's node, else the pod report's node).
	Node string
	// Strikes counts consecutive cycles with a miner verdict, this one
	// included.
	Strikes int
	// Report is a copy of the pod's report, shared by the pod's steps:
	// read it, do not modify it.
	Report *analyzer.PodReport
	// Reason explains the step; for skip_delete, why the pod is not deleted.
	Reason string
	// ThreadTS is the Slack thread a resolve step replies in.
	ThreadTS string
	// Decision is the pod's deletion decision this cycle in words, the same
	// on all of its steps: "delete: strike 2 of 2", "dry-run: would delete",
	// "no deletion: strike 1 of 2".
	Decision string
	// Owner is the pod's owner when it is a controller (not the pod
	// itself); escalate and stop_owner act on it.
	Owner *Owner
}

// Plan is every step of one cycle, ordered by namespace/pod and, within a
// pod, record, notify, then delete or skip_delete.
type Plan struct {
	Enforce bool
	Steps   []Step
}

// Summary counts a plan's pods and steps.
type Summary struct {
	MinerPods  int `json:"miner_pods"`
	Record     int `json:"record"`
	Notify     int `json:"notify"`
	Delete     int `json:"delete"`
	SkipDelete int `json:"skip_delete"`
	// Capped counts miner pods not deleted because the per-cycle deletion
	// cap was reached: more miners than the cap lets enforcement handle.
	Capped int `json:"capped"`
	// Escalate and StopOwner count owners escalated and stopped (or, in
	// dry-run, that would be stopped).
	Escalate  int `json:"escalate"`
	StopOwner int `json:"stop_owner"`
}

// Summary counts the plan's steps by kind; MinerPods is the number of record
// steps (one per miner pod).
func (p Plan) Summary() Summary {
	var s Summary
	for _, st := range p.Steps {
		switch st.Kind {
		case StepRecord:
			s.Record++
			s.MinerPods++
		case StepNotify:
			s.Notify++
		case StepDelete:
			s.Delete++
		case StepEscalate:
			s.Escalate++
		case StepStopOwner:
			s.StopOwner++
		case StepSkipDelete:
			s.SkipDelete++
			if strings.HasPrefix(st.Reason, reasonCapPrefix) {
				s.Capped++
			}
		}
	}
	return s
}

func (s Summary) String() string {
	out := fmt.Sprintf("%d miner pods: %d record, %d notify, %d delete, %d skip_delete (%d over the cap)",
		s.MinerPods, s.Record, s.Notify, s.Delete, s.SkipDelete, s.Capped)
	if s.Escalate+s.StopOwner > 0 {
		out += fmt.Sprintf(", %d escalate, %d stop_owner", s.Escalate, s.StopOwner)
	}
	return out
}

// BuildPlan decides this cycle's steps from the analyzer's pod reports and
// the previous State, and returns the next State. It is pure: no clock, no
// I/O; its times come from the evidence.
//
// Strikes count consecutive cycles: a miner verdict adds one; a benign pod,
// or one absent from the reports, loses its entry (strikes reset, so a later
// finding is notified again); insufficient_data keeps the entry as it was,
// neither adding a strike nor resetting.
//
// A miner pod is deleted only in enforce mode, with at least
// StrikesToEnforce strikes, not protected (Policy.Protected), with at least
// one non-shared GPU judged miner, its evidence on one node, and while the
// cycle's deletion cap is not reached. Dry-run applies the same checks, cap
// included, and says "dry-run: would delete" where enforce would delete.
//
// A deleted pod stays in the reports while the window still holds its
// samples: it then gets a single skip_delete, no Event, no notification
// (unless Slack was never told of it: then one notify), and does not count
// against the cap. A miner under its name whose evidence all
// follows the deletion is a new pod and a new finding.
//
// Owners (see plan_owners.go): a miner pod whose owner is a controller
// (Policy.Owners, or the state) is recorded under its owner. A pod judged
// on its owner's evidence starts with the strikes to enforce. Once an owner
// had EscalateAfter pods deleted within EscalationPeriod, its pods are no
// longer deleted: the owner is escalated once and, with StopOwners, stopped.
func BuildPlan(pods []analyzer.PodReport, prev State, p Policy) (Plan, State) {
	plan := Plan{Enforce: p.Enforce}
	owners := newOwnerBook(pods, prev, p)
	next := State{Pods: map[string]PodState{}, LastTick: prev.LastTick, Owners: owners.carried()}
	deletions := 0
	for _, r := range sortedUnique(pods) {
		key := r.PodKey.String()
		old, had := prev.Pods[key]
		switch {
		case r.Verdict == analyzer.InsufficientData && had:
			next.Pods[key] = old
			continue
		case r.Verdict != analyzer.Miner:
			continue
		case old.Deleted && !evidenceStart(r).After(old.DeletedAt):
			next.Pods[key] = old
			reason := ReasonAlreadyDeleted
			skip := Step{
				Kind: StepSkipDelete, Pod: r.PodKey, Node: r.Node, Strikes: old.Strikes,
				Report: &r, Reason: reason, Decision: "no deletion: " + reason,
			}
			if !old.Notified {
				// Slack failed in the cycle that deleted the pod: post the
				// finding now, once (the state then marks it notified).
				plan.Steps = append(plan.Steps, with(skip, StepNotify, ReasonDeletedUnnotified))
				plan.Steps[len(plan.Steps)-1].Decision = "deleted (" + old.LastDecision + ")"
			}
			plan.Steps = append(plan.Steps, skip)
			continue
		case old.Deleted:
			old = PodState{} // a new pod under the deleted pod's name
		}

		ps := old
		ps.Strikes++
		if r.Evidence.Owner != nil && ps.Strikes < p.StrikesToEnforce {
			// The owner earned the strikes with the pods before this one.
			ps.Strikes = p.StrikesToEnforce
		}
		seen := evidenceEnd(r)
		if !seen.IsZero() {
			if ps.FirstSeen.IsZero() {
				ps.FirstSeen = seen
			}
			ps.LastSeen = seen
		}
		next.Pods[key] = ps

		step := Step{Pod: r.PodKey, Strikes: ps.Strikes, Report: &r}
		var kind StepKind
		kind, step.Node, step.Reason = decideDeletion(r, ps.Strikes, p, &deletions)
		var escalation []Step
		if owner, ok := owners.of(r.PodKey); ok {
			step.Owner = &owner
			ps.Owner = owner.Key()
			kind, step.Reason, escalation = owners.judge(&next, owner, r, seen, kind, step.Reason, &deletions)
		}
		switch {
		case kind == StepDelete:
			step.Decision = "delete: " + step.Reason
		case step.Reason == ReasonDryRun:
			step.Decision = ReasonDryRun
		default:
			step.Decision = "no deletion: " + step.Reason
		}
		plan.Steps = append(plan.Steps, with(step, StepRecord, fmt.Sprintf("miner, strike %d", ps.Strikes)))
		switch {
		case !ps.Notified:
			plan.Steps = append(plan.Steps, with(step, StepNotify, "new finding"))
		case ps.LastDecision != "" && ps.LastDecision != step.Decision:
			// Still mining and the decision moved on (e.g. the strike that
			// makes it deletable): a reply in the finding's thread. State
			// written before decisions were kept has none: no reply.
			plan.Steps = append(plan.Steps, with(step, StepNotify, "still mining: "+step.Decision))
		}
		ps.LastDecision = step.Decision
		next.Pods[key] = ps
		plan.Steps = append(plan.Steps, with(step, kind, step.Reason))
		for _, e := range escalation {
			e.Pod, e.Node, e.Strikes, e.Report, e.Decision, e.Owner = r.PodKey, step.Node, step.Strikes, &r, step.Decision, step.Owner
			plan.Steps = append(plan.Steps, e)
		}
	}
	plan.Steps = append(plan.Steps, resolved(pods, prev, next)...)
	return plan, next
}

// resolved plans a reply in the Slack thread of every notified finding that
// ended this cycle: the pod is judged benign, or is gone from the data
// without having been deleted by us.
func resolved(pods []analyzer.PodReport, prev, next State) []Step {
	verdicts := map[string]analyzer.Verdict{}
	for _, r := range pods {
		verdicts[r.PodKey.String()] = r.Verdict
	}
	var steps []Step
	for _, key := range slices.Sorted(maps.Keys(prev.Pods)) {
		old := prev.Pods[key]
		if _, stands := next.Pods[key]; stands || !old.Notified || old.SlackTS == "" || old.Deleted {
			continue
		}
		reason := "no longer in the data"
		if v, ok := verdicts[key]; ok {
			reason = "now judged " + string(v)
		}
		ns, pod, _ := strings.Cut(key, "/")
		steps = append(steps, Step{Kind: StepResolve, Pod: analyzer.PodKey{Namespace: ns, Pod: pod},
			Strikes: old.Strikes, Reason: reason, Decision: "resolved: " + reason, ThreadTS: old.SlackTS})
	}
	return steps
}

// decideDeletion returns delete or skip_delete for a miner pod, the node of
// its deletion evidence, and the reason; a deletion (or, in dry-run, a
// deletion that enforce would make) counts against the cap.
func decideDeletion(r analyzer.PodReport, strikes int, p Policy, deletions *int) (StepKind, string, string) {
	node, whyNot := deletionEvidence(r, p)
	if node == "" {
		node = r.Node
	}
	if protected, why := p.Protected(r); protected {
		return StepSkipDelete, node, why
	}
	switch {
	case whyNot != "":
		return StepSkipDelete, node, whyNot
	case strikes < p.StrikesToEnforce:
		return StepSkipDelete, node, fmt.Sprintf("strike %d of %d", strikes, p.StrikesToEnforce)
	case *deletions >= p.MaxDeletionsPerCycle:
		return StepSkipDelete, node, fmt.Sprintf("%s %d reached", reasonCapPrefix, p.MaxDeletionsPerCycle)
	}
	*deletions++
	if !p.Enforce {
		return StepSkipDelete, node, ReasonDryRun
	}
	reason := fmt.Sprintf("strike %d of %d", strikes, p.StrikesToEnforce)
	if p.forgerLosesDoubt(r.PodKey) && !strongEnough(r, p) {
		reason += "; " + ReasonForgerWeakEvidence
	}
	return StepDelete, node, reason
}

// strongEnough reports whether r is deletable without the forger opt-in.
func strongEnough(r analyzer.PodReport, p Policy) bool {
	p.DeleteForgersOnWeakEvidence = false
	_, whyNot := deletionEvidence(r, p)
	return whyNot == ""
}

// reasonCapPrefix starts the reason of a deletion the cap prevented.
const reasonCapPrefix = "per-cycle deletion cap"

func with(s Step, kind StepKind, reason string) Step {
	s.Kind, s.Reason = kind, reason
	return s
}

// deletionEvidence returns the node of the pod's deletion evidence: GPUs
// judged miner that no other pod used at the same time, on evidence strong
// enough for the policy (strong always; partial and utilization-only when
// the operator opted in), whose series agree (a GPU whose two exporters
// disagree deletes under no policy). When there is none, or it spans several nodes (the
// name was reused by a pod elsewhere), it returns why the pod must not be
// deleted.
func deletionEvidence(r analyzer.PodReport, p Policy) (node, whyNot string) {
	var nodes []string
	weakest := ""
	for _, g := range r.GPUs {
		if g.Verdict != analyzer.Miner || g.Shared {
			continue
		}
		if g.Disagreement != nil {
			weakest = ReasonSeriesDisagree
			continue
		}
		if why := p.tooWeakFor(r.PodKey, g.Strength); why != "" {
			if weakest != ReasonSeriesDisagree && (weakest == "" || why == ReasonNoProfiling) {
				weakest = why
			}
			continue
		}
		if !slices.Contains(nodes, g.Node) {
			nodes = append(nodes, g.Node)
		}
	}
	switch len(nodes) {
	case 0:
		if weakest != "" {
			return "", weakest
		}
		return "", ReasonSharedOnly
	case 1:
		return nodes[0], ""
	default:
		slices.Sort(nodes)
		return "", "miner evidence on several nodes (" + strings.Join(nodes, ", ") + "): pod name reused?"
	}
}

// tooWeakFor is tooWeak for pod k's own GPUs: a pod that forged GPU
// telemetry this cycle may be deleted on partial or utilization-only
// evidence when the operator opted in (DeleteForgersOnWeakEvidence).
func (p Policy) tooWeakFor(k analyzer.PodKey, s analyzer.Strength) string {
	why := p.tooWeak(s)
	if why != "" && p.forgerLosesDoubt(k) && (s == analyzer.StrengthPartial || s == analyzer.StrengthUtilizationOnly) {
		return ""
	}
	return why
}

// forgerLosesDoubt reports whether pod k forged GPU telemetry this cycle
// and the operator opted in to delete such pods on weaker evidence.
func (p Policy) forgerLosesDoubt(k analyzer.PodKey) bool {
	return p.DeleteForgersOnWeakEvidence && p.Forgers[k]
}

// ReasonForgerWeakEvidence ends the reason of a forging pod's deletion on
// evidence that would not delete another pod.
const ReasonForgerWeakEvidence = "the pod served forged GPU telemetry this cycle (actions.deleteForgersOnWeakEvidence): deletable on partial or utilization-only evidence"

// tooWeak says why evidence of strength s may not delete under the policy;
// empty when it may. Evidence the analyzer did not grade never deletes.
func (p Policy) tooWeak(s analyzer.Strength) string {
	switch s {
	case analyzer.StrengthStrong:
		return ""
	case analyzer.StrengthPartial:
		if p.DeleteOnPartialEvidence {
			return ""
		}
		return ReasonPartialEvidence
	case analyzer.StrengthUtilizationOnly:
		if p.DeleteWithoutProfiling {
			return ""
		}
		return ReasonNoProfiling
	}
	return ReasonUngraded
}

// sortedUnique orders reports by namespace/pod; of duplicates, the most
// severe verdict is kept.
func sortedUnique(pods []analyzer.PodReport) []analyzer.PodReport {
	out := slices.Clone(pods)
	out = slices.DeleteFunc(out, func(r analyzer.PodReport) bool { return r.Pod == "" })
	slices.SortStableFunc(out, func(a, b analyzer.PodReport) int {
		return cmp.Or(
			cmp.Compare(a.Namespace, b.Namespace),
			cmp.Compare(a.Pod, b.Pod),
			cmp.Compare(b.Verdict.Severity(), a.Verdict.Severity()),
		)
	})
	return slices.CompactFunc(out, func(a, b analyzer.PodReport) bool { return a.PodKey == b.PodKey })
}
