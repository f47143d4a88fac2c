package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/backtest"
	"github.com/miner-detector/miner-detector/internal/fleet"
)

// The backtest over the labelled fleet (6 hours, every 30 minutes, every
// dcgm metric): every miner caught — throttled to 70, 80 and 90 %,
// memory-hard, on a MIG instance, outside any pod, without profiling
// metrics — and no false positive on any GPU with profiling metrics, flat
// 100 % training included. The one GPU that is flagged wrongly is flat
// training on an exporter without profiling metrics: there the detector can
// only fall back to the utilization rule, and says so in the evidence.
func TestBacktestLabelledFleet(t *testing.T) {
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"backtest", "--demo", "--to", "2026-11-25T00:00:00Z", "--output", "json", "--log-level", "error"}, &out, &errs)
	if err != nil {
		t.Fatalf("backtest: %v\n%s", err, errs.String())
	}
	var res backtest.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("decode %v:\n%s", err, out.String())
	}
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
	if len(res.Miners) != wantMiners || len(res.Missed) != 0 {
		t.Errorf("%d labelled miners scored, %d missed; want %d and none", len(res.Miners), len(res.Missed), wantMiners)
	}
	for _, m := range res.Miners {
		if m.Status != backtest.StatusDetected || m.DetectedTicks != m.PositiveTicks {
			t.Errorf("%s (%s): %s, detected %d of %d ticks", m.Entity, m.Note, m.Status, m.DetectedTicks, m.PositiveTicks)
		}
	}
	if res.Recall == nil || *res.Recall != 1 {
		t.Errorf("recall %v, want 1", res.Recall)
	}
	for _, fp := range res.FalsePositives {
		if fp.Entity.String() != "ml-research/finetune-legacy-0" || !strings.Contains(fp.Reason, "utilization rule only") {
			t.Errorf("false positive %s at %s: %s %s", fp.Entity, fp.Tick, fp.Rule, fp.Reason)
		}
	}
	// The flat-100 % training runs with profiling metrics are spared.
	for _, name := range []string{"llm-pretrain-0", "finetune-7b-0", "resnet-train-0", "lora-tune-0"} {
		for _, fp := range res.FalsePositives {
			if strings.Contains(fp.Entity.String(), name) {
				t.Errorf("training %s flagged: %s", fp.Entity, fp.Reason)
			}
		}
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
		// The GPU Operator's counters find every miner, and spare flat
		// training by its tensor pipe; no evidence is strong enough to delete.
		{"gpu-operator", 0.895, 1, 0, 0},
		// The exporter's defaults see utilization only: flat training is a
		// false positive, throttled miners go unseen.
		{"exporter-default", 0.602, 0.532, 0, 4},
		{"all-dcp", 0.895, 1, 85, 0}, // the rest: GPUs whose exporter has no profiling module
		{"utilization-only", 0.602, 0.532, 0, 4},
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
// started (was: detected after an hour); on the GPU Operator's counters it
// is found once the window's coverage allows (50 minutes) and never deleted
// by default (partial evidence).
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
					if d > c.everyStrongMinerWithin {
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
