package analyzer

import (
	"maps"
	"strings"
	"testing"
	"time"
)

// fromExporter is ss served by the exporter at origin: one source shared by
// every signal, as promquery builds it.
func fromExporter(origin string, ss []Series) []Series {
	src := &Source{GPU: ss[0].GPU, Workload: ss[0].Workload, Origin: origin}
	for i := range ss {
		ss[i].Source = src
	}
	return ss
}

func TestDisagreeingExportersNeverEnforce(t *testing.T) {
	g, w := gpu("n1", "0"), pod("team-a", "job")
	// Every float pipe idle and exported: strong evidence on an A100.
	idle := maps.Clone(minerProfile)
	idle[SignalFP64] = 0
	miner := func(origin string) []Series { return fromExporter(origin, gpuSeries(g, w, flat(100), idle)) }
	utilOnly := func(origin string, f func(time.Time) (float64, bool)) []Series {
		return fromExporter(origin, []Series{series(g, w, profWindow, profChunk, profInterval, f)})
	}
	split := testEnd.Add(-32*time.Minute - 30*time.Second) // inside a chunk
	cases := []struct {
		name     string
		series   []Series
		strength Strength
		disagree []string // what the disagreement names; nil: none
	}{
		{"one exporter: strong", miner("a:9400"), StrengthStrong, nil},
		{"two exporters that agree (the same GPU scraped twice): strong",
			append(miner("a:9400"), utilOnly("b:9400", wave(99.5, 0.3, 7*time.Minute))...), StrengthStrong, nil},
		{"a second exporter says the GPU is at 40 %: partial, both named",
			append(miner("a:9400"), utilOnly("b:9400", flat(40))...), StrengthPartial,
			[]string{"utilization", "a:9400 says 100", "b:9400 says 40"}},
		{"a stale twin replays a frozen profile of other work: partial",
			append(miner("a:9400"), fromExporter("stale:9400", []Series{signalSeries(SignalFP32, g, w, flat(0.6))})...), StrengthPartial,
			[]string{"fp32_active", "stale:9400 says 0.6"}},
		{"an exporter restarting inside a chunk (halves): strong, merged",
			append(fromExporter("a:9400", gpuSeries(g, w, between(testEnd.Add(-profWindow), split, flat(100)), idle)),
				fromExporter("a2:9400", gpuSeries(g, w, since(split, flat(100)), idle))...), StrengthStrong, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: c.series}, profConfig())
			p := findPod(t, rep, "team-a", "job")
			if p.Verdict != Miner || p.Evidence.Strength != c.strength {
				t.Fatalf("verdict %s %s, want miner %s: %s", p.Verdict, p.Evidence.Strength, c.strength, p.Evidence.Reason)
			}
			d := p.Evidence.Disagreement
			if (d != nil) != (c.disagree != nil) {
				t.Fatalf("disagreement %+v, want one naming %q", d, c.disagree)
			}
			if d == nil {
				if !p.Evidence.Enforceable && c.strength == StrengthStrong {
					t.Errorf("strong without disagreement is not enforceable")
				}
				return
			}
			if p.Evidence.Enforceable {
				t.Errorf("enforceable despite the disagreement")
			}
			for _, want := range c.disagree {
				if !strings.Contains(d.String(), want) || !strings.Contains(p.Evidence.Reason, want) {
					t.Errorf("disagreement %q / reason %q, want both to say %q", d, p.Evidence.Reason, want)
				}
			}
			if p.GPUs[0].Disagreement == nil {
				t.Errorf("the GPU's report lost the disagreement")
			}
		})
	}
}

// A disagreement never makes a verdict: a benign GPU stays benign, with the
// disagreement recorded.
func TestDisagreementOnBenignGPU(t *testing.T) {
	g, w := gpu("n1", "0"), pod("team-a", "train")
	ss := append(fromExporter("a:9400", gpuSeries(g, w, flat(100), trainingProfile)),
		fromExporter("b:9400", []Series{series(g, w, profWindow, profChunk, profInterval, flat(20))})...)
	p := findPod(t, Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: ss}, profConfig()), "team-a", "train")
	if p.Verdict != Benign || p.GPUs[0].Disagreement == nil {
		t.Fatalf("verdict %s, disagreement %v: want benign with the disagreement recorded (%s)", p.Verdict, p.GPUs[0].Disagreement, p.Evidence.Reason)
	}
}

// With the scrape interval unknown, two series in one chunk may be a
// restart's halves: none disagrees.
func TestNoDisagreementWithoutInterval(t *testing.T) {
	g, w := gpu("n1", "0"), pod("team-a", "job")
	grp := &group{window: window{start: testEnd.Add(-profWindow), chunk: profChunk, n: int(profWindow / profChunk), profSpan: profChunk}}
	a := fromExporter("a", []Series{series(g, w, profWindow, profChunk, profInterval, flat(100))})
	b := fromExporter("b", []Series{series(g, w, profWindow, profChunk, profInterval, flat(10))})
	grp.series = bySignal{&a[0], &b[0]}
	if d := grp.disagreement(profConfig()); d != nil {
		t.Fatalf("disagreement %v without a scrape interval", d)
	}
	grp.window.interval = profInterval
	if d := grp.disagreement(profConfig()); d == nil {
		t.Fatalf("no disagreement at a known interval: the test proves nothing")
	}
}
