package analyzer

import (
	"math"
	"testing"
	"time"
)

var testEnd = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

// series builds a series the way promquery does: samples every interval on
// (end-window, end], reduced per left-open chunk to moments. value returns the
// sample at t; ok=false leaves a gap.
func series(gpu GPU, w Workload, window, chunk, interval time.Duration, value func(t time.Time) (float64, bool)) Series {
	s := Series{Source: &Source{GPU: gpu, Workload: w}}
	start := testEnd.Add(-window)
	for end := start.Add(chunk); !end.After(testEnd); end = end.Add(chunk) {
		var xs []float64
		for t := end.Add(-chunk).Add(interval); !t.After(end); t = t.Add(interval) {
			if v, ok := value(t); ok {
				xs = append(xs, v)
			}
		}
		if len(xs) == 0 {
			continue
		}
		m, bad := MomentsOf(xs, math.Inf(-1), math.Inf(1))
		if bad > 0 { // NaN/Inf: PromQL aggregates turn NaN too
			m.Mean, m.M2 = math.NaN(), math.NaN()
			m.Count += bad
		}
		s.Chunks = append(s.Chunks, Chunk{End: At(end), Moments: m})
	}
	return s
}

func flat(v float64) func(time.Time) (float64, bool) {
	return func(time.Time) (float64, bool) { return v, true }
}

func wave(mean, amp float64, period time.Duration) func(time.Time) (float64, bool) {
	return func(t time.Time) (float64, bool) {
		return mean + amp*math.Sin(2*math.Pi*float64(t.UnixMilli())/float64(period.Milliseconds())), true
	}
}

func since(from time.Time, f func(time.Time) (float64, bool)) func(time.Time) (float64, bool) {
	return func(t time.Time) (float64, bool) {
		if t.Before(from) {
			return 0, false
		}
		return f(t)
	}
}

func gpu(node, idx string) GPU {
	return GPU{Node: node, Index: idx, UUID: "GPU-" + node + "-" + idx, Model: "NVIDIA A100-SXM4-80GB"}
}

func pod(ns, name string) Workload { return Workload{Namespace: ns, Pod: name, Container: "main"} }

func input(window time.Duration, ss ...Series) Input {
	return Input{End: testEnd, Window: window, Chunk: 5 * time.Minute, Series: ss}
}

func findPod(t *testing.T, r Report, ns, name string) PodReport {
	t.Helper()
	for _, p := range r.Pods {
		if p.Namespace == ns && p.Pod == name {
			return p
		}
	}
	t.Fatalf("pod %s/%s not in report (%d pods)", ns, name, len(r.Pods))
	return PodReport{}
}

func TestAnalyzeVerdicts(t *testing.T) {
	const h, c, i = time.Hour, 5 * time.Minute, 15 * time.Second
	rep := Analyze(input(h,
		series(gpu("n1", "0"), pod("team-a", "miner"), h, c, i, flat(99.5)),
		series(gpu("n1", "1"), pod("team-a", "trainer"), h, c, i, wave(80, 20, 7*time.Minute)),
		series(gpu("n1", "2"), pod("team-a", "young"), h, c, i, since(testEnd.Add(-10*time.Minute), flat(100))),
		series(gpu("n2", "0"), pod("team-a", "multi"), h, c, i, wave(70, 25, 3*time.Minute)),
		series(gpu("n2", "1"), pod("team-a", "multi"), h, c, i, flat(99)),
		series(gpu("n2", "2"), pod("team-a", "multi"), h, c, i, since(testEnd.Add(-5*time.Minute), flat(99))),
		series(gpu("n3", "0"), pod("ns-1", "notebook-0"), h, c, i, flat(99.9)),
		series(gpu("n3", "1"), pod("ns-2", "notebook-0"), h, c, i, wave(40, 10, 10*time.Minute)),
		series(gpu("n3", "2"), Workload{}, h, c, i, flat(0)),
	), DefaultConfig())

	if rep.ScrapeInterval != i || rep.ScrapeIntervalSource != "detected" {
		t.Fatalf("scrape interval %v (%s), want %v detected", rep.ScrapeInterval, rep.ScrapeIntervalSource, i)
	}
	want := map[[2]string]Verdict{
		{"team-a", "miner"}:    Miner,
		{"team-a", "trainer"}:  Benign,
		{"team-a", "young"}:    InsufficientData,
		{"team-a", "multi"}:    Miner, // one mining GPU makes the pod a miner
		{"ns-1", "notebook-0"}: Miner,
		{"ns-2", "notebook-0"}: Benign,
	}
	if len(rep.Pods) != len(want) {
		t.Fatalf("%d pods, want %d: %+v", len(rep.Pods), len(want), rep.Pods)
	}
	for k, v := range want {
		p := findPod(t, rep, k[0], k[1])
		if p.Verdict != v {
			t.Errorf("%s/%s: verdict %s (%s), want %s", k[0], k[1], p.Verdict, p.Evidence.Reason, v)
		}
		if p.Evidence.Rule != "flat_high_util" || p.Evidence.Reason == "" || len(p.Evidence.Curves) != len(p.GPUs) {
			t.Errorf("%s/%s: incomplete evidence %+v", k[0], k[1], p.Evidence)
		}
	}
	multi := findPod(t, rep, "team-a", "multi")
	if len(multi.GPUs) != 3 || multi.Node != "n2" {
		t.Fatalf("multi: %d GPUs on %q, want 3 on n2", len(multi.GPUs), multi.Node)
	}
	if v := []Verdict{multi.GPUs[0].Verdict, multi.GPUs[1].Verdict, multi.GPUs[2].Verdict}; v[0] != Benign || v[1] != Miner || v[2] != InsufficientData {
		t.Fatalf("multi GPU verdicts %v, want benign, miner, insufficient_data", v)
	}
	miner := findPod(t, rep, "team-a", "miner").GPUs[0]
	if miner.Count != 240 || miner.ExpectedSamples != 240 || miner.Coverage != 1 || miner.Mean != 99.5 || len(miner.Curve) != 12 {
		t.Fatalf("miner numbers: %+v", miner.Stats)
	}
	if len(rep.UnattributedGPUs) != 1 || rep.UnattributedGPUs[0].UUID != "GPU-n3-2" {
		t.Fatalf("unattributed GPUs: %+v", rep.UnattributedGPUs)
	}
}

// A fleet scraped every 30 s must not look half empty.
func TestAnalyzeDetects30sScrape(t *testing.T) {
	const h, c, i = 6 * time.Hour, 5 * time.Minute, 30 * time.Second
	gappy := func(t time.Time) (float64, bool) { return 99.5, t.Minute()%20 != 0 } // ~5 % missing
	rep := Analyze(input(h,
		series(gpu("n1", "0"), pod("a", "m1"), h, c, i, flat(99.5)),
		series(gpu("n1", "1"), pod("a", "m2"), h, c, i, gappy),
		series(gpu("n1", "2"), pod("a", "m3"), h, c, i, flat(98)),
	), DefaultConfig())
	if rep.ScrapeInterval != i {
		t.Fatalf("detected %v, want %v", rep.ScrapeInterval, i)
	}
	for _, p := range rep.Pods {
		if p.Verdict != Miner {
			t.Errorf("%s: %s (%s), want miner", p.Pod, p.Verdict, p.Evidence.Reason)
		}
	}
	// A configured interval wins over detection: at 15 s the same data covers half.
	cfg := DefaultConfig()
	cfg.ScrapeInterval = 15 * time.Second
	rep = Analyze(input(h, series(gpu("n1", "0"), pod("a", "m1"), h, c, i, flat(99.5))), cfg)
	if rep.ScrapeIntervalSource != "configured" || rep.Pods[0].Verdict != InsufficientData || rep.Pods[0].GPUs[0].Coverage != 0.5 {
		t.Fatalf("configured 15 s: %s %s coverage %v", rep.ScrapeIntervalSource, rep.Pods[0].Verdict, rep.Pods[0].GPUs[0].Coverage)
	}
}

func TestCoverageBoundary(t *testing.T) {
	const h, c, i = time.Hour, 5 * time.Minute, 15 * time.Second
	cfg := DefaultConfig()
	cfg.ScrapeInterval = i
	cases := []struct {
		from time.Duration // pod present for the last `from` of the window
		want Verdict
	}{
		{48 * time.Minute, Miner},            // 192/240 = 0.8 exactly: enough
		{47 * time.Minute, InsufficientData}, // 188/240
	}
	for _, tc := range cases {
		rep := Analyze(input(h, series(gpu("n", "0"), pod("a", "p"), h, c, i, since(testEnd.Add(-tc.from).Add(time.Millisecond), flat(99)))), cfg)
		if got := rep.Pods[0].Verdict; got != tc.want {
			t.Errorf("present %v: %s (%s), want %s", tc.from, got, rep.Pods[0].Evidence.Reason, tc.want)
		}
	}
}

func TestSharedGPU(t *testing.T) {
	const h, c, i = time.Hour, 5 * time.Minute, 15 * time.Second
	g := gpu("n1", "0")
	rep := Analyze(input(h,
		series(g, pod("a", "slice-1"), h, c, i, flat(99)),
		series(g, pod("b", "slice-2"), h, c, i, flat(99)),
	), DefaultConfig())
	for _, p := range rep.Pods {
		if !p.Shared || !p.GPUs[0].Shared || len(p.GPUs[0].SharedWith) != 1 || p.GPUs[0].SharedWith[0] == p.PodKey {
			t.Fatalf("%s: shared=%v with %v, want shared with the other pod", p.PodKey, p.Shared, p.GPUs[0].SharedWith)
		}
	}
	// One pod handing the GPU to the next inside a chunk is not sharing.
	handoff := testEnd.Add(-32*time.Minute - 30*time.Second)
	rep = Analyze(input(h,
		series(g, pod("a", "first"), h, c, i, func(t time.Time) (float64, bool) { return 10, t.Before(handoff) }),
		series(g, pod("a", "second"), h, c, i, since(handoff, flat(10))),
	), DefaultConfig())
	for _, p := range rep.Pods {
		if p.Shared {
			t.Fatalf("%s marked shared after a sequential handoff", p.PodKey)
		}
	}
}

func TestBadSamplesExcluded(t *testing.T) {
	const h, c, i = time.Hour, 5 * time.Minute, 15 * time.Second
	s := series(gpu("n1", "0"), pod("a", "p"), h, c, i, flat(99))
	// One chunk turned NaN by a bad sample: its 20 samples are bad, the rest judged.
	s.Chunks[3].Mean = math.NaN()
	// A chunk re-read by the producer: 19 good samples kept, 1 excluded.
	s.Chunks[5].Count, s.Chunks[5].BadSamples = 19, 1
	// A chunk whose max is out of range (150).
	s.Chunks[7].Max = 150
	cfg := DefaultConfig()
	cfg.MinCoverage = 0.5
	rep := Analyze(input(h, s), cfg)
	g := rep.Pods[0].GPUs[0]
	if g.BadSamples != 41 || g.Count != 199 {
		t.Fatalf("bad %d samples %d, want 41 and 199", g.BadSamples, g.Count)
	}
	if rep.Pods[0].Verdict != Miner || math.IsNaN(g.Mean) || g.Mean != 99 {
		t.Fatalf("verdict %s mean %v", rep.Pods[0].Verdict, g.Mean)
	}
}

// Two series of the same pod and GPU holding the same chunk (a target scraped
// twice) are not counted twice.
func TestDuplicateSeriesNotDoubleCounted(t *testing.T) {
	const h, c, i = time.Hour, 5 * time.Minute, 15 * time.Second
	s := series(gpu("n1", "0"), pod("a", "p"), h, c, i, flat(99))
	rep := Analyze(input(h, s, s), DefaultConfig())
	if g := rep.Pods[0].GPUs[0]; g.Count != 240 || g.Shared {
		t.Fatalf("count %d shared %v, want 240 and not shared", g.Count, g.Shared)
	}
}

func TestEmptyInput(t *testing.T) {
	rep := Analyze(input(time.Hour), DefaultConfig())
	if len(rep.Pods) != 0 || rep.ScrapeInterval != 0 {
		t.Fatalf("empty input: %+v", rep)
	}
}

func BenchmarkAnalyze10kGPUs288Chunks(b *testing.B) {
	const window, c, i = 24 * time.Hour, 5 * time.Minute, 15 * time.Second
	in := Input{End: testEnd, Window: window, Chunk: c}
	for n := range 10_000 {
		s := Series{Source: &Source{GPU: GPU{Node: "n", Index: "0", UUID: "GPU-" + string(rune('a'+n%26)) + time.Duration(n).String()},
			Workload: Workload{Namespace: "ns", Pod: "p" + time.Duration(n).String()}}}
		for k := range 288 {
			s.Chunks = append(s.Chunks, Chunk{End: At(testEnd.Add(-window).Add(time.Duration(k+1) * c)),
				Moments: MomentsFromStats(20, 90+float64(n%10), 1.5, 85, 100)})
		}
		in.Series = append(in.Series, s)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rep := Analyze(in, DefaultConfig()); len(rep.Pods) != 10_000 {
			b.Fatalf("%d pods", len(rep.Pods))
		}
	}
}

// BenchmarkAnalyze10kGPUs288ChunksProfiled is the same fleet with the seven
// profiling signals the rules beyond utilization read (SM, DRAM, tensor,
// FP32, FP16, PCIe both ways) beside utilization: eight series per GPU.
func BenchmarkAnalyze10kGPUs288ChunksProfiled(b *testing.B) {
	const window, c = 24 * time.Hour, 5 * time.Minute
	in := Input{End: testEnd, Window: window, Chunk: c}
	signals := map[Signal]float64{SignalUtil: 80, SignalSM: 0.8, SignalDRAM: 0.2, SignalTensor: 0.001,
		SignalFP32: 0.002, SignalFP16: 0, SignalPCIeTx: 3000, SignalPCIeRx: 4000}
	for n := range 10_000 {
		g := GPU{Node: "n", Index: "0", UUID: "GPU-" + time.Duration(n).String()}
		w := Workload{Namespace: "ns", Pod: "p" + time.Duration(n).String()}
		for sig, v := range signals {
			s := Series{Signal: sig, Source: &Source{GPU: g, Workload: w}}
			if sig != SignalUtil { // read window-level, as promquery does
				s.Chunks = []Chunk{{End: At(testEnd), Moments: MomentsFromStats(20*288, v, v/100, v*0.98, v*1.02)}}
				in.Series = append(in.Series, s)
				continue
			}
			for k := range 288 {
				s.Chunks = append(s.Chunks, Chunk{End: At(testEnd.Add(-window).Add(time.Duration(k+1) * c)),
					Moments: MomentsFromStats(20, v, v/100, v*0.98, v*1.02)})
			}
			in.Series = append(in.Series, s)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		rep := Analyze(in, DefaultConfig())
		if len(rep.Pods) != 10_000 || rep.Pods[0].Evidence.Rule != "compute_signature" {
			b.Fatalf("%d pods, rule %q", len(rep.Pods), rep.Pods[0].Evidence.Rule)
		}
	}
}

// An exporter restart splits a series in two: the halves of the chunk it
// falls in merge, every sample counted once, with the exact moments.
func TestRestartHalvesMerge(t *testing.T) {
	const h, c, i = time.Hour, 5 * time.Minute, 15 * time.Second
	restart := testEnd.Add(-32*time.Minute - 30*time.Second) // inside a chunk
	value := func(t time.Time) float64 { return 97 + float64(t.Unix()%7)/3 }
	before := series(gpu("n1", "0"), pod("a", "p"), h, c, i, func(t time.Time) (float64, bool) {
		return value(t), t.Before(restart)
	})
	after := series(gpu("n1", "0"), pod("a", "p"), h, c, i, func(t time.Time) (float64, bool) {
		return value(t), t.After(restart.Add(30 * time.Second)) // one scrape missed
	})
	whole := series(gpu("n1", "0"), pod("a", "p"), h, c, i, func(t time.Time) (float64, bool) {
		return value(t), t.Before(restart) || t.After(restart.Add(30*time.Second))
	})
	cfg := DefaultConfig()
	cfg.ScrapeInterval = i
	got := Analyze(input(h, before, after), cfg).Pods[0].GPUs[0]
	want := Analyze(input(h, whole), cfg).Pods[0].GPUs[0]
	if got.Count != want.Count || got.Count != 237 || math.Abs(got.Mean-want.Mean) > 1e-9 || math.Abs(got.StdDev()-want.StdDev()) > 1e-9 {
		t.Fatalf("restarted: n %d mean %v sd %v; one series: n %d mean %v sd %v (want 237: 240 less the 3 scrapes around the restart)",
			got.Count, got.Mean, got.StdDev(), want.Count, want.Mean, want.StdDev())
	}
}
