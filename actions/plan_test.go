package actions

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

// stepLines writes a plan as "namespace/pod kind[: reason]", the reason
// only where it is the decision (delete, skip_delete).
func stepLines(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		line := s.Pod.String() + " " + string(s.Kind)
		if s.Kind == StepDelete || s.Kind == StepSkipDelete {
			line += ": " + s.Reason
		}
		out = append(out, line)
	}
	return out
}

// strikeLines writes a State as "namespace/pod strikes=N notified=B".
func strikeLines(s State) []string {
	var out []string
	for k, v := range s.Pods {
		out = append(out, fmt.Sprintf("%s strikes=%d notified=%t", k, v.Strikes, v.Notified))
	}
	slices.Sort(out)
	return out
}

func TestBuildPlan(t *testing.T) {
	dryRun := DefaultPolicy()
	enforce := DefaultPolicy()
	enforce.Enforce = true
	withPolicy := func(p Policy, f func(*Policy)) Policy { f(&p); return p }

	cases := []struct {
		name      string
		policy    Policy
		prev      State
		pods      []analyzer.PodReport
		want      []string
		wantState []string
	}{
		{
			name:      "first miner cycle in dry-run: record, notify, strike 1 of 2",
			policy:    dryRun,
			pods:      []analyzer.PodReport{miner("team-a", "job")},
			want:      []string{"team-a/job record", "team-a/job notify", "team-a/job skip_delete: strike 1 of 2"},
			wantState: []string{"team-a/job strikes=1 notified=false"},
		},
		{
			name:      "second cycle in dry-run: would delete, no second notification",
			policy:    dryRun,
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true, SlackTS: "1.1"}}),
			pods:      []analyzer.PodReport{miner("team-a", "job")},
			want:      []string{"team-a/job record", "team-a/job skip_delete: dry-run: would delete"},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:      "enforce, strike 1: one bad window never deletes",
			policy:    enforce,
			pods:      []analyzer.PodReport{miner("team-a", "job")},
			want:      []string{"team-a/job record", "team-a/job notify", "team-a/job skip_delete: strike 1 of 2"},
			wantState: []string{"team-a/job strikes=1 notified=false"},
		},
		{
			name:      "enforce, strike 2, judged on utilization alone: recorded, never deleted",
			policy:    enforce,
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{report("team-a", "job", withoutProfiling(gpu("gpu-node-1", "0", analyzer.Miner)))},
			want:      []string{"team-a/job record", "team-a/job skip_delete: " + ReasonNoProfiling},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:      "enforce, strike 2, utilization alone, deleteWithoutProfiling: delete",
			policy:    withPolicy(enforce, func(p *Policy) { p.DeleteWithoutProfiling = true }),
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{report("team-a", "job", withoutProfiling(gpu("gpu-node-1", "0", analyzer.Miner)))},
			want:      []string{"team-a/job record", "team-a/job delete: strike 2 of 2"},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:      "enforce, strike 2, partial evidence (GPU Operator counters): recorded, never deleted",
			policy:    enforce,
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{report("team-a", "job", withStrength(gpu("gpu-node-1", "0", analyzer.Miner), analyzer.StrengthPartial))},
			want:      []string{"team-a/job record", "team-a/job skip_delete: " + ReasonPartialEvidence},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:      "enforce, strike 2, partial evidence, deleteOnPartialEvidence: delete",
			policy:    withPolicy(enforce, func(p *Policy) { p.DeleteOnPartialEvidence = true }),
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{report("team-a", "job", withStrength(gpu("gpu-node-1", "0", analyzer.Miner), analyzer.StrengthPartial))},
			want:      []string{"team-a/job record", "team-a/job delete: strike 2 of 2"},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:      "enforce, strike 2, partial evidence, deleteWithoutProfiling alone does not delete it",
			policy:    withPolicy(enforce, func(p *Policy) { p.DeleteWithoutProfiling = true }),
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{report("team-a", "job", withStrength(gpu("gpu-node-1", "0", analyzer.Miner), analyzer.StrengthPartial))},
			want:      []string{"team-a/job record", "team-a/job skip_delete: " + ReasonPartialEvidence},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:   "enforce, strike 2, every opt-in: a GPU whose two exporters disagree is never deleted",
			policy: withPolicy(enforce, func(p *Policy) { p.DeleteOnPartialEvidence, p.DeleteWithoutProfiling = true, true }),
			prev:   states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods: []analyzer.PodReport{report("team-a", "job", withDisagreement(withStrength(gpu("gpu-node-1", "0", analyzer.Miner), analyzer.StrengthPartial)),
				withDisagreement(withoutProfiling(gpu("gpu-node-1", "1", analyzer.Miner))))},
			want:      []string{"team-a/job record", "team-a/job skip_delete: " + ReasonSeriesDisagree},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name: "enforce, strike 2, partial evidence, the pod forged telemetry, no opt-in: recorded, never deleted",
			policy: withPolicy(enforce, func(p *Policy) {
				p.Forgers = map[analyzer.PodKey]bool{key("team-a", "job"): true}
			}),
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{report("team-a", "job", withStrength(gpu("gpu-node-1", "0", analyzer.Miner), analyzer.StrengthPartial))},
			want:      []string{"team-a/job record", "team-a/job skip_delete: " + ReasonPartialEvidence},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name: "enforce, strike 2, deleteForgersOnWeakEvidence: the forging pod is deleted on partial and utilization-only evidence, another pod is not",
			policy: withPolicy(enforce, func(p *Policy) {
				p.DeleteForgersOnWeakEvidence = true
				p.Forgers = map[analyzer.PodKey]bool{key("team-a", "job"): true, key("team-a", "util"): true}
			}),
			prev: states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}, "team-a/util": {Strikes: 1, Notified: true},
				"team-b/job": {Strikes: 1, Notified: true}}),
			pods: []analyzer.PodReport{
				report("team-a", "job", withStrength(gpu("gpu-node-1", "0", analyzer.Miner), analyzer.StrengthPartial)),
				report("team-a", "util", withoutProfiling(gpu("gpu-node-2", "0", analyzer.Miner))),
				report("team-b", "job", withStrength(gpu("gpu-node-3", "0", analyzer.Miner), analyzer.StrengthPartial)),
			},
			want: []string{
				"team-a/job record", "team-a/job delete: strike 2 of 2; " + ReasonForgerWeakEvidence,
				"team-a/util record", "team-a/util delete: strike 2 of 2; " + ReasonForgerWeakEvidence,
				"team-b/job record", "team-b/job skip_delete: " + ReasonPartialEvidence,
			},
			wantState: []string{"team-a/job strikes=2 notified=true", "team-a/util strikes=2 notified=true", "team-b/job strikes=2 notified=true"},
		},
		{
			name: "enforce, deleteForgersOnWeakEvidence: strong evidence deletes as always, without the forgery in its reason",
			policy: withPolicy(enforce, func(p *Policy) {
				p.DeleteForgersOnWeakEvidence = true
				p.Forgers = map[analyzer.PodKey]bool{key("team-a", "job"): true}
			}),
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{miner("team-a", "job")},
			want:      []string{"team-a/job record", "team-a/job delete: strike 2 of 2"},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name: "enforce, deleteForgersOnWeakEvidence: a forging pod with benign GPUs, disagreeing series, ungraded or shared evidence is never deleted",
			policy: withPolicy(enforce, func(p *Policy) {
				p.DeleteForgersOnWeakEvidence = true
				p.Forgers = map[analyzer.PodKey]bool{key("team-a", "benign"): true, key("team-a", "disagree"): true,
					key("team-a", "ungraded"): true, key("team-a", "shared"): true}
			}),
			prev: states(map[string]PodState{"team-a/disagree": {Strikes: 1, Notified: true}, "team-a/ungraded": {Strikes: 1, Notified: true},
				"team-a/shared": {Strikes: 1, Notified: true}}),
			pods: []analyzer.PodReport{
				benign("team-a", "benign"),
				report("team-a", "disagree", withDisagreement(withStrength(gpu("gpu-node-1", "0", analyzer.Miner), analyzer.StrengthPartial))),
				report("team-a", "shared", sharedWith(withStrength(gpu("gpu-node-1", "1", analyzer.Miner), analyzer.StrengthPartial), key("team-b", "x"))),
				report("team-a", "ungraded", withStrength(gpu("gpu-node-1", "2", analyzer.Miner), "")),
			},
			want: []string{
				"team-a/disagree record", "team-a/disagree skip_delete: " + ReasonSeriesDisagree,
				"team-a/shared record", "team-a/shared skip_delete: " + ReasonSharedOnly,
				"team-a/ungraded record", "team-a/ungraded skip_delete: " + ReasonUngraded,
			},
			wantState: []string{"team-a/disagree strikes=2 notified=true", "team-a/shared strikes=2 notified=true", "team-a/ungraded strikes=2 notified=true"},
		},
		{
			name:      "enforce, strike 2, ungraded evidence is never deleted",
			policy:    withPolicy(enforce, func(p *Policy) { p.DeleteOnPartialEvidence, p.DeleteWithoutProfiling = true, true }),
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{report("team-a", "job", withStrength(gpu("gpu-node-1", "0", analyzer.Miner), ""))},
			want:      []string{"team-a/job record", "team-a/job skip_delete: " + ReasonUngraded},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:      "enforce, strike 2: delete",
			policy:    enforce,
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{miner("team-a", "job")},
			want:      []string{"team-a/job record", "team-a/job delete: strike 2 of 2"},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:      "enforce, one strike required: notify and delete in the same cycle",
			policy:    withPolicy(enforce, func(p *Policy) { p.StrikesToEnforce = 1 }),
			pods:      []analyzer.PodReport{miner("team-a", "job")},
			want:      []string{"team-a/job record", "team-a/job notify", "team-a/job delete: strike 1 of 1"},
			wantState: []string{"team-a/job strikes=1 notified=false"},
		},
		{
			name:      "a failed notification is planned again",
			policy:    dryRun,
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: false}}),
			pods:      []analyzer.PodReport{miner("team-a", "job")},
			want:      []string{"team-a/job record", "team-a/job notify", "team-a/job skip_delete: dry-run: would delete"},
			wantState: []string{"team-a/job strikes=2 notified=false"},
		},
		{
			name:      "protected namespace is never deleted, whatever the strikes",
			policy:    enforce,
			prev:      states(map[string]PodState{"kube-system/dcgm": {Strikes: 9, Notified: true}}),
			pods:      []analyzer.PodReport{miner("kube-system", "dcgm")},
			want:      []string{"kube-system/dcgm record", "kube-system/dcgm skip_delete: protected namespace kube-system"},
			wantState: []string{"kube-system/dcgm strikes=10 notified=true"},
		},
		{
			name: "operator exemption by pattern",
			policy: withPolicy(enforce, func(p *Policy) {
				p.Exemptions = []Exemption{{Namespace: "bench", Pod: ""}, {Namespace: "ns-*", Pod: "train-*"}}
			}),
			prev: states(map[string]PodState{"ns-vision/train-resnet": {Strikes: 1, Notified: true}, "ns-vision/xmrig": {Strikes: 1, Notified: true}}),
			pods: []analyzer.PodReport{miner("ns-vision", "train-resnet"), miner("ns-vision", "xmrig")},
			want: []string{
				"ns-vision/train-resnet record", "ns-vision/train-resnet skip_delete: exempted by exemptions[1] (ns-*/train-*)",
				"ns-vision/xmrig record", "ns-vision/xmrig delete: strike 2 of 2",
			},
			wantState: []string{"ns-vision/train-resnet strikes=2 notified=true", "ns-vision/xmrig strikes=2 notified=true"},
		},
		{
			name:   "miner only on a time-sliced GPU: not deletable on that evidence",
			policy: enforce,
			prev:   states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods: []analyzer.PodReport{report("team-a", "job",
				sharedWith(gpu("node-a", "0", analyzer.Miner), key("team-b", "other")))},
			want:      []string{"team-a/job record", "team-a/job skip_delete: miner only on shared (time-sliced) GPUs"},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:   "a benign own GPU does not make shared miner evidence deletable",
			policy: enforce,
			prev:   states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods: []analyzer.PodReport{report("team-a", "job",
				sharedWith(gpu("node-a", "0", analyzer.Miner), key("team-b", "other")),
				gpu("node-a", "1", analyzer.Benign))},
			want:      []string{"team-a/job record", "team-a/job skip_delete: miner only on shared (time-sliced) GPUs"},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:   "one own GPU judged miner is enough, even beside a shared one",
			policy: enforce,
			prev:   states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods: []analyzer.PodReport{report("team-a", "job",
				sharedWith(gpu("node-a", "0", analyzer.Miner), key("team-b", "other")),
				gpu("node-a", "1", analyzer.Miner))},
			want:      []string{"team-a/job record", "team-a/job delete: strike 2 of 2"},
			wantState: []string{"team-a/job strikes=2 notified=true"},
		},
		{
			name:   "miner evidence on two nodes (name reused elsewhere) is not deletable",
			policy: enforce,
			prev:   states(map[string]PodState{"team-a/web-0": {Strikes: 1, Notified: true}}),
			pods: []analyzer.PodReport{report("team-a", "web-0",
				gpu("node-a", "0", analyzer.Miner), gpu("node-b", "0", analyzer.Miner))},
			want:      []string{"team-a/web-0 record", "team-a/web-0 skip_delete: miner evidence on several nodes (node-a, node-b): pod name reused?"},
			wantState: []string{"team-a/web-0 strikes=2 notified=true"},
		},
		{
			name:   "per-cycle cap: the first pods in namespace/pod order are deleted, the rest wait",
			policy: withPolicy(enforce, func(p *Policy) { p.MaxDeletionsPerCycle = 2 }),
			prev: states(map[string]PodState{
				"a/x": {Strikes: 1, Notified: true}, "b/x": {Strikes: 1, Notified: true}, "c/x": {Strikes: 1, Notified: true},
			}),
			pods: []analyzer.PodReport{miner("c", "x"), miner("a", "x"), miner("b", "x")},
			want: []string{
				"a/x record", "a/x delete: strike 2 of 2",
				"b/x record", "b/x delete: strike 2 of 2",
				"c/x record", "c/x skip_delete: per-cycle deletion cap 2 reached",
			},
			wantState: []string{"a/x strikes=2 notified=true", "b/x strikes=2 notified=true", "c/x strikes=2 notified=true"},
		},
		{
			name:   "dry-run applies the cap too, so it shows what enforce would do",
			policy: withPolicy(dryRun, func(p *Policy) { p.MaxDeletionsPerCycle = 1 }),
			prev: states(map[string]PodState{
				"a/x": {Strikes: 1, Notified: true}, "b/x": {Strikes: 1, Notified: true},
			}),
			pods: []analyzer.PodReport{miner("a", "x"), miner("b", "x")},
			want: []string{
				"a/x record", "a/x skip_delete: dry-run: would delete",
				"b/x record", "b/x skip_delete: per-cycle deletion cap 1 reached",
			},
			wantState: []string{"a/x strikes=2 notified=true", "b/x strikes=2 notified=true"},
		},
		{
			name:   "protected and skipped pods do not use up the cap",
			policy: withPolicy(enforce, func(p *Policy) { p.MaxDeletionsPerCycle = 1 }),
			prev: states(map[string]PodState{
				"kube-system/x": {Strikes: 1, Notified: true}, "team-a/young": {Notified: true}, "team-b/x": {Strikes: 1, Notified: true},
			}),
			pods: []analyzer.PodReport{miner("kube-system", "x"), miner("team-a", "young"), miner("team-b", "x")},
			want: []string{
				"kube-system/x record", "kube-system/x skip_delete: protected namespace kube-system",
				"team-a/young record", "team-a/young skip_delete: strike 1 of 2",
				"team-b/x record", "team-b/x delete: strike 2 of 2",
			},
			wantState: []string{"kube-system/x strikes=2 notified=true", "team-a/young strikes=1 notified=true", "team-b/x strikes=2 notified=true"},
		},
		{
			name:   "the same pod name in two namespaces is two pods",
			policy: enforce,
			prev:   states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:   []analyzer.PodReport{miner("team-b", "job"), miner("team-a", "job")},
			want: []string{
				"team-a/job record", "team-a/job delete: strike 2 of 2",
				"team-b/job record", "team-b/job notify", "team-b/job skip_delete: strike 1 of 2",
			},
			wantState: []string{"team-a/job strikes=2 notified=true", "team-b/job strikes=1 notified=false"},
		},
		{
			name:   "a deleted pod still in the window: one skip, no Event, no notification, no cap used",
			policy: withPolicy(enforce, func(p *Policy) { p.MaxDeletionsPerCycle = 1 }),
			prev: states(map[string]PodState{
				"a/deleted": {Strikes: 2, Notified: true, Deleted: true, DeletedAt: t0.Add(time.Hour)},
				"b/x":       {Strikes: 1, Notified: true},
			}),
			pods: []analyzer.PodReport{miner("a", "deleted"), miner("b", "x")},
			want: []string{
				"a/deleted skip_delete: already deleted; the window still holds its samples",
				"b/x record", "b/x delete: strike 2 of 2",
			},
			wantState: []string{"a/deleted strikes=2 notified=true", "b/x strikes=2 notified=true"},
		},
		{
			name:   "a deleted pod Slack never heard of (Slack down when it was deleted): the finding is posted once",
			policy: enforce,
			prev: states(map[string]PodState{
				"a/deleted": {Strikes: 1, Deleted: true, DeletedAt: t0.Add(time.Hour), LastDecision: "delete: strike 1 of 1"},
			}),
			pods: []analyzer.PodReport{miner("a", "deleted")},
			want: []string{
				"a/deleted notify",
				"a/deleted skip_delete: already deleted; the window still holds its samples",
			},
			wantState: []string{"a/deleted strikes=1 notified=false"},
		},
		{
			name:      "a new pod under a deleted pod's name, evidence all after the deletion: a new finding",
			policy:    enforce,
			prev:      states(map[string]PodState{"a/web-0": {Strikes: 2, Notified: true, Deleted: true, DeletedAt: t0}}),
			pods:      []analyzer.PodReport{miner("a", "web-0")},
			want:      []string{"a/web-0 record", "a/web-0 notify", "a/web-0 skip_delete: strike 1 of 2"},
			wantState: []string{"a/web-0 strikes=1 notified=false"},
		},
		{
			name:      "benign: the entry is dropped (strikes reset, notification cleared), the thread is told",
			policy:    enforce,
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true, SlackTS: "1.1"}}),
			pods:      []analyzer.PodReport{benign("team-a", "job")},
			want:      []string{"team-a/job resolve"},
			wantState: nil,
		},
		{
			name:      "absent from the report: the entry is dropped",
			policy:    enforce,
			prev:      states(map[string]PodState{"team-a/gone": {Strikes: 3, Notified: true, Deleted: true}}),
			pods:      []analyzer.PodReport{benign("team-a", "other")},
			want:      nil,
			wantState: nil,
		},
		{
			name:      "insufficient_data: strikes kept, none added, no action",
			policy:    enforce,
			prev:      states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true}}),
			pods:      []analyzer.PodReport{insufficient("team-a", "job")},
			want:      nil,
			wantState: []string{"team-a/job strikes=1 notified=true"},
		},
		{
			name:      "insufficient_data with no standing finding: nothing",
			policy:    enforce,
			pods:      []analyzer.PodReport{insufficient("team-a", "young")},
			want:      nil,
			wantState: nil,
		},
		{
			name:      "a duplicate report counts one strike, the most severe verdict wins",
			policy:    dryRun,
			pods:      []analyzer.PodReport{benign("team-a", "job"), miner("team-a", "job")},
			want:      []string{"team-a/job record", "team-a/job notify", "team-a/job skip_delete: strike 1 of 2"},
			wantState: []string{"team-a/job strikes=1 notified=false"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.policy.Validate(); err != nil {
				t.Fatalf("test policy invalid: %v", err)
			}
			plan, next := BuildPlan(c.pods, c.prev, c.policy)
			if got := stepLines(plan); !slices.Equal(got, c.want) {
				t.Errorf("steps:\n got  %q\n want %q", got, c.want)
			}
			if got := strikeLines(next); !slices.Equal(got, c.wantState) {
				t.Errorf("state:\n got  %q\n want %q", got, c.wantState)
			}
			if plan.Enforce != c.policy.Enforce {
				t.Errorf("plan.Enforce = %t, want %t", plan.Enforce, c.policy.Enforce)
			}
		})
	}
}

func TestBuildPlanStepsCarryEvidence(t *testing.T) {
	p := DefaultPolicy()
	p.Enforce = true
	prev := states(map[string]PodState{"team-a/job": {Strikes: 1, Notified: true, SlackTS: "171.5", FirstSeen: t0}})
	r := report("team-a", "job", sharedWith(gpu("node-a", "0", analyzer.Miner), key("x", "y")), gpu("node-b", "1", analyzer.Miner))
	r.Node = "node-a" // the analyzer's node is the first most severe GPU's
	plan, next := BuildPlan([]analyzer.PodReport{r}, prev, p)

	del := plan.Steps[len(plan.Steps)-1]
	if del.Kind != StepDelete {
		t.Fatalf("last step %s, want delete", del.Kind)
	}
	if del.Node != "node-b" {
		t.Errorf("delete node %q, want node-b: the node of the non-shared miner GPU, the deletion evidence", del.Node)
	}
	if del.Strikes != 2 || del.Report == nil || del.Report.PodKey != r.PodKey {
		t.Errorf("delete step strikes %d report %v, want 2 and the pod's report", del.Strikes, del.Report)
	}
	for _, s := range plan.Steps {
		if s.Decision != "delete: strike 2 of 2" {
			t.Errorf("%s step decision %q, want the pod's deletion decision on every step", s.Kind, s.Decision)
		}
	}
	got := next.Pods["team-a/job"]
	if got.SlackTS != "171.5" || !got.FirstSeen.Equal(t0) {
		t.Errorf("state kept SlackTS %q FirstSeen %v, want 171.5 and %v", got.SlackTS, got.FirstSeen, t0)
	}
	if want := t0.Add(time.Hour); !got.LastSeen.Equal(want) {
		t.Errorf("LastSeen %v, want the end of the latest chunk %v", got.LastSeen, want)
	}
}

func TestBuildPlanDoesNotModifyInputs(t *testing.T) {
	prev := states(map[string]PodState{"team-a/job": {Strikes: 1}})
	pods := []analyzer.PodReport{miner("team-b", "job"), miner("team-a", "job")}
	BuildPlan(pods, prev, DefaultPolicy())
	if prev.Pods["team-a/job"].Strikes != 1 || len(prev.Pods) != 1 {
		t.Errorf("previous state modified: %+v", prev.Pods)
	}
	if pods[0].Namespace != "team-b" {
		t.Errorf("input reports reordered: first is %s", pods[0].PodKey)
	}
}

// A finding that ends and comes back is a new finding: notified again, its
// strikes counted from one.
func TestBuildPlanNewFindingAfterReset(t *testing.T) {
	p := DefaultPolicy()
	var state State
	var notifies []int
	cycles := [][]analyzer.PodReport{
		{miner("team-a", "job")},        // notify, strike 1
		{miner("team-a", "job")},        // strike 2: the decision moves on, a reply
		{insufficient("team-a", "job")}, // kept
		{miner("team-a", "job")},        // strike 3
		{benign("team-a", "job")},       // dropped
		{miner("team-a", "job")},        // new finding: notify, strike 1
	}
	var strikes []int
	for i, pods := range cycles {
		plan, next := BuildPlan(pods, state, p)
		if plan.Summary().Notify > 0 {
			notifies = append(notifies, i)
			ps := next.Pods["team-a/job"]
			ps.Notified = true // what Execute does after a successful notify
			next.Pods["team-a/job"] = ps
		}
		strikes = append(strikes, next.Pods["team-a/job"].Strikes)
		state = next
	}
	if want := []int{0, 1, 5}; !slices.Equal(notifies, want) {
		t.Errorf("notified in cycles %v, want %v", notifies, want)
	}
	if want := []int{1, 2, 2, 3, 0, 1}; !slices.Equal(strikes, want) {
		t.Errorf("strikes per cycle %v, want %v", strikes, want)
	}
}

func TestPlanSummary(t *testing.T) {
	p := DefaultPolicy()
	p.Enforce = true
	prev := states(map[string]PodState{"a/x": {Strikes: 1, Notified: true}})
	plan, _ := BuildPlan([]analyzer.PodReport{miner("a", "x"), miner("b", "y"), benign("c", "z")}, prev, p)
	got := plan.Summary()
	want := Summary{MinerPods: 2, Record: 2, Notify: 1, Delete: 1, SkipDelete: 1}
	if got != want {
		t.Errorf("Summary() = %+v, want %+v", got, want)
	}
	if s := got.String(); s != "2 miner pods: 2 record, 1 notify, 1 delete, 1 skip_delete (0 over the cap)" {
		t.Errorf("Summary().String() = %q", s)
	}
	// With a cap of one, the second ready miner is counted as capped.
	p.MaxDeletionsPerCycle = 1
	prev = states(map[string]PodState{"a/x": {Strikes: 1, Notified: true}, "b/y": {Strikes: 1, Notified: true}})
	plan, _ = BuildPlan([]analyzer.PodReport{miner("a", "x"), miner("b", "y")}, prev, p)
	if got := plan.Summary(); got.Capped != 1 || got.Delete != 1 {
		t.Errorf("capped summary %+v, want 1 delete and 1 capped", got)
	}
}

func TestBuildPlanFirstAndLastSeen(t *testing.T) {
	at := func(shift time.Duration) analyzer.PodReport {
		r := miner("team-a", "job")
		for i := range r.GPUs[0].Curve {
			r.GPUs[0].Curve[i].End = r.GPUs[0].Curve[i].End.Add(shift)
		}
		return r
	}
	_, s1 := BuildPlan([]analyzer.PodReport{at(0)}, State{}, DefaultPolicy())
	_, s2 := BuildPlan([]analyzer.PodReport{at(5 * time.Minute)}, s1, DefaultPolicy())
	ps := s2.Pods["team-a/job"]
	if want := t0.Add(time.Hour); !ps.FirstSeen.Equal(want) {
		t.Errorf("FirstSeen %v, want the first cycle's evidence end %v", ps.FirstSeen, want)
	}
	if want := t0.Add(time.Hour + 5*time.Minute); !ps.LastSeen.Equal(want) {
		t.Errorf("LastSeen %v, want the latest cycle's evidence end %v", ps.LastSeen, want)
	}
}

// A notified finding that ends gets one reply in its thread: judged benign,
// or gone from the data. A pod we deleted, or one never posted, gets none.
func TestBuildPlanResolvesThreads(t *testing.T) {
	prev := states(map[string]PodState{
		"a/benign":   {Strikes: 2, Notified: true, SlackTS: "1.1"},
		"a/gone":     {Strikes: 1, Notified: true, SlackTS: "1.2"},
		"a/deleted":  {Strikes: 2, Notified: true, SlackTS: "1.3", Deleted: true},
		"a/unposted": {Strikes: 1},
		"a/still":    {Strikes: 1, Notified: true, SlackTS: "1.4", LastDecision: "no deletion: strike 1 of 2"},
	})
	plan, next := BuildPlan([]analyzer.PodReport{benign("a", "benign"), miner("a", "still")}, prev, DefaultPolicy())
	var got []string
	for _, st := range plan.Steps {
		if st.Kind == StepResolve || (st.Kind == StepNotify && st.Pod.Pod == "still") {
			got = append(got, fmt.Sprintf("%s %s %s ts=%s", st.Pod, st.Kind, st.Reason, st.ThreadTS))
		}
	}
	want := []string{
		"a/still notify still mining: dry-run: would delete ts=",
		"a/benign resolve now judged benign ts=1.1",
		"a/gone resolve no longer in the data ts=1.2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps:\n got  %q\n want %q", got, want)
	}
	if ps := next.Pods["a/still"]; ps.LastDecision != "dry-run: would delete" {
		t.Errorf("LastDecision %q not kept", ps.LastDecision)
	}
}
