package backtest_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/backtest"
	"github.com/miner-detector/miner-detector/internal/golden"
)

var t0 = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// fleet is a fake history: for each tick, what each entity was judged. An
// entity missing at a tick was not in that report.
type fleet map[time.Time][]judged

type judged struct {
	pod      analyzer.PodKey // set for a pod
	gpu      analyzer.GPU    // set for an unattributed GPU
	verdict  analyzer.Verdict
	strength analyzer.Strength // of a miner verdict; "" ungraded
}

// graded is j with its evidence strength s.
func graded(j judged, s analyzer.Strength) judged {
	j.strength = s
	return j
}

func pod(ns, name string, v analyzer.Verdict) judged {
	return judged{pod: analyzer.PodKey{Namespace: ns, Pod: name}, verdict: v}
}

func gpu(node, index, uuid string, v analyzer.Verdict) judged {
	return judged{gpu: analyzer.GPU{Node: node, Index: index, UUID: uuid}, verdict: v}
}

func (f fleet) judge(_ context.Context, t time.Time) (analyzer.Report, error) {
	rep := analyzer.Report{End: t, Window: time.Hour}
	for _, j := range f[t] {
		rule, reason := "", "no rule fired"
		if j.verdict == analyzer.Miner || j.verdict == "busy_without_pod" {
			rule, reason = "flat_high_util", "mean 99.1% >= 95, stddev 0.4 < 2"
		}
		if j.pod.Pod != "" {
			g := analyzer.GPUReport{GPU: analyzer.GPU{Node: "gpu-node-1", Index: "0"}, Verdict: j.verdict, Rule: rule, Reason: reason, Strength: j.strength}
			rep.Pods = append(rep.Pods, analyzer.PodReport{PodKey: j.pod, Node: "gpu-node-1", Verdict: j.verdict,
				GPUs: []analyzer.GPUReport{g}, Evidence: analyzer.Evidence{Rule: rule, Reason: reason, Strength: j.strength}})
			continue
		}
		rep.UnattributedGPUs = append(rep.UnattributedGPUs, analyzer.GPUReport{GPU: j.gpu, Verdict: j.verdict, Rule: rule, Reason: reason, Strength: j.strength})
	}
	return rep, nil
}

const (
	M = analyzer.Miner
	B = analyzer.Benign
	U = analyzer.InsufficientData
	W = analyzer.Verdict("busy_without_pod")
)

// scenario: window 1h, ticks every 30m over 4h (9 ticks), six entities.
//
//	team-a/miner        labelled [1h, ∞): negative 0..1h, ramp 1.5h, positive 2h..4h
//	team-b/miner        unlabelled, same pod name: one false positive at 3h
//	gpu-node-3 gpu 1    labelled by UUID [0, 2h): ramp 0.5h, 2.5h; positive 1h..2h
//	gpu-node-9 gpu 0    labelled [2h, 3.5h), never in a report: missed
//	team-c/old          labelled before the range: out of range
//	gpu GPU-zzz         unlabelled GPU known by UUID only: false positive at 4h
func scenario() (fleet, backtest.Labels) {
	h := func(x float64) time.Duration { return time.Duration(x * float64(time.Hour)) }
	gpu3 := func(v analyzer.Verdict) judged { return gpu("gpu-node-3", "1", "GPU-aaa", v) }
	zzz := func(v analyzer.Verdict) judged { return gpu("", "", "GPU-zzz", v) }
	f := fleet{
		at(h(0)):   {pod("team-a", "miner", B), pod("team-b", "miner", B), gpu3(U), zzz(B)},
		at(h(0.5)): {pod("team-a", "miner", B), pod("team-b", "miner", B), gpu3(B), zzz(B)},
		at(h(1)):   {pod("team-a", "miner", B), pod("team-b", "miner", B), gpu3(W), zzz(B)},
		at(h(1.5)): {pod("team-a", "miner", M), pod("team-b", "miner", B), gpu3(W), zzz(B)},
		at(h(2)):   {pod("team-a", "miner", M), pod("team-b", "miner", B), gpu3(B), zzz(B)},
		at(h(2.5)): {pod("team-a", "miner", U), pod("team-b", "miner", B), gpu3(W), zzz(B)},
		at(h(3)):   {pod("team-a", "miner", B), pod("team-b", "miner", M), gpu3(B), zzz(B)},
		at(h(3.5)): {pod("team-a", "miner", M), pod("team-b", "miner", B), gpu3(B), zzz(B)},
		at(h(4)):   {pod("team-a", "miner", M), pod("team-b", "miner", B), gpu3(B), zzz(M)},
	}
	labels := backtest.Labels{Miners: []backtest.Miner{
		{Namespace: "team-a", Pod: "miner", From: at(h(1)), Note: "steady miner"},
		{UUID: "GPU-aaa", From: at(h(0)), To: at(h(2)), Note: "miner outside any pod"},
		{Node: "gpu-node-9", GPU: "0", From: at(h(2)), To: at(h(3.5))},
		{Namespace: "team-c", Pod: "old", To: at(-48 * time.Hour), Note: "before the range"},
	}}
	return f, labels
}

func runScenario(t *testing.T) backtest.Result {
	t.Helper()
	f, labels := scenario()
	ticks, err := backtest.Ticks(t0, at(4*time.Hour), 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	res, err := backtest.Run(context.Background(), ticks, f.judge, labels, backtest.Options{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunCounts(t *testing.T) {
	res := runScenario(t)
	want := backtest.Counts{TP: 5, FP: 2, FN: 5, TN: 37, Undecided: 2, Ramp: 5}
	if res.Counts != want {
		t.Errorf("counts = %+v, want %+v", res.Counts, want)
	}
	if c := res.Counts; c.TP+c.FP+c.FN+c.TN+c.Ramp != res.Ticks*res.Entities {
		t.Errorf("pairs %d != ticks %d x entities %d", c.TP+c.FP+c.FN+c.TN+c.Ramp, res.Ticks, res.Entities)
	}
	if res.Entities != 6 || res.Ticks != 9 || res.MinOverlap != backtest.DefaultMinOverlap {
		t.Errorf("entities %d ticks %d min overlap %v", res.Entities, res.Ticks, res.MinOverlap)
	}
	if res.Precision == nil || *res.Precision != 5.0/7 {
		t.Errorf("precision = %v, want 5/7", res.Precision)
	}
	if res.Recall == nil || *res.Recall != 0.5 {
		t.Errorf("recall = %v, want 0.5", res.Recall)
	}
}

func TestRunMiners(t *testing.T) {
	res := runScenario(t)
	type want struct {
		entity                   string
		positive, detected, ramp int
		first                    time.Duration // -1: none
		ttd                      time.Duration
		status                   string
	}
	wants := []want{
		// detected first during the ramp: 1.5h - from 1h
		{"team-a/miner", 5, 3, 1, 90 * time.Minute, 30 * time.Minute, backtest.StatusDetected},
		// the UUID label meets the node/index report: 1h - max(from 0, first tick 0)
		{"gpu-node-3 gpu 1", 3, 2, 2, time.Hour, time.Hour, backtest.StatusDetected},
		{"gpu-node-9 gpu 0", 2, 0, 2, -1, 0, backtest.StatusMissed},
		{"team-c/old", 0, 0, 0, -1, 0, backtest.StatusNotSeen},
	}
	if len(res.Miners) != len(wants) {
		t.Fatalf("%d miners, want %d", len(res.Miners), len(wants))
	}
	for i, w := range wants {
		m := res.Miners[i]
		if m.Entity.String() != w.entity || m.PositiveTicks != w.positive || m.DetectedTicks != w.detected ||
			m.RampTicks != w.ramp || m.Status != w.status {
			t.Errorf("miner %d = %s %d/%d ramp %d %s, want %s %d/%d ramp %d %s", i, m.Entity, m.DetectedTicks, m.PositiveTicks,
				m.RampTicks, m.Status, w.entity, w.detected, w.positive, w.ramp, w.status)
		}
		if w.first < 0 {
			if m.FirstDetection != nil || m.TimeToDetect != nil {
				t.Errorf("%s: detected at %v", w.entity, m.FirstDetection)
			}
			continue
		}
		if m.FirstDetection == nil || !m.FirstDetection.Equal(at(w.first)) {
			t.Errorf("%s: first detection %v, want %v", w.entity, m.FirstDetection, at(w.first))
		}
		if m.TimeToDetect == nil || time.Duration(*m.TimeToDetect) != w.ttd {
			t.Errorf("%s: time to detect %v, want %v", w.entity, m.TimeToDetect, w.ttd)
		}
	}
	if len(res.Missed) != 1 || res.Missed[0].Entity.String() != "gpu-node-9 gpu 0" {
		t.Errorf("missed = %+v", res.Missed)
	}
	if e := res.Miners[1].Entity; e.Kind != backtest.KindGPU || e.Node != "gpu-node-3" || e.GPU != "1" || e.UUID != "GPU-aaa" {
		t.Errorf("UUID label resolved to %+v", e)
	}
}

func TestRunFalsePositives(t *testing.T) {
	res := runScenario(t)
	want := []backtest.FalsePositive{
		{Tick: at(3 * time.Hour), Entity: backtest.Entity{Kind: backtest.KindPod, Namespace: "team-b", Pod: "miner"}, Class: backtest.Unclassified,
			Verdict: M, Rule: "flat_high_util", Reason: "mean 99.1% >= 95, stddev 0.4 < 2"},
		{Tick: at(4 * time.Hour), Entity: backtest.Entity{Kind: backtest.KindGPU, UUID: "GPU-zzz"}, Class: backtest.Unclassified,
			Verdict: M, Rule: "flat_high_util", Reason: "mean 99.1% >= 95, stddev 0.4 < 2"},
	}
	if len(res.FalsePositives) != len(want) {
		t.Fatalf("false positives = %+v", res.FalsePositives)
	}
	for i := range want {
		if got := res.FalsePositives[i]; got != want[i] {
			t.Errorf("false positive %d = %+v, want %+v", i, got, want[i])
		}
	}
}

// One tick, window 1h: how much of the window the labels cover decides the
// truth, and the prediction decides the cell.
func TestRunTruth(t *testing.T) {
	tick := at(10 * time.Hour)
	iv := func(from, to time.Duration) backtest.Miner {
		m := backtest.Miner{Namespace: "ns", Pod: "p"}
		if from != 0 {
			m.From = tick.Add(from)
		}
		if to != 0 {
			m.To = tick.Add(to)
		}
		return m
	}
	tests := []struct {
		name       string
		labels     []backtest.Miner
		verdict    analyzer.Verdict // "" : pod not in the report
		minOverlap float64
		want       backtest.Counts
	}{
		{"unlabelled benign", nil, B, 0, backtest.Counts{TN: 1}},
		{"unlabelled miner", nil, M, 0, backtest.Counts{FP: 1}},
		{"unlabelled undecided", nil, U, 0, backtest.Counts{TN: 1, Undecided: 1}},
		{"labelled, absent from the report", []backtest.Miner{iv(0, 0)}, "", 0, backtest.Counts{FN: 1}},
		{"unbounded label, miner", []backtest.Miner{iv(0, 0)}, M, 0, backtest.Counts{TP: 1}},
		{"unbounded label, undecided", []backtest.Miner{iv(0, 0)}, U, 0, backtest.Counts{FN: 1, Undecided: 1}},
		{"covers exactly 80%", []backtest.Miner{iv(-48*time.Minute, 0)}, M, 0, backtest.Counts{TP: 1}},
		{"covers just under 80%: ramp", []backtest.Miner{iv(-48*time.Minute+time.Second, 0)}, M, 0, backtest.Counts{Ramp: 1}},
		{"ramp, undecided not counted", []backtest.Miner{iv(-10*time.Minute, 0)}, U, 0, backtest.Counts{Ramp: 1}},
		{"min overlap 0.1", []backtest.Miner{iv(-10*time.Minute, 0)}, B, 0.1, backtest.Counts{FN: 1}},
		{"ended at the window start", []backtest.Miner{iv(-2*time.Hour, -time.Hour)}, M, 0, backtest.Counts{FP: 1}},
		{"starts after the tick", []backtest.Miner{iv(time.Second, 0)}, B, 0, backtest.Counts{TN: 1}},
		{"two halves are a whole", []backtest.Miner{iv(-time.Hour, -30*time.Minute), iv(-30*time.Minute, time.Hour)}, M, 0, backtest.Counts{TP: 1}},
		{"overlapping labels counted once", []backtest.Miner{iv(-time.Hour, -20*time.Minute), iv(-50*time.Minute, -20*time.Minute)}, M, 0, backtest.Counts{Ramp: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fleet{}
			if tt.verdict != "" {
				f[tick] = []judged{pod("ns", "p", tt.verdict)}
			}
			res, err := backtest.Run(context.Background(), []time.Time{tick}, f.judge,
				backtest.Labels{Miners: tt.labels}, backtest.Options{Window: time.Hour, MinOverlap: tt.minOverlap})
			if err != nil {
				t.Fatal(err)
			}
			if res.Counts != tt.want {
				t.Errorf("counts = %+v, want %+v", res.Counts, tt.want)
			}
		})
	}
}

// The same pod name in two namespaces is two entities; a podless GPU is
// keyed by node and index, its UUID folded in when a report gives both.
func TestRunEntities(t *testing.T) {
	tick := at(time.Hour)
	f := fleet{tick: {
		pod("team-a", "worker", M), pod("team-b", "worker", B),
		gpu("gpu-node-3", "1", "GPU-aaa", W),
		gpu("", "", "GPU-aaa", U), // the same GPU, seen without node and index
		gpu("gpu-node-3", "2", "", B),
	}}
	labels := backtest.Labels{Miners: []backtest.Miner{
		{Namespace: "team-a", Pod: "worker"},
		{Node: "gpu-node-3", GPU: "1"},
	}}
	res, err := backtest.Run(context.Background(), []time.Time{tick}, f.judge, labels, backtest.Options{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if want := (backtest.Counts{TP: 2, TN: 2}); res.Entities != 4 || res.Counts != want {
		t.Errorf("entities %d counts %+v, want 4 and %+v", res.Entities, res.Counts, want)
	}
}

func TestRunUndefinedRatios(t *testing.T) {
	tick := at(time.Hour)
	f := fleet{tick: {pod("ns", "p", B)}}
	res, err := backtest.Run(context.Background(), []time.Time{tick}, f.judge, backtest.Labels{}, backtest.Options{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Precision != nil || res.Recall != nil {
		t.Errorf("precision %v recall %v, want both undefined", res.Precision, res.Recall)
	}
	var js bytes.Buffer
	if err := backtest.WriteJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"precision": null`, `"recall": null`, `"miners": []`, `"false_positives": []`} {
		if !strings.Contains(js.String(), s) {
			t.Errorf("JSON lacks %s:\n%s", s, js.String())
		}
	}
	var table bytes.Buffer
	if err := backtest.WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"n/a (no positive predictions)", "n/a (no positive ticks)", "false positives: none", "labelled miners: none"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	ticks := []time.Time{at(0), at(time.Hour), at(2 * time.Hour)}
	failing := func(_ context.Context, t time.Time) (analyzer.Report, error) {
		if t.Equal(at(time.Hour)) {
			return analyzer.Report{}, errors.New("prometheus: connection refused")
		}
		return analyzer.Report{}, nil
	}
	ok := fleet{}.judge
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		ticks  []time.Time
		judge  backtest.Judge
		labels backtest.Labels
		opt    backtest.Options
		want   string
	}{
		{"judge error names the tick", context.Background(), ticks, failing, backtest.Labels{}, backtest.Options{Window: time.Hour},
			"tick 2026-11-24T01:00:00Z: prometheus: connection refused"},
		{"canceled", canceled, ticks, ok, backtest.Labels{}, backtest.Options{Window: time.Hour}, "tick 2026-11-24T00:00:00Z: context canceled"},
		{"no ticks", context.Background(), nil, ok, backtest.Labels{}, backtest.Options{Window: time.Hour}, "no ticks"},
		{"ticks out of order", context.Background(), []time.Time{at(time.Hour), at(time.Hour)}, ok, backtest.Labels{}, backtest.Options{Window: time.Hour}, "ticks must ascend"},
		{"no window", context.Background(), ticks, ok, backtest.Labels{}, backtest.Options{}, "window must be positive"},
		{"min overlap above 1", context.Background(), ticks, ok, backtest.Labels{}, backtest.Options{Window: time.Hour, MinOverlap: 1.5}, "min overlap must be in (0, 1]"},
		{"negative min overlap", context.Background(), ticks, ok, backtest.Labels{}, backtest.Options{Window: time.Hour, MinOverlap: -0.1}, "min overlap"},
		{"invalid labels", context.Background(), ticks, ok, backtest.Labels{Miners: []backtest.Miner{{Node: "n"}}}, backtest.Options{Window: time.Hour}, "labels: miners[0].gpu: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := backtest.Run(tt.ctx, tt.ticks, tt.judge, tt.labels, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
	_, err := backtest.Run(context.Background(), ticks, failing, backtest.Labels{}, backtest.Options{Window: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || errors.Unwrap(err) == nil {
		t.Errorf("judge error not wrapped: %v", err)
	}
}

// Labels without classes (every file written before classes existed)
// score every entity in one class, unclassified, equal to the totals.
func TestRunWithoutClasses(t *testing.T) {
	res := runScenario(t)
	if len(res.Classes) != 1 {
		t.Fatalf("classes %+v, want one", res.Classes)
	}
	c := res.Classes[0]
	if c.Class != backtest.Unclassified || c.Kind != backtest.KindMiner || c.Entities != res.Entities || c.Counts != res.Counts ||
		c.Miners != 4 || c.Detected != 2 || *c.Precision != *res.Precision || *c.Recall != *res.Recall {
		t.Errorf("class %+v, want unclassified equal to the totals %+v", c, res.Counts)
	}
	for _, m := range res.Miners {
		if m.Class != backtest.Unclassified {
			t.Errorf("%s: class %q", m.Entity, m.Class)
		}
	}
}

// Per class, by hand: window 1h, ticks at 1h, 1.5h, 2h and 2.5h.
//
//	team-a/steady   steady, labelled always: M strong, M strong, M partial, B  -> TP 3 (2 deletable), FN 1
//	team-a/token    adaptive, always:        B, B, M, M                         -> TP 2, FN 2
//	team-a/jitter   adaptive, from 1.5h:     M (FP: before its label), B (TN), M (ramp), M (TP)
//	ml/train        legitimate:              B, M partial (FP), B, B
//	ml/xid          telemetry-fault:         B, B, M strong (deletable FP), B
//	team-q/unknown  not labelled:            B, B, B, M (FP)
//	gpu-node-9/0    legitimate by its UUID:  B throughout
func TestRunPerClass(t *testing.T) {
	h := func(x float64) time.Time { return at(time.Duration(x * float64(time.Hour))) }
	S, P := analyzer.StrengthStrong, analyzer.StrengthPartial
	steady := func(v analyzer.Verdict, s analyzer.Strength) judged { return graded(pod("team-a", "steady", v), s) }
	token := func(v analyzer.Verdict) judged { return graded(pod("team-a", "token", v), P) }
	jitter := func(v analyzer.Verdict) judged { return graded(pod("team-a", "jitter", v), P) }
	train := func(v analyzer.Verdict) judged { return graded(pod("ml", "train", v), P) }
	xid := func(v analyzer.Verdict) judged { return graded(pod("ml", "xid", v), S) }
	unknown := func(v analyzer.Verdict) judged { return pod("team-q", "unknown", v) }
	idle := gpu("gpu-node-9", "0", "GPU-idle", B)
	f := fleet{
		h(1):   {steady(M, S), token(B), jitter(M), train(B), xid(B), unknown(B), idle},
		h(1.5): {steady(M, S), token(B), jitter(B), train(M), xid(B), unknown(B), idle},
		h(2):   {steady(M, P), token(M), jitter(M), train(B), xid(M), unknown(B), idle},
		h(2.5): {steady(B, ""), token(M), jitter(M), train(B), xid(B), unknown(M), idle},
	}
	labels := backtest.Labels{
		Miners: []backtest.Miner{
			{Namespace: "team-a", Pod: "steady", Class: "steady"},
			{Namespace: "team-a", Pod: "token", Class: "adaptive"},
			{Namespace: "team-a", Pod: "jitter", From: h(1.5), Class: "adaptive"},
		},
		Benign: []backtest.Benign{
			{Namespace: "ml", Pod: "train", Class: "legitimate"},
			{Namespace: "ml", Pod: "xid", Class: "telemetry-fault"},
			{UUID: "GPU-idle", Class: "legitimate"},
			{Namespace: "ml", Pod: "never-reported", Class: "legitimate"}, // not an entity
		},
	}
	res, err := backtest.Run(context.Background(), []time.Time{h(1), h(1.5), h(2), h(2.5)}, f.judge, labels, backtest.Options{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if want := (backtest.Counts{TP: 6, FP: 4, FN: 3, TN: 14, Ramp: 1, DeletableTP: 2, DeletableFP: 1}); res.Counts != want || res.Entities != 7 {
		t.Errorf("totals %+v over %d entities, want %+v over 7", res.Counts, res.Entities, want)
	}
	if res.DeletableFalsePositives != 1 {
		t.Errorf("deletable false positives %d, want 1 (ml/xid)", res.DeletableFalsePositives)
	}
	p := func(v float64) *float64 { return &v }
	want := []backtest.ClassResult{
		{Class: "adaptive", Kind: backtest.KindMiner, Entities: 2, Miners: 2, Detected: 2,
			Counts: backtest.Counts{TP: 3, FP: 1, FN: 2, TN: 1, Ramp: 1}, Precision: p(0.75), Recall: p(0.6)},
		{Class: "steady", Kind: backtest.KindMiner, Entities: 1, Miners: 1, Detected: 1,
			Counts: backtest.Counts{TP: 3, FN: 1, DeletableTP: 2}, Precision: p(1), Recall: p(0.75)},
		{Class: "legitimate", Kind: backtest.KindBenign, Entities: 2, Counts: backtest.Counts{FP: 1, TN: 7}},
		{Class: "telemetry-fault", Kind: backtest.KindBenign, Entities: 1, Counts: backtest.Counts{FP: 1, TN: 3, DeletableFP: 1}},
		{Class: backtest.Unclassified, Kind: backtest.KindBenign, Entities: 1, Counts: backtest.Counts{FP: 1, TN: 3}},
	}
	if len(res.Classes) != len(want) {
		t.Fatalf("classes %+v, want %d", res.Classes, len(want))
	}
	var sum backtest.Counts
	for i, w := range want {
		got := res.Classes[i]
		if got.Class != w.Class || got.Kind != w.Kind || got.Entities != w.Entities || got.Miners != w.Miners || got.Detected != w.Detected || got.Counts != w.Counts {
			t.Errorf("class %d = %+v, want %+v", i, got, w)
		}
		for name, pair := range map[string][2]*float64{"precision": {got.Precision, w.Precision}, "recall": {got.Recall, w.Recall}} {
			if (pair[0] == nil) != (pair[1] == nil) || pair[0] != nil && *pair[0] != *pair[1] {
				t.Errorf("class %s: %s %v, want %v", w.Class, name, deref(pair[0]), deref(pair[1]))
			}
		}
		c := got.Counts
		sum.TP, sum.FP, sum.FN, sum.TN, sum.Ramp = sum.TP+c.TP, sum.FP+c.FP, sum.FN+c.FN, sum.TN+c.TN, sum.Ramp+c.Ramp
		sum.Undecided, sum.DeletableTP, sum.DeletableFP = sum.Undecided+c.Undecided, sum.DeletableTP+c.DeletableTP, sum.DeletableFP+c.DeletableFP
	}
	if sum != res.Counts {
		t.Errorf("classes sum to %+v, totals %+v", sum, res.Counts)
	}
	fpClass := map[string]string{}
	for _, fp := range res.FalsePositives {
		fpClass[fp.Entity.String()] = fp.Class
	}
	if w := map[string]string{"team-a/jitter": "adaptive", "ml/train": "legitimate", "ml/xid": "telemetry-fault", "team-q/unknown": backtest.Unclassified}; !maps.Equal(fpClass, w) {
		t.Errorf("false positives by class %v, want %v", fpClass, w)
	}

	var table, js bytes.Buffer
	if err := backtest.WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	if err := backtest.WriteJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "classes.table.golden", table.Bytes())
	golden.Check(t, "classes.json.golden", js.Bytes())
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

func TestOutputGolden(t *testing.T) {
	res := runScenario(t)
	var table, js bytes.Buffer
	if err := backtest.WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	if err := backtest.WriteJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "backtest.table.golden", table.Bytes())
	golden.Check(t, "backtest.json.golden", js.Bytes())
}

func TestTableTruncatesFalsePositives(t *testing.T) {
	res := backtest.Result{Ticks: 1}
	for range backtest.MaxTableFalsePositives + 3 {
		res.FalsePositives = append(res.FalsePositives, backtest.FalsePositive{Tick: t0,
			Entity: backtest.Entity{Kind: backtest.KindPod, Namespace: "ns", Pod: "p"}, Verdict: M, Reason: "two\nlines"})
	}
	var b bytes.Buffer
	if err := backtest.WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if n := strings.Count(out, "ns/p"); n != backtest.MaxTableFalsePositives {
		t.Errorf("%d false positive lines, want %d", n, backtest.MaxTableFalsePositives)
	}
	if !strings.Contains(out, "... and 3 more (see the JSON output)") || !strings.Contains(out, "two lines") {
		t.Errorf("table:\n%s", out)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n--; f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestTableWriteError(t *testing.T) {
	res := runScenario(t)
	for n := range 4 {
		if err := backtest.WriteTable(&failWriter{n: n}, res); err == nil {
			t.Errorf("write %d failing: no error", n)
		}
	}
}
