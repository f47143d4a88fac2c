package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

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
