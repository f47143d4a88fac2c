package analyzer

import (
	"math"
	"strings"
	"testing"
	"time"
)

// between is f on (from, to], a gap elsewhere.
func between(from, to time.Time, f func(time.Time) (float64, bool)) func(time.Time) (float64, bool) {
	return func(t time.Time) (float64, bool) {
		if !t.After(from) || t.After(to) {
			return 0, false
		}
		return f(t)
	}
}

// A replacement pod of an owner already judged a miner is judged on the
// owner's window (its predecessor's samples merged with its own) once its own
// samples span MinOwnSpan and show the same verdict.
func TestOwnerEvidence(t *testing.T) {
	const owner = "free/Deployment/miner"
	allPipesIdle := map[Signal]float64{SignalSM: 0.99, SignalTensor: 0, SignalFP16: 0, SignalFP32: 0.002, SignalFP64: 0,
		SignalDRAM: 0.2, SignalPCIeTx: 2e6, SignalPCIeRx: 3e6}
	gpuOperatorIdle := map[Signal]float64{SignalGREngine: 0.99, SignalTensor: 0, SignalDRAM: 0.2, SignalPCIeTx: 2e6, SignalPCIeRx: 3e6}
	training := map[Signal]float64{SignalSM: 0.9, SignalTensor: 0.45, SignalFP16: 0, SignalFP32: 0.05, SignalFP64: 0,
		SignalDRAM: 0.4, SignalPCIeTx: 5e6, SignalPCIeRx: 4e7}
	deleted := testEnd.Add(-5 * time.Minute)
	cases := []struct {
		name             string
		age              time.Duration // of the replacement
		before, after    map[Signal]float64
		beforeU, afterU  float64
		owners           bool
		verdict          Verdict
		strength         Strength
		reason           string
		predecessorFirst time.Duration // predecessor's age at deletion
	}{
		{"returning miner, 4 minutes old: judged on its owner", 4 * time.Minute, allPipesIdle, allPipesIdle, 100, 100, true, Miner, StrengthStrong, "owner free/Deployment/miner judged miner over its pods' window (2 pods", 55 * time.Minute},
		{"returning miner, exactly the min span", 3 * time.Minute, allPipesIdle, allPipesIdle, 99, 100, true, Miner, StrengthStrong, "own samples over 3m (min 3m)", 55 * time.Minute},
		{"returning miner, 2 minutes old: too young even for its owner", 2 * time.Minute, allPipesIdle, allPipesIdle, 100, 100, true, InsufficientData, "", "coverage", 55 * time.Minute},
		{"owner evidence off (no owners known)", 4 * time.Minute, allPipesIdle, allPipesIdle, 100, 100, false, InsufficientData, "", "coverage", 55 * time.Minute},
		{"replacement trains: its own samples do not show a miner", 4 * time.Minute, allPipesIdle, training, 100, 100, true, InsufficientData, "", "coverage", 55 * time.Minute},
		{"predecessor trained: the owner's window is not a miner", 4 * time.Minute, training, allPipesIdle, 100, 100, true, InsufficientData, "", "coverage", 55 * time.Minute},
		{"GPU Operator counters: a miner on partial evidence", 4 * time.Minute, gpuOperatorIdle, gpuOperatorIdle, 100, 100, true, Miner, StrengthPartial, "evidence partial", 55 * time.Minute},
		{"young predecessor deleted after 15 minutes: the owner's span on strong evidence", 4 * time.Minute, allPipesIdle, allPipesIdle, 100, 100, true, Miner, StrengthStrong, "young: judged over its own", 15 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			born := testEnd.Add(-c.age)
			g0, w0 := gpu("n1", "0"), pod("free", "miner-7d9f-aaaaa")
			g1, w1 := gpu("n2", "3"), pod("free", "miner-7d9f-bbbbb")
			old := func(f func(time.Time) (float64, bool)) func(time.Time) (float64, bool) {
				return between(deleted.Add(-c.predecessorFirst), deleted, f)
			}
			young := func(f func(time.Time) (float64, bool)) func(time.Time) (float64, bool) {
				return between(born, testEnd, f)
			}
			in := []Series{
				series(g0, w0, profWindow, profChunk, profInterval, old(flat(c.beforeU))),
				series(g1, w1, profWindow, profChunk, profInterval, young(flat(c.afterU))),
			}
			for _, sig := range ProfilingSignals() {
				if v, ok := c.before[sig]; ok {
					in = append(in, signalSeries(sig, g0, w0, old(flat(v))))
				}
				if v, ok := c.after[sig]; ok {
					in = append(in, signalSeries(sig, g1, w1, young(flat(v))))
				}
			}
			cfg := profConfig()
			if c.owners {
				cfg.Owners = map[PodKey]string{
					{Namespace: "free", Pod: w0.Pod}: owner,
					{Namespace: "free", Pod: w1.Pod}: owner,
				}
			}
			rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, cfg)
			var p PodReport
			for _, r := range rep.Pods {
				if r.Pod == w1.Pod {
					p = r
				}
			}
			gr := p.GPUs[0]
			if p.Verdict != c.verdict || !strings.Contains(gr.Reason, c.reason) {
				t.Fatalf("%s: %s; want %s mentioning %q", p.Verdict, gr.Reason, c.verdict, c.reason)
			}
			if c.verdict != Miner {
				if p.Evidence.Owner != nil {
					t.Errorf("owner evidence on a %s verdict: %+v", p.Verdict, p.Evidence.Owner)
				}
				return
			}
			ev := p.Evidence.Owner
			if ev == nil || ev.Owner != owner || len(ev.Pods) != 2 || ev.Verdict != Miner || ev.OwnSpanSecs != c.age.Seconds() {
				t.Fatalf("owner evidence %+v", ev)
			}
			if gr.Strength != c.strength || p.Evidence.Enforceable != (c.strength == StrengthStrong) {
				t.Errorf("strength %s enforceable %v, want %s", gr.Strength, p.Evidence.Enforceable, c.strength)
			}
			// The owner's window is the exact merge of both pods' samples.
			var xs []float64
			for ts := testEnd.Add(-profWindow).Add(profInterval); !ts.After(testEnd); ts = ts.Add(profInterval) {
				if v, ok := old(flat(c.beforeU))(ts); ok {
					xs = append(xs, v)
				}
				if v, ok := young(flat(c.afterU))(ts); ok {
					xs = append(xs, v)
				}
			}
			want, _ := MomentsOf(xs, math.Inf(-1), math.Inf(1))
			if ev.Samples != want.Count || math.Abs(ev.Mean-want.Mean) > 1e-9 || math.Abs(ev.StdDev-want.StdDev()) > 1e-9 {
				t.Errorf("owner window n=%d mean %v sd %v, want n=%d mean %v sd %v", ev.Samples, ev.Mean, ev.StdDev, want.Count, want.Mean, want.StdDev())
			}
		})
	}
}
