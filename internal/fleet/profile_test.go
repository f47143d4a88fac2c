package fleet

import (
	"math"
	"testing"
	"time"
)

var testEnd = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// moments returns the population mean and stddev, as PromQL's
// avg_over_time and stddev_over_time compute them.
func moments(v []float64) (mean, stddev float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		stddev += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(stddev / float64(len(v)))
}

// profileValues reads p on the default 15 s grid over [from, to].
func profileValues(p Profile, seed uint64, from, to time.Time) []float64 {
	var out []float64
	for _, t := range (Scrape{}).Grid(from, to) {
		out = append(out, p.At(seed, t))
	}
	return out
}

func TestProfileCharacter(t *testing.T) {
	tests := []struct {
		profile          Profile
		window           time.Duration
		meanMin, meanMax float64
		stdMin, stdMax   float64
	}{
		{SteadyMiner(), time.Hour, 99, 100, 0, 1},
		{ThrottledMiner(80), time.Hour, 79.5, 80.5, 0, 1},
		{ThrottledMiner(0), time.Hour, 0, 0.5, 0, 1},
		{BurstyTraining(), time.Hour, 65, 90, 10, 50},
		{Inference(), 24 * time.Hour, 15, 55, 3, 25},
		{Idle(), time.Hour, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		for _, seed := range []uint64{1, 2, 42, 1 << 60} {
			v := profileValues(tc.profile, seed, testEnd.Add(-tc.window), testEnd)
			mean, std := moments(v)
			if mean < tc.meanMin || mean > tc.meanMax || std < tc.stdMin || std > tc.stdMax {
				t.Errorf("%s seed %d over %v: mean %.2f stddev %.2f, want mean in [%v, %v] and stddev in [%v, %v]",
					tc.profile.Name, seed, tc.window, mean, std, tc.meanMin, tc.meanMax, tc.stdMin, tc.stdMax)
			}
			lo, hi := 0.0, 100.0
			switch tc.profile.Name {
			case "inference":
				lo, hi = 10, 60
			}
			for i, x := range v {
				if x < lo || x > hi || x != math.Round(x) {
					t.Fatalf("%s seed %d sample %d = %v: want an integer in [%v, %v]", tc.profile.Name, seed, i, x, lo, hi)
				}
			}
		}
	}
}

// The old detector's rule must tell miners from training over an hour.
func TestOldRuleSeparatesMinerFromTraining(t *testing.T) {
	flagged := func(p Profile) bool {
		mean, std := moments(profileValues(p, 7, testEnd.Add(-time.Hour), testEnd))
		return mean > 95 && std < 2
	}
	if !flagged(SteadyMiner()) {
		t.Error("steady miner not flagged by mean > 95 && stddev < 2")
	}
	for _, p := range []Profile{BurstyTraining(), Inference(), Idle(), ThrottledMiner(80)} {
		if flagged(p) {
			t.Errorf("%s flagged by mean > 95 && stddev < 2", p.Name)
		}
	}
}

// Training must dip every few minutes: every 10-minute stretch holds an
// evaluation/checkpoint phase at or below 30 %.
func TestBurstyTrainingDipsEveryFewMinutes(t *testing.T) {
	p := BurstyTraining()
	for start := testEnd.Add(-time.Hour); start.Before(testEnd); start = start.Add(10 * time.Minute) {
		dips := 0
		for _, x := range profileValues(p, 3, start, start.Add(10*time.Minute)) {
			if x <= 30 {
				dips++
			}
		}
		if dips < 3 { // at least 45 s of dip at 15 s
			t.Errorf("10 minutes from %s: %d samples at or below 30 %%, want at least 3", start, dips)
		}
	}
}

func TestProfilesAreDeterministic(t *testing.T) {
	for _, p := range []Profile{SteadyMiner(), ThrottledMiner(60), BurstyTraining(), Inference()} {
		a := profileValues(p, 11, testEnd.Add(-30*time.Minute), testEnd)
		b := profileValues(p, 11, testEnd.Add(-30*time.Minute), testEnd)
		c := profileValues(p, 12, testEnd.Add(-30*time.Minute), testEnd)
		if !slicesEqual(a, b) {
			t.Errorf("%s: same seed gave different samples", p.Name)
		}
		if slicesEqual(a, c) {
			t.Errorf("%s: seeds 11 and 12 gave identical samples", p.Name)
		}
		// A value depends on its time only, not on the grid it is read on.
		at := testEnd.Add(-90 * time.Second)
		if x, y := p.At(11, at), a[len(a)-1-6]; x != y {
			t.Errorf("%s: At(%s) = %v alone, %v within a grid", p.Name, at, x, y)
		}
	}
}

func slicesEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}
