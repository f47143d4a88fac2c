package fleet

import (
	"math"
	"testing"
	"time"
)

func TestGrid(t *testing.T) {
	tests := []struct {
		name      string
		scrape    Scrape
		from, to  time.Time
		wantFirst time.Time
		wantLen   int
	}{
		{"15s aligned, both ends kept", Scrape{}, testEnd.Add(-time.Minute), testEnd, testEnd.Add(-time.Minute), 5},
		{"15s unaligned start", Scrape{}, testEnd.Add(-time.Minute + time.Second), testEnd, testEnd.Add(-45 * time.Second), 4},
		{"30s", Scrape{Interval: 30 * time.Second}, testEnd.Add(-time.Hour), testEnd, testEnd.Add(-time.Hour), 121},
		{"phase 7s", Scrape{Phase: 7 * time.Second}, testEnd.Add(-time.Minute), testEnd, testEnd.Add(-53 * time.Second), 4},
		{"phase larger than interval", Scrape{Phase: 22 * time.Second}, testEnd.Add(-time.Minute), testEnd, testEnd.Add(-53 * time.Second), 4},
		{"before 1970", Scrape{}, time.Unix(-31, 0), time.Unix(0, 0), time.Unix(-30, 0), 3},
		{"empty", Scrape{}, testEnd, testEnd.Add(-time.Second), time.Time{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.scrape.Grid(tc.from, tc.to)
			if len(ts) != tc.wantLen {
				t.Fatalf("len = %d, want %d", len(ts), tc.wantLen)
			}
			if len(ts) == 0 {
				return
			}
			if !ts[0].Equal(tc.wantFirst) {
				t.Errorf("first = %s, want %s", ts[0], tc.wantFirst)
			}
			for i := 1; i < len(ts); i++ {
				if d := ts[i].Sub(ts[i-1]); d != tc.scrape.interval() {
					t.Fatalf("step %d = %v, want %v", i, d, tc.scrape.interval())
				}
			}
		})
	}
}

func TestSamplesLifetimeGapsAndBadValues(t *testing.T) {
	p := Pod{Namespace: "ns", Name: "p", Node: "n", Profile: SteadyMiner(),
		Start: testEnd.Add(-10 * time.Minute), End: testEnd.Add(-time.Minute)}
	g := GPU("n", "0")
	s := Scrape{
		Gaps: []Range{{From: testEnd.Add(-5 * time.Minute), To: testEnd.Add(-4 * time.Minute)}},
		Bad: []BadValue{
			{At: testEnd.Add(-9 * time.Minute), Value: math.NaN()},
			{At: testEnd.Add(-8 * time.Minute), Value: -1},
			{At: testEnd.Add(-7 * time.Minute), Value: 150},
			{At: testEnd.Add(-4*time.Minute - 30*time.Second), Value: 150}, // inside the gap: dropped
			{At: testEnd.Add(-7*time.Minute + time.Second), Value: 150},    // off the grid: ignored
		},
	}
	ts, v := Samples(p, g, testEnd.Add(-time.Hour), testEnd, s)
	// [end-10m, end-1m) at 15 s is 36 samples, minus 4 in the gap.
	if len(ts) != 32 || len(v) != 32 {
		t.Fatalf("got %d times and %d values, want 32", len(ts), len(v))
	}
	if !ts[0].Equal(p.Start) || !ts[len(ts)-1].Equal(p.End.Add(-15*time.Second)) {
		t.Errorf("samples span %s..%s, want %s..%s", ts[0], ts[len(ts)-1], p.Start, p.End.Add(-15*time.Second))
	}
	var nan, neg, over int
	for i, x := range v {
		switch {
		case math.IsNaN(x):
			nan++
		case x == -1:
			neg++
		case x == 150:
			over++
		case x != p.Profile.At(g.Seed(), ts[i]):
			t.Errorf("sample at %s = %v, want the profile's %v", ts[i], x, p.Profile.At(g.Seed(), ts[i]))
		}
		if !inGap(ts[i], s.Gaps) {
			continue
		}
		t.Errorf("sample at %s lies in a gap", ts[i])
	}
	if nan != 1 || neg != 1 || over != 1 {
		t.Errorf("bad values: %d NaN, %d -1, %d 150; want one each", nan, neg, over)
	}
}

func TestFleetSeriesSkipsPodsWithoutSamples(t *testing.T) {
	pods := DefaultFleet(testEnd)
	// Before the young pod started: every GPU but its one has a series.
	all := 0
	for _, p := range pods {
		all += len(p.GPUs)
	}
	series := FleetSeries(pods, Honor, testEnd.Add(-time.Hour), testEnd.Add(-11*time.Minute), Scrape{})
	if len(series) != all-1 {
		t.Fatalf("got %d series, want %d", len(series), all-1)
	}
	for _, s := range series {
		if s.Labels["pod"] == "jupyter-mallory" {
			t.Errorf("series of jupyter-mallory before it started: %v", s.Labels)
		}
		if len(s.Times) != 197 {
			t.Errorf("series %v has %d samples, want 197", s.Labels, len(s.Times))
		}
	}
}

// A profile is a function of seed and time: sampling at another interval or
// window sees the same values at the same times.
func TestSamplesAgreeAcrossGrids(t *testing.T) {
	p := DefaultFleet(testEnd)[2]
	g := p.GPUs[0]
	ts15, v15 := Samples(p, g, testEnd.Add(-time.Hour), testEnd, Scrape{Interval: 15 * time.Second})
	ts30, v30 := Samples(p, g, testEnd.Add(-2*time.Hour), testEnd, Scrape{Interval: 30 * time.Second})
	at := map[time.Time]float64{}
	for i, ts := range ts15 {
		at[ts] = v15[i]
	}
	matched := 0
	for i, ts := range ts30 {
		if v, ok := at[ts]; ok {
			matched++
			if v != v30[i] {
				t.Fatalf("value at %s: %v at 15s, %v at 30s", ts, v, v30[i])
			}
		}
	}
	if matched < 100 {
		t.Fatalf("only %d shared timestamps", matched)
	}
}
