package fleet

import (
	"time"
)

// DefaultInterval is the scrape interval when Scrape.Interval is zero.
const DefaultInterval = 15 * time.Second

// Scrape describes how Prometheus scrapes the simulated exporter.
type Scrape struct {
	// Interval between samples; zero means DefaultInterval.
	Interval time.Duration
	// Phase shifts the grid: samples fall on Unix-epoch multiples of
	// Interval plus Phase, with no jitter. OpenMetrics carries millisecond
	// precision, so keep Phase a whole number of milliseconds.
	Phase time.Duration
	// Gaps are failed scrapes: no sample at any t with From <= t < To.
	Gaps []Range
	// Bad replaces the sample at At (when At is on the grid and kept) with
	// Value: NaN, -1, 150 and the like, which a detector must exclude.
	Bad []BadValue
}

// Range is the half-open interval [From, To).
type Range struct{ From, To time.Time }

// BadValue is an invalid sample injected at At.
type BadValue struct {
	At    time.Time
	Value float64
}

func (s Scrape) interval() time.Duration {
	if s.Interval <= 0 {
		return DefaultInterval
	}
	return s.Interval
}

// Grid returns the scrape times in [from, to]: every t = k*Interval + Phase
// (k an integer, t in Unix time) within the range. Gaps and pod lifetimes
// are not applied here.
func (s Scrape) Grid(from, to time.Time) []time.Time {
	step := s.interval().Nanoseconds()
	phase := s.Phase.Nanoseconds() % step
	first := ceilDiv(from.UnixNano()-phase, step)*step + phase
	var ts []time.Time
	for n := first; n <= to.UnixNano(); n += step {
		ts = append(ts, time.Unix(0, n).UTC())
	}
	return ts
}

// Samples returns the samples Prometheus would hold for GPU g of pod p in
// [from, to]: the grid, restricted to when p exists and outside gaps, with
// bad values injected.
func Samples(p Pod, g GPUSpec, from, to time.Time, s Scrape) (ts []time.Time, v []float64) {
	profile, seed := p.ProfileOf(g), g.Seed()
	for _, t := range s.Grid(from, to) {
		if !p.Active(t) || inGap(t, s.Gaps) {
			continue
		}
		val := profile.At(seed, t)
		for _, b := range s.Bad {
			if b.At.Equal(t) {
				val = b.Value
			}
		}
		ts = append(ts, t)
		v = append(v, val)
	}
	return ts, v
}

// Series is one labelled time series with its samples in time order.
type Series struct {
	Labels map[string]string // including __name__
	Times  []time.Time
	Values []float64
}

// FleetSeries returns one Series per (pod, GPU) with at least one sample in
// [from, to], labelled in layout, in the order of pods and their GPUs.
func FleetSeries(pods []Pod, layout Layout, from, to time.Time, s Scrape) []Series {
	var out []Series
	for _, p := range pods {
		for _, g := range p.GPUs {
			ts, v := Samples(p, g, from, to, s)
			if len(ts) == 0 {
				continue
			}
			out = append(out, Series{Labels: Labels(p, g, layout), Times: ts, Values: v})
		}
	}
	return out
}

func inGap(t time.Time, gaps []Range) bool {
	for _, g := range gaps {
		if !t.Before(g.From) && t.Before(g.To) {
			return true
		}
	}
	return false
}

// ceilDiv is ⌈a/b⌉ for b > 0, correct for negative a.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}
