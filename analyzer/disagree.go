package analyzer

import (
	"fmt"
	"math"
	"time"
)

// Disagreement is two series of one GPU and pod that report different values
// for the same chunk, together holding more samples than one exporter
// restarting within the chunk could: two exporters serving the GPU (the GPU
// Operator's and a second one, or one scraped by two jobs with different
// relabelling), or an exporter and a stale twin replaying old values. Both
// are trusted series (a forged one never reaches the analyzer); the detector
// cannot tell which one is true, so a miner verdict on that GPU is never
// enforceable that cycle, and the report names both.
type Disagreement struct {
	Signal Signal         `json:"signal"`
	End    time.Time      `json:"chunk_end"`
	Series [2]SeriesValue `json:"series"`
}

// SeriesValue is what one series said about one chunk.
type SeriesValue struct {
	// Origin names the series' scrape target (its job, instance, and
	// namespace and pod when the producer knows them).
	Origin  string  `json:"origin"`
	Mean    float64 `json:"mean"`
	Samples int64   `json:"samples"`
}

func (d *Disagreement) String() string {
	a, b := d.Series[0], d.Series[1]
	return fmt.Sprintf("two series of this GPU disagree on %s in the chunk ending %s: %s says %.3g (%d samples), %s says %.3g (%d samples)",
		signalName(d.Signal), d.End.UTC().Format(time.RFC3339), a.Origin, a.Mean, a.Samples, b.Origin, b.Mean, b.Samples)
}

// disagreeBy is how far apart two series' means of one chunk may lie, as a
// share of the signal's valid range, before they disagree. Two exporters
// reading one GPU sample it at different instants: over a chunk of tens of
// samples their means differ by a few points of utilization at most, even
// for a bursty job (DCGM averages utilization over its own sample period).
// Ten points is a different story, not a different sampling.
const disagreeBy = 0.10

// disagreement is the first chunk, signal by signal, in which two series of
// the group disagree; nil when none does. Only the signals with a bounded
// percentage or ratio range are compared (utilization, the activity ratios,
// memory copy utilization): bandwidths and power have no scale on which "far
// apart" means the same on every board. With the scrape interval unknown,
// two series in one chunk may be a restart's halves, and none disagrees.
func (g *group) disagreement(cfg Config) *Disagreement {
	if !g.series.repeats() {
		return nil // one series per signal: the common case, without allocating
	}
	for _, sig := range g.series.signals() {
		ss := g.series.of(sig)
		lo, hi := sig.ValidRange()
		if sig == SignalUtil {
			lo, hi = cfg.ValidMin, cfg.ValidMax
		}
		capacity := g.capacity(sig)
		if len(ss) < 2 || hi > 100 || capacity < 0 {
			continue
		}
		tolerance := disagreeBy * (hi - lo)
		for a := 0; a < len(ss); a++ {
			for b := a + 1; b < len(ss); b++ {
				if d := g.disagreeOn(sig, ss[a], ss[b], capacity, tolerance, lo, hi); d != nil {
					return d
				}
			}
		}
	}
	return nil
}

// disagreeOn is the first chunk in which x and y both hold valid samples,
// more together than the chunk can, with means further apart than
// tolerance.
func (g *group) disagreeOn(sig Signal, x, y *Series, capacity int64, tolerance, lo, hi float64) *Disagreement {
	at := make(map[int]Chunk, len(x.Chunks))
	for _, c := range x.Chunks {
		if i := g.window.index(c.End); i >= 0 && c.Count > 0 && c.Valid(lo, hi) {
			at[i] = c
		}
	}
	for _, c := range y.Chunks {
		i := g.window.index(c.End)
		o, ok := at[i]
		if i < 0 || !ok || c.Count <= 0 || !c.Valid(lo, hi) || o.samples()+c.samples() <= capacity {
			continue
		}
		if math.Abs(o.Mean-c.Mean) > tolerance {
			return &Disagreement{Signal: sig, End: c.End.Time(), Series: [2]SeriesValue{
				{Origin: x.source().Origin, Mean: o.Mean, Samples: o.Count},
				{Origin: y.source().Origin, Mean: c.Mean, Samples: c.Count},
			}}
		}
	}
	return nil
}

// capacity is how many samples one chunk of one series of sig can hold at
// the scrape interval, with the slack of a pod handing the GPU on; -1 when
// the interval is unknown.
func (g *group) capacity(sig Signal) int64 {
	if g.window.interval <= 0 {
		return -1
	}
	span := g.window.profSpan
	if p, _ := g.primary(); sig == p {
		span = g.window.chunk
	}
	return int64(sharedLoad * float64(span) / float64(g.window.interval))
}

// signalName is how a report names a signal.
func signalName(s Signal) string {
	if s == SignalUtil {
		return "utilization"
	}
	return string(s)
}

// withoutEnforcement caps a miner verdict's evidence below enforceable when
// the GPU's series disagree, and records the disagreement on any verdict.
func withoutEnforcement(r GPUReport, d *Disagreement) GPUReport {
	if d == nil {
		return r
	}
	r.Disagreement = d
	if r.Verdict == Miner && r.Strength.Enforceable() {
		r.Strength = StrengthPartial
		r.StrengthReason = d.String() + ": not enforceable while they do"
		r.Reason += "; evidence capped at partial: " + d.String()
	}
	return r
}
