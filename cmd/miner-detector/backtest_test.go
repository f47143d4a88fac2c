package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/backtest"
	"github.com/miner-detector/miner-detector/internal/fleet"
)

// The backtest over the labelled fleet (6 hours, every 30 minutes, every
// dcgm metric, fields 1013-1016 on the H100s): every miner caught on every
// positive tick — throttled to 70, 80 and 90 %, memory-hard, on a MIG
// instance, outside any pod, without profiling metrics, duty-cycled,
// jittering, a token kernel on an H100, an int8 GEMM proof of work — but
// the token-kernel miner on an A100, which the training veto spares there
// (the threat model's "not seen"). No false positive on any GPU with a
// working profiler, flat 100 % training included; the two GPUs flagged
// wrongly are flat training on an exporter without profiling metrics and
// flat training whose profiler reads 0, judged on utilization alone and
// never deletable.
func TestBacktestLabelledFleet(t *testing.T) {
	res := demoBacktest(t)
	if res.Ticks != 13 {
		t.Errorf("%d ticks, want 13 (6 h every 30 m)", res.Ticks)
	}
	wantMiners := 0
	for _, p := range fleet.LabelledFleet(res.LastTick) {
		switch {
		case !p.ExpectMiner:
		case p.Name != "": // a pod counts once
			wantMiners++
		default: // each GPU outside a pod is an entity
			wantMiners += len(p.GPUs)
		}
	}
	if len(res.Miners) != wantMiners {
		t.Errorf("%d labelled miners scored, want %d", len(res.Miners), wantMiners)
	}
	for _, m := range res.Miners {
		if m.Entity.Pod == "jupyter-mike" {
			if m.Status != backtest.StatusMissed || m.DetectedTicks != 0 {
				t.Errorf("the token-kernel miner on an A100: %s, detected %d of %d ticks; want missed", m.Status, m.DetectedTicks, m.PositiveTicks)
			}
			continue
		}
		if m.Status != backtest.StatusDetected || m.DetectedTicks != m.PositiveTicks {
			t.Errorf("%s (%s): %s, detected %d of %d ticks", m.Entity, m.Note, m.Status, m.DetectedTicks, m.PositiveTicks)
		}
	}
	if len(res.Missed) != 1 {
		t.Errorf("missed %d miners, want 1 (jupyter-mike)", len(res.Missed))
	}
	for _, fp := range res.FalsePositives {
		switch fp.Entity.String() {
		case "ml-research/finetune-legacy-0":
			if fp.Class != fleet.ClassLegitimate || !strings.Contains(fp.Reason, "utilization rule only") {
				t.Errorf("false positive %s at %s (%s): %s %s", fp.Entity, fp.Tick, fp.Class, fp.Rule, fp.Reason)
			}
		case "ml-research/llm-pretrain-xid-0":
			if fp.Class != fleet.ClassTelemetryFault || !strings.Contains(fp.Reason, "profiler fault: every profiling field reads 0") {
				t.Errorf("false positive %s at %s (%s): %s %s", fp.Entity, fp.Tick, fp.Class, fp.Rule, fp.Reason)
			}
		default:
			t.Errorf("false positive %s at %s (%s): %s %s", fp.Entity, fp.Tick, fp.Class, fp.Rule, fp.Reason)
		}
		if fp.Strength != analyzer.StrengthUtilizationOnly {
			t.Errorf("false positive %s at %s on %q evidence, want utilization_only", fp.Entity, fp.Tick, fp.Strength)
		}
	}
	// The flat-100 % training runs with profiling metrics are spared.
	for _, name := range []string{"llm-pretrain-0", "finetune-7b-0", "resnet-train-0", "resnet-train-1", "lora-tune-0", "int8-scorer-0"} {
		for _, fp := range res.FalsePositives {
			if fp.Entity.Pod == name {
				t.Errorf("training %s flagged: %s", fp.Entity, fp.Reason)
			}
		}
	}
}

// demoBacktest runs `backtest --demo` on the default counters with args
// added and decodes its JSON.
func demoBacktest(t *testing.T, args ...string) backtest.Result {
	t.Helper()
	var out, errs bytes.Buffer
	args = append([]string{"backtest", "--demo", "--to", "2026-11-25T00:00:00Z", "--output", "json", "--log-level", "error"}, args...)
	if err := run(context.Background(), args, &out, &errs); err != nil {
		t.Fatalf("backtest: %v\n%s", err, errs.String())
	}
	var res backtest.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("decode %v:\n%s", err, out.String())
	}
	return res
}

// Per class, over the labelled fleet: every miner class has its recall,
// the adaptive miners are found but for the A100 token-kernel one (3 of 4,
// recall 0.75), only the H100's token-kernel and the odd jittering window
// are deletable among them, the int8 GEMM proof of work is found on every
// tick and never deletable, and no class has a deletable false positive:
// the training GPU whose profiler reads 0 is never a deletable miner.
func TestBacktestLabelledFleetPerClass(t *testing.T) {
	res := demoBacktest(t)
	classes := map[string]backtest.ClassResult{}
	for _, c := range res.Classes {
		classes[c.Class] = c
		if c.Counts.DeletableFP != 0 {
			t.Errorf("class %s: %d deletable false positives", c.Class, c.Counts.DeletableFP)
		}
		if c.Kind == backtest.KindMiner && (c.Recall == nil || c.Precision == nil) {
			t.Errorf("miner class %s: precision %v recall %v, want both reported", c.Class, c.Precision, c.Recall)
		}
		if c.Kind == backtest.KindBenign && (c.Recall != nil || c.Precision != nil) {
			t.Errorf("benign class %s: precision %v recall %v, want both undefined", c.Class, c.Precision, c.Recall)
		}
	}
	wantKinds := map[string]string{
		fleet.ClassSteady: backtest.KindMiner, fleet.ClassThrottled: backtest.KindMiner, fleet.ClassMemoryHard: backtest.KindMiner,
		fleet.ClassAdaptive: backtest.KindMiner, fleet.ClassMLShapedPoW: backtest.KindMiner, fleet.ClassOutsideKubernetes: backtest.KindMiner,
		fleet.ClassLegitimate: backtest.KindBenign, fleet.ClassTelemetryFault: backtest.KindBenign,
	}
	if len(classes) != len(wantKinds) {
		t.Errorf("classes %v, want %v", slices.Collect(maps.Keys(classes)), slices.Collect(maps.Keys(wantKinds)))
	}
	for name, kind := range wantKinds {
		if classes[name].Kind != kind {
			t.Errorf("class %s: kind %q, want %q", name, classes[name].Kind, kind)
		}
	}
	adaptive := classes[fleet.ClassAdaptive]
	if adaptive.Miners != 4 || adaptive.Detected != 3 || deref(adaptive.Recall) != 0.75 || adaptive.Counts.DeletableTP != 15 {
		t.Errorf("adaptive: %d/%d detected, recall %v, %d deletable TP; want 3/4, 0.75, 15 (13 jupyter-nina, 2 jittering)",
			adaptive.Detected, adaptive.Miners, deref(adaptive.Recall), adaptive.Counts.DeletableTP)
	}
	if pow := classes[fleet.ClassMLShapedPoW]; deref(pow.Recall) != 1 || pow.Counts.DeletableTP != 0 {
		t.Errorf("ml-shaped-pow: recall %v, %d deletable TP; want 1 and none (int8_gemm is partial evidence)", deref(pow.Recall), pow.Counts.DeletableTP)
	}
	if fault := classes[fleet.ClassTelemetryFault]; fault.Entities != 2 || fault.Counts.FP != 13 || fault.Counts.TN != 13 {
		t.Errorf("telemetry-fault: %d entities, %d FP, %d TN; want 2, 13 (the zeroed profiler, every tick) and 13 (the frozen one)",
			fault.Entities, fault.Counts.FP, fault.Counts.TN)
	}
	var xid int
	for _, fp := range res.FalsePositives {
		if fp.Entity.Pod == "llm-pretrain-xid-0" {
			xid++
			if fp.Strength.Enforceable() {
				t.Errorf("the training GPU whose profiler reads 0 is a deletable miner at %s", fp.Tick)
			}
		}
	}
	if xid != res.Ticks {
		t.Errorf("llm-pretrain-xid-0 flagged at %d of %d ticks, want every tick (flat_high_util on utilization alone)", xid, res.Ticks)
	}
}

func TestBacktestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"backtest"}, // no --from/--labels
		{"backtest", "--demo", "--every", "soon"},    // bad step
		{"backtest", "--demo", "--output", "yaml"},   // bad output
		{"backtest", "--from", "x", "--labels", "l"}, // bad time
		{"backtest", "--demo", "--to", "not-a-time"}, // bad --to
	} {
		var out, errs bytes.Buffer
		err := run(context.Background(), args, &out, &errs)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: err %v (exit %d), want a configuration error", args, err, exitCode(err))
		}
	}
}

// The labelled fleet replayed on each counter set clusters really run: what
// each set lets the detector find (precision, recall) and delete (TPs on
// strong evidence), and never a deletable false positive.
func TestBacktestPerCounterSet(t *testing.T) {
	cases := []struct {
		set                 string
		precision, recall   float64
		deletableTP, missed int
	}{
		// The GPU Operator's counters find every miner but the token-kernel
		// ones and the int8 GEMM proof of work (vetoed as training by their
		// tensor pipe), and spare flat training by its tensor pipe; no
		// evidence is strong enough to delete.
		{"gpu-operator", 0.840, 0.778, 0, 3},
		// The exporter's defaults see utilization only: flat training is a
		// false positive; throttled, duty-cycled and jittering miners and
		// the MIG instance go unseen.
		{"exporter-default", 0.653, 0.557, 0, 6},
		{"all-dcp", 0.840, 0.778, 87, 3}, // no integer pipe, no tensor subtypes: as the GPU Operator's, plus deletions
		{"utilization-only", 0.653, 0.557, 0, 6},
		// Fields 1013-1016 on the H100s: the token-kernel miner there is
		// deleted, the int8 GEMM one found; the A100's token kernel is missed.
		{"hopper-all-dcp", 0.862, 0.926, 100, 1},
	}
	for _, c := range cases {
		t.Run(c.set, func(t *testing.T) {
			var out, errs bytes.Buffer
			args := []string{"backtest", "--demo", "--counters", c.set, "--to", "2026-11-25T00:00:00Z", "--output", "json", "--log-level", "error"}
			if err := run(context.Background(), args, &out, &errs); err != nil {
				t.Fatalf("backtest: %v\n%s", err, errs.String())
			}
			var res backtest.Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("decode %v:\n%s", err, out.String())
			}
			if res.Precision == nil || res.Recall == nil || math.Abs(*res.Precision-c.precision) > 5e-4 || math.Abs(*res.Recall-c.recall) > 5e-4 {
				t.Errorf("precision %v recall %v, want %.3f and %.3f", deref(res.Precision), deref(res.Recall), c.precision, c.recall)
			}
			if res.Counts.DeletableTP != c.deletableTP || len(res.Missed) != c.missed {
				t.Errorf("deletable TP %d, missed %d; want %d and %d", res.Counts.DeletableTP, len(res.Missed), c.deletableTP, c.missed)
			}
			if res.DeletableFalsePositives != 0 {
				t.Errorf("%d false positives on strong evidence: enforce mode would delete them", res.DeletableFalsePositives)
			}
		})
	}
	var errs bytes.Buffer
	err := run(context.Background(), []string{"backtest", "--demo", "--counters", "everything"}, new(bytes.Buffer), &errs)
	if err == nil || !strings.Contains(err.Error(), "--counters") {
		t.Errorf("an unknown counter set: %v, want an error naming --counters", err)
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// Time to delete, ticking as often as the schedule (every 5 minutes, 2
// strikes): with every math pipe exported, a miner that starts mid-way is
// judged over its own life after 10 minutes and deleted 15 minutes after it
// started (was: detected after an hour), and every steady, throttled and
// memory-hard miner within 20 minutes; on the GPU Operator's counters it is
// found once the window's coverage allows (50 minutes) and never deleted by
// default (partial evidence).
func TestBacktestTimeToDelete(t *testing.T) {
	cases := []struct {
		set                    string
		trudyDetect, trudyDel  time.Duration // -1: never
		everyStrongMinerWithin time.Duration
	}{
		{"all-dcp", 10 * time.Minute, 15 * time.Minute, 20 * time.Minute},
		{"gpu-operator", 50 * time.Minute, -1, 0},
	}
	for _, c := range cases {
		t.Run(c.set, func(t *testing.T) {
			var out, errs bytes.Buffer
			args := []string{"backtest", "--demo", "--counters", c.set, "--every", "5m", "--to", "2026-11-25T00:00:00Z", "--output", "json", "--log-level", "error"}
			if err := run(context.Background(), args, &out, &errs); err != nil {
				t.Fatalf("backtest: %v\n%s", err, errs.String())
			}
			var res backtest.Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			if res.DeletableFalsePositives != 0 {
				t.Errorf("%d deletable false positives", res.DeletableFalsePositives)
			}
			seconds := func(s *backtest.Seconds) time.Duration {
				if s == nil {
					return -1
				}
				return time.Duration(*s)
			}
			deletable := 0
			for _, m := range res.Miners {
				if m.Entity.Pod == "jupyter-trudy" {
					if got := seconds(m.TimeToDetect); got != c.trudyDetect {
						t.Errorf("jupyter-trudy detected after %v, want %v", got, c.trudyDetect)
					}
					if got := seconds(m.TimeToDelete); got != c.trudyDel {
						t.Errorf("jupyter-trudy deleted after %v, want %v", got, c.trudyDel)
					}
				}
				if d := seconds(m.TimeToDelete); d >= 0 {
					deletable++
					// The jittering miner's evidence is partial in most
					// windows; the odd strong pair deletes it when it comes.
					if m.Class != fleet.ClassAdaptive && d > c.everyStrongMinerWithin {
						t.Errorf("%s deleted after %v, want within %v", m.Entity, d, c.everyStrongMinerWithin)
					}
				}
			}
			if c.everyStrongMinerWithin > 0 && deletable < 5 {
				t.Errorf("%d miners deletable, want the strong-evidence ones (at least 5)", deletable)
			}
		})
	}
}
