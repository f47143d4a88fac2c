package analyzer

import (
	"strings"
	"testing"
	"time"
)

// phased is a GPU whose profiling signals follow first for the window's
// first span, then rest; utilization is flat at util throughout.
func phased(g GPU, w Workload, util float64, span time.Duration, first, rest map[Signal]float64) []Series {
	switchAt := testEnd.Add(-profWindow).Add(span)
	out := []Series{series(g, w, profWindow, profChunk, profInterval, flat(util))}
	for _, sig := range ProfilingSignals() {
		a, okA := first[sig]
		b, okB := rest[sig]
		if !okA && !okB {
			continue
		}
		out = append(out, signalSeries(sig, g, w, func(t time.Time) (float64, bool) {
			if !t.After(switchAt) {
				return a, okA
			}
			return b, okB
		}))
	}
	return out
}

// Every math pipe an A100 reports, for miners and training alike.
var (
	segMiner = map[Signal]float64{SignalSM: 0.99, SignalTensor: 0, SignalFP16: 0, SignalFP32: 0.001, SignalFP64: 0, SignalDRAM: 0.2,
		SignalPCIeTx: 3000, SignalPCIeRx: 2000}
	segTraining = map[Signal]float64{SignalSM: 0.95, SignalTensor: 0.45, SignalFP16: 0.1, SignalFP32: 0.05, SignalFP64: 0, SignalDRAM: 0.4,
		SignalPCIeTx: 5e7, SignalPCIeRx: 1e8}
	segZeros = map[Signal]float64{SignalSM: 0, SignalTensor: 0, SignalFP16: 0, SignalFP32: 0, SignalFP64: 0, SignalDRAM: 0,
		SignalPCIeTx: 0, SignalPCIeRx: 0}
)

func TestSegments(t *testing.T) {
	g, w := gpu("n1", "0"), pod("ns", "p")
	for _, tc := range []struct {
		name    string
		series  []Series
		segment time.Duration
		verdict Verdict
		rule    string
		// strength of a miner verdict; segments: each part's verdict.
		strength Strength
		segments []Verdict
		reason   string
	}{
		{name: "mines 20m then trains 40m: seen in the part it mines, never strong",
			series: phased(g, w, 99, 20*time.Minute, segMiner, segTraining), segment: 20 * time.Minute,
			verdict: Miner, rule: "compute_signature", strength: StrengthPartial,
			segments: []Verdict{Miner, Benign, Benign}, reason: "mined in 1 of 3 segments of 20m"},
		{name: "the same GPU judged on the window alone: the mix looks like training",
			series: phased(g, w, 99, 20*time.Minute, segMiner, segTraining), segment: 0,
			verdict: Benign, rule: "training_veto"},
		{name: "the same GPU, one segment spanning the window",
			series: phased(g, w, 99, 20*time.Minute, segMiner, segTraining), segment: time.Hour,
			verdict: Benign, rule: "training_veto"},
		{name: "mines 40m then trains 20m: two parts mine (the window's intensities do not say miner)",
			series: phased(g, w, 99, 40*time.Minute, segMiner, segTraining), segment: 20 * time.Minute,
			verdict: Miner, rule: "compute_signature", strength: StrengthPartial,
			segments: []Verdict{Miner, Miner, Benign}, reason: "mined in 2 of 3 segments of 20m"},
		{name: "training throughout stays benign",
			series: phased(g, w, 99, 20*time.Minute, segTraining, segTraining), segment: 20 * time.Minute,
			verdict: Benign, rule: "training_veto"},
		{name: "a profiler that reads 0 for 20 minutes of training is a fault, not a mining part",
			series: phased(g, w, 99, 20*time.Minute, segZeros, segTraining), segment: 20 * time.Minute,
			verdict: Benign, rule: "training_veto"},
		{name: "a segment that does not divide the window: the window only",
			series: phased(g, w, 99, 20*time.Minute, segMiner, segTraining), segment: 25 * time.Minute,
			verdict: Benign, rule: "training_veto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(profWindow, tc.series...)
			in.Segment = tc.segment
			rep := Analyze(in, profConfig())
			r := findPod(t, rep, "ns", "p").GPUs[0]
			if r.Verdict != tc.verdict || r.Rule != tc.rule || r.Strength != tc.strength {
				t.Fatalf("got %s (%s) %q: %s; want %s (%s) %q", r.Verdict, r.Rule, r.Strength, r.Reason, tc.verdict, tc.rule, tc.strength)
			}
			var got []Verdict
			for _, s := range r.Segments {
				got = append(got, s.Verdict)
			}
			if strings.Join(verdicts(got), ",") != strings.Join(verdicts(tc.segments), ",") {
				t.Errorf("segments %v, want %v", got, tc.segments)
			}
			if !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", r.Reason, tc.reason)
			}
			if r.Verdict == Miner && findPod(t, rep, "ns", "p").Evidence.Enforceable {
				t.Errorf("a segment's evidence is enforceable: %s", r.StrengthReason)
			}
			if len(tc.segments) > 0 {
				if ev := findPod(t, rep, "ns", "p").Evidence; len(ev.Segments) != len(tc.segments) {
					t.Errorf("evidence lists %d segments, want %d", len(ev.Segments), len(tc.segments))
				}
			}
		})
	}
}

func verdicts(vs []Verdict) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// A part too thin to judge is listed as insufficient_data and never mines.
func TestSegmentsThinPart(t *testing.T) {
	g, w := gpu("n1", "0"), pod("ns", "p")
	gapFrom, gapTo := testEnd.Add(-40*time.Minute), testEnd.Add(-20*time.Minute)
	ss := phased(g, w, 99, 20*time.Minute, segMiner, segTraining)
	// The middle 20 minutes are lost for every series (an exporter down).
	for i := range ss {
		var kept []Chunk
		for _, c := range ss[i].Chunks {
			if c.End > At(gapFrom) && c.End <= At(gapTo) {
				continue
			}
			kept = append(kept, c)
		}
		ss[i].Chunks = kept
	}
	in := input(profWindow, ss...)
	in.Segment = 20 * time.Minute
	cfg := profConfig()
	cfg.MinCoverage = 0.6 // the window (40 of 60 minutes) is judged
	r := findPod(t, Analyze(in, cfg), "ns", "p").GPUs[0]
	if r.Verdict != Miner || len(r.Segments) != 3 {
		t.Fatalf("got %s with %d segments: %s", r.Verdict, len(r.Segments), r.Reason)
	}
	if want := []Verdict{Miner, InsufficientData, Benign}; r.Segments[0].Verdict != want[0] || r.Segments[1].Verdict != want[1] || r.Segments[2].Verdict != want[2] {
		t.Errorf("segments %+v, want %v", r.Segments, want)
	}
}

// Flat training on 10,000 GPUs over 1 h (5m chunks), every GPU spared by
// the veto, so each is judged again on its three segments: the cost of the
// segments is the "segments" case against "window".
func BenchmarkAnalyze10kSparedGPUsSegments(b *testing.B) {
	const window, c, seg = time.Hour, 5 * time.Minute, 20 * time.Minute
	signals := map[Signal]float64{SignalUtil: 97, SignalSM: 0.9, SignalDRAM: 0.4, SignalTensor: 0.45,
		SignalFP16: 0.1, SignalFP32: 0.05, SignalFP64: 0, SignalPCIeTx: 5e7, SignalPCIeRx: 1e8}
	var series []Series
	for n := range 10_000 {
		g := GPU{Node: "n", Index: "0", UUID: "GPU-" + time.Duration(n).String(), Model: "NVIDIA A100-SXM4-80GB"}
		w := Workload{Namespace: "ns", Pod: "p" + time.Duration(n).String()}
		for sig, v := range signals {
			s := Series{Signal: sig, Source: &Source{GPU: g, Workload: w}}
			step, per := seg, int64(80) // profiling: one chunk per segment, as promquery reads it
			if sig == SignalUtil {
				step, per = c, 20
			}
			for end := testEnd.Add(-window).Add(step); !end.After(testEnd); end = end.Add(step) {
				s.Chunks = append(s.Chunks, Chunk{End: At(end), Moments: MomentsFromStats(float64(per), v, v/100, v*0.98, v*1.02)})
			}
			series = append(series, s)
		}
	}
	for _, tc := range []struct {
		name    string
		segment time.Duration
	}{{"window", window}, {"segments", seg}} {
		b.Run(tc.name, func(b *testing.B) {
			in := Input{End: testEnd, Window: window, Chunk: c, Segment: tc.segment, Series: series}
			cfg := DefaultConfig()
			cfg.ScrapeInterval = 15 * time.Second
			b.ReportAllocs()
			for b.Loop() {
				rep := Analyze(in, cfg)
				if len(rep.Pods) != 10_000 || rep.Pods[0].Evidence.Rule != "training_veto" {
					b.Fatalf("%d pods, rule %q: %s", len(rep.Pods), rep.Pods[0].Evidence.Rule, rep.Pods[0].Evidence.Reason)
				}
			}
		})
	}
}
