package analyzer

import (
	"strings"
	"testing"
	"time"
)

// A young pod (first sample inside the window) is judged over its own life
// once that span reaches MinSpanStrong, and only a miner verdict on strong
// evidence stands there; anything else waits for the window's coverage.
func TestYoungPods(t *testing.T) {
	allPipesIdle := map[Signal]float64{SignalSM: 0.99, SignalTensor: 0, SignalFP16: 0, SignalFP32: 0.002, SignalFP64: 0,
		SignalDRAM: 0.2, SignalPCIeTx: 2e6, SignalPCIeRx: 3e6}
	gpuOperatorIdle := map[Signal]float64{SignalGREngine: 0.99, SignalTensor: 0, SignalDRAM: 0.2, SignalPCIeTx: 2e6, SignalPCIeRx: 3e6}
	warmTraining := map[Signal]float64{SignalSM: 0.9, SignalTensor: 0.45, SignalFP16: 0, SignalFP32: 0.05, SignalFP64: 0,
		SignalDRAM: 0.4, SignalPCIeTx: 5e6, SignalPCIeRx: 4e7}
	cases := []struct {
		name     string
		age      time.Duration
		util     float64
		signals  map[Signal]float64
		gap      bool // a 4-minute scrape gap in the pod's life
		verdict  Verdict
		reason   string
		spanMins float64
	}{
		{"strong miner, 12 minutes old: judged over its life", 12 * time.Minute, 100, allPipesIdle, false, Miner, "young: judged over its own 12m", 12},
		{"strong miner, exactly 10 minutes old", 10 * time.Minute, 100, allPipesIdle, false, Miner, "min span 10m for strong evidence", 10},
		{"strong miner throttled to 80 %, 15 minutes old", 15 * time.Minute, 80, allPipesIdle, false, Miner, "sm_active held", 15},
		{"strong miner, 9 minutes old: too young", 9 * time.Minute, 100, allPipesIdle, false, InsufficientData, "coverage", 0},
		{"miner on the GPU Operator's counters: partial evidence waits for the window", 30 * time.Minute, 100, gpuOperatorIdle, false, InsufficientData, "coverage", 0},
		{"miner on utilization alone waits for the window", 30 * time.Minute, 100, nil, false, InsufficientData, "coverage", 0},
		{"training in its first 15 minutes, tensor busy: never a young miner", 15 * time.Minute, 100, warmTraining, false, InsufficientData, "coverage", 0},
		{"strong miner with a gap in its short life: not enough of its span", 12 * time.Minute, 100, allPipesIdle, true, InsufficientData, "coverage", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			born := testEnd.Add(-c.age)
			alive := func(f func(time.Time) (float64, bool)) func(time.Time) (float64, bool) {
				return func(ts time.Time) (float64, bool) {
					if !ts.After(born) || c.gap && ts.After(born.Add(3*time.Minute)) && !ts.After(born.Add(7*time.Minute)) {
						return 0, false
					}
					return f(ts)
				}
			}
			g, w := gpu("n1", "0"), pod("free", "new")
			in := []Series{series(g, w, profWindow, profChunk, profInterval, alive(flat(c.util)))}
			for _, sig := range ProfilingSignals() {
				if v, ok := c.signals[sig]; ok {
					in = append(in, signalSeries(sig, g, w, alive(flat(v))))
				}
			}
			rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, profConfig())
			p := rep.Pods[0]
			gr := p.GPUs[0]
			if p.Verdict != c.verdict || !strings.Contains(gr.Reason, c.reason) {
				t.Fatalf("%s: %s; want %s mentioning %q", p.Verdict, gr.Reason, c.verdict, c.reason)
			}
			if got := gr.Span.Minutes(); got != c.spanMins || p.Evidence.SpanSecs != c.spanMins*60 {
				t.Errorf("span %v min (evidence %v s), want %v min", got, p.Evidence.SpanSecs, c.spanMins)
			}
			if c.verdict == Miner && (gr.Strength != StrengthStrong || !p.Evidence.Enforceable || gr.Coverage < 0.99) {
				t.Errorf("young miner: strength %s enforceable %v coverage %v", gr.Strength, p.Evidence.Enforceable, gr.Coverage)
			}
		})
	}
	// Off: young pods wait for the window.
	cfg := profConfig()
	cfg.MinSpanStrong = 0
	g, w := gpu("n1", "0"), pod("free", "new")
	born := testEnd.Add(-20 * time.Minute)
	in := []Series{series(g, w, profWindow, profChunk, profInterval, since(born.Add(time.Millisecond), flat(100)))}
	for sig, v := range allPipesIdle {
		in = append(in, signalSeries(sig, g, w, since(born.Add(time.Millisecond), flat(v))))
	}
	if rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, cfg); rep.Pods[0].Verdict != InsufficientData {
		t.Errorf("minSpanStrong 0: %s, want insufficient_data", rep.Pods[0].Verdict)
	}
}
