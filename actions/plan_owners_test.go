package actions

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

var testOwner = Owner{Namespace: "free", APIVersion: "apps/v1", Kind: "Deployment", Name: "miner", UID: "uid-miner"}

// ownedMiner is a miner pod of testOwner on strong evidence; onOwner marks
// it judged on its owner's window (a replacement).
func ownedMiner(pod string, onOwner bool) analyzer.PodReport {
	r := miner("free", pod)
	r.Evidence.Strength = analyzer.StrengthStrong
	r.Evidence.WindowEnd = t0.Add(time.Hour)
	if onOwner {
		r.Evidence.Owner = &analyzer.OwnerEvidence{Owner: testOwner.Key(), Verdict: analyzer.Miner}
	}
	return r
}

type fakeOwnerEvents struct{ reasons []string }

func (f *fakeOwnerEvents) RecordOwner(_ context.Context, o Owner, reason, msg string) error {
	f.reasons = append(f.reasons, reason+" "+o.String()+": "+msg)
	return nil
}

type fakeStopper struct{ stopped []string }

func (f *fakeStopper) Stop(_ context.Context, o Owner, req StopRequest) (string, error) {
	f.stopped = append(f.stopped, o.Key())
	return "kubectl -n " + o.Namespace + " scale " + o.String() + " --replicas=1", nil
}

// ownerCycle plans and executes one cycle in which every given pod belongs
// to testOwner.
func ownerCycle(t *testing.T, p Policy, st State, exec Executor, pods ...analyzer.PodReport) (Plan, State) {
	t.Helper()
	p.Owners = map[analyzer.PodKey]Owner{}
	for _, r := range pods {
		p.Owners[r.PodKey] = testOwner
	}
	plan, next := BuildPlan(pods, st, p)
	_, next = exec.Execute(context.Background(), plan, next)
	return plan, next
}

func kinds(plan Plan, pod string) []string {
	var out []string
	for _, s := range plan.Steps {
		if s.Pod.Pod == pod {
			out = append(out, string(s.Kind))
		}
	}
	return out
}

func reasonOf(plan Plan, pod string, kind StepKind) string {
	for _, s := range plan.Steps {
		if s.Pod.Pod == pod && s.Kind == kind {
			return s.Reason
		}
	}
	return ""
}

// A miner behind a Deployment: its first pod needs two strikes; each
// replacement judged on the owner's evidence is deleted at once; after
// EscalateAfter deletions the owner is escalated (once) and, with
// StopOwners, stopped; its pods are no longer deleted.
func TestRepeatOffender(t *testing.T) {
	p := enforcePolicy()
	p.StopOwners = true
	events, stopper, deleter := &fakeOwnerEvents{}, &fakeStopper{}, &fakeDeleter{}
	exec := Executor{Deleter: deleter, OwnerEvents: events, Stopper: stopper}
	st := State{Pods: map[string]PodState{}}

	plan, st := ownerCycle(t, p, st, exec, ownedMiner("miner-a", false))
	if got := kinds(plan, "miner-a"); !slices.Equal(got, []string{"record", "notify", "skip_delete"}) {
		t.Fatalf("first pod, strike 1: %v", got)
	}
	if os := st.Owners[testOwner.Key()]; !slices.Equal(os.Pods, []string{"miner-a"}) || st.Pods["free/miner-a"].Owner != testOwner.Key() {
		t.Fatalf("owner record %+v, pod %+v", os, st.Pods["free/miner-a"])
	}
	if got := st.PodOwners()[key("free", "miner-a")]; got != testOwner.Key() {
		t.Fatalf("PodOwners: %q", got)
	}
	_, st = ownerCycle(t, p, st, exec, ownedMiner("miner-a", false))
	if len(deleter.requests) != 1 || len(st.Owners[testOwner.Key()].Deletions) != 1 {
		t.Fatalf("strike 2 deletes: %d deletions, owner %+v", len(deleter.requests), st.Owners[testOwner.Key()])
	}
	// Replacements on the owner's evidence: deleted in the cycle they are seen.
	for i, pod := range []string{"miner-b", "miner-c"} {
		plan, st = ownerCycle(t, p, st, exec, ownedMiner(pod, true))
		if got := kinds(plan, pod); !slices.Equal(got, []string{"record", "notify", "delete"}) {
			t.Fatalf("replacement %s: %v", pod, got)
		}
		if n := len(st.Owners[testOwner.Key()].Deletions); n != i+2 {
			t.Fatalf("after %s: %d owner deletions", pod, n)
		}
	}
	// The third deletion makes it a repeat offender: the next pod is escalated.
	plan, st = ownerCycle(t, p, st, exec, ownedMiner("miner-d", true))
	if got := kinds(plan, "miner-d"); !slices.Equal(got, []string{"record", "notify", "skip_delete", "escalate", "stop_owner"}) {
		t.Fatalf("repeat offender: %v", got)
	}
	if r := reasonOf(plan, "miner-d", StepSkipDelete); !strings.Contains(r, "repeat offender: deployment/miner had 3 pods deleted within 24h") {
		t.Errorf("skip reason %q", r)
	}
	if len(deleter.requests) != 3 || len(events.reasons) != 2 || len(stopper.stopped) != 1 {
		t.Fatalf("deletions %d, owner events %v, stopped %v", len(deleter.requests), events.reasons, stopper.stopped)
	}
	if !strings.HasPrefix(events.reasons[0], EventReasonRepeatOffender+" deployment/miner") ||
		!strings.HasPrefix(events.reasons[1], EventReasonOwnerStopped) {
		t.Errorf("owner events %v", events.reasons)
	}
	os := st.Owners[testOwner.Key()]
	if !os.Escalated || !os.Stopped || !strings.Contains(os.Undo, "--replicas=1") {
		t.Fatalf("owner after escalation %+v", os)
	}
	// Next cycle: still not deleted, escalated and stopped only once (notify
	// again: no Slack here, so never notified).
	plan, st = ownerCycle(t, p, st, exec, ownedMiner("miner-d", true))
	if got := kinds(plan, "miner-d"); !slices.Equal(got, []string{"record", "notify", "skip_delete"}) || len(stopper.stopped) != 1 {
		t.Fatalf("after escalation: %v, stopped %v", got, stopper.stopped)
	}
	// A benign pod of the owner beside a replacement too young to judge:
	// the owner stands.
	_, st = ownerCycle(t, p, st, exec, benign("free", "miner-e"), insufficient("free", "miner-f"))
	if _, ok := st.Owners[testOwner.Key()]; !ok {
		t.Fatal("owner cleared while one of its pods waits for data")
	}
	// A benign pod of the owner, and no miner: the owner clears.
	_, st = ownerCycle(t, p, st, exec, benign("free", "miner-e"))
	if _, ok := st.Owners[testOwner.Key()]; ok {
		t.Fatalf("owner with a benign pod and no miner still recorded: %+v", st.Owners)
	}
}

// What never escalates: findings on utilization alone, protected pods and
// shared GPUs; dry-run escalates only on deletions recorded in enforce mode
// and stops nothing; an owner's record lapses an
// escalation period after its last miner verdict.
func TestRepeatOffenderNeverEscalates(t *testing.T) {
	three := func() State {
		st := State{Pods: map[string]PodState{}, Owners: map[string]OwnerState{testOwner.Key(): {
			Owner: testOwner, Pods: []string{"miner-a", "miner-b", "miner-c"}, LastMiner: t0.Add(time.Hour),
			Deletions: []time.Time{t0.Add(10 * time.Minute), t0.Add(20 * time.Minute), t0.Add(30 * time.Minute)},
		}}}
		return st
	}
	utilOnly := ownedMiner("miner-d", true)
	utilOnly.GPUs[0] = withoutProfiling(utilOnly.GPUs[0])
	utilOnly.Evidence.Strength = analyzer.StrengthUtilizationOnly
	dry := DefaultPolicy()
	util := enforcePolicy()
	util.DeleteWithoutProfiling = true
	protected := enforcePolicy()
	protected.ProtectedNamespaces = []string{"free"}
	shared := ownedMiner("miner-d", true)
	shared.GPUs[0] = sharedWith(shared.GPUs[0], key("free", "other"))
	shared.Shared = true
	for _, c := range []struct {
		name string
		p    Policy
		r    analyzer.PodReport
		want []string
	}{
		{"dry-run: escalated on recorded deletions, the stop only said", dry, ownedMiner("miner-d", true), []string{"record", "notify", "skip_delete", "escalate", "stop_owner"}},
		{"utilization alone never escalates", util, utilOnly, []string{"record", "notify", "delete"}},
		{"protected namespace: neither deleted nor escalated", protected, ownedMiner("miner-d", true), []string{"record", "notify", "skip_delete"}},
		{"shared GPU: neither deleted nor escalated", enforcePolicy(), shared, []string{"record", "notify", "skip_delete"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.p.StopOwners = true
			c.p.Owners = map[analyzer.PodKey]Owner{c.r.PodKey: testOwner}
			plan, _ := BuildPlan([]analyzer.PodReport{c.r}, three(), c.p)
			if got := kinds(plan, "miner-d"); !slices.Equal(got, c.want) {
				t.Fatalf("%v, want %v", got, c.want)
			}
			if r := reasonOf(plan, "miner-d", StepStopOwner); r != "" && r != ReasonDryRunStop {
				t.Errorf("stop in %s: %q", c.name, r)
			}
		})
	}
	// A day and more later, the old deletions and the record have lapsed.
	late := ownedMiner("miner-x", false)
	late.Evidence.WindowEnd = t0.Add(26 * time.Hour)
	p := enforcePolicy()
	p.Owners = map[analyzer.PodKey]Owner{late.PodKey: testOwner}
	_, next := BuildPlan([]analyzer.PodReport{late}, three(), p)
	if os := next.Owners[testOwner.Key()]; len(os.Deletions) != 0 || !slices.Equal(os.Pods, []string{"miner-x"}) {
		t.Fatalf("lapsed record kept: %+v", os)
	}
}
