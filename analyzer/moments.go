package analyzer

import "math"

// Moments are the partial statistics of a set of samples: enough to merge
// exactly with another set without the samples themselves.
//
// M2 is the sum of squared deviations from Mean, so the population variance is
// M2/Count, the same definition PromQL's stddev_over_time uses.
type Moments struct {
	Count int64
	Mean  float64
	M2    float64
	Min   float64
	Max   float64
}

// MomentsFromStats builds Moments from what PromQL returns for one chunk:
// count_over_time, avg_over_time, stddev_over_time (population), min_over_time
// and max_over_time.
func MomentsFromStats(count, mean, stddev, min, max float64) Moments {
	n := int64(math.Round(count))
	return Moments{Count: n, Mean: mean, M2: stddev * stddev * float64(n), Min: min, Max: max}
}

// MomentsOf computes the moments of samples with a two-pass algorithm,
// excluding values outside [validMin, validMax] and non-finite values, which
// it counts as bad.
func MomentsOf(samples []float64, validMin, validMax float64) (m Moments, bad int64) {
	var sum float64
	for _, v := range samples {
		if !validValue(v, validMin, validMax) {
			bad++
			continue
		}
		if m.Count == 0 || v < m.Min {
			m.Min = v
		}
		if m.Count == 0 || v > m.Max {
			m.Max = v
		}
		m.Count++
		sum += v
	}
	if m.Count == 0 {
		return Moments{}, bad
	}
	// Corrected two-pass (Chan, Golub and LeVeque 1983): the second pass
	// also sums the deviations, which removes the rounding error of the first
	// pass's mean when the values sit on a large offset.
	m.Mean = sum / float64(m.Count)
	var dev, dev2 float64
	for _, v := range samples {
		if validValue(v, validMin, validMax) {
			d := v - m.Mean
			dev += d
			dev2 += d * d
		}
	}
	n := float64(m.Count)
	m.Mean += dev / n
	m.M2 = max(dev2-dev*dev/n, 0)
	return m, bad
}

func validValue(v, lo, hi float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= lo && v <= hi
}

// Merge combines two disjoint sets of samples exactly (Chan, Golub and
// LeVeque's parallel variance): the result equals the moments of the union.
func (m Moments) Merge(o Moments) Moments {
	switch {
	case o.Count == 0:
		return m
	case m.Count == 0:
		return o
	}
	n := m.Count + o.Count
	na, nb, nf := float64(m.Count), float64(o.Count), float64(n)
	delta := o.Mean - m.Mean
	return Moments{
		Count: n,
		Mean:  m.Mean + delta*nb/nf,
		M2:    m.M2 + o.M2 + delta*delta*na*nb/nf,
		Min:   math.Min(m.Min, o.Min),
		Max:   math.Max(m.Max, o.Max),
	}
}

// StdDev is the population standard deviation.
func (m Moments) StdDev() float64 {
	if m.Count == 0 {
		return 0
	}
	v := m.M2 / float64(m.Count)
	if v < 0 { // rounding in the producer can leave -0.0000…
		return 0
	}
	return math.Sqrt(v)
}

// Valid reports whether chunk moments are usable: a positive count and finite
// statistics inside the valid value range. PromQL aggregates over a chunk that
// holds a NaN, an Inf or an out-of-range sample fail this test.
func (m Moments) Valid(lo, hi float64) bool {
	if m.Count <= 0 {
		return false
	}
	for _, v := range []float64{m.Mean, m.M2, m.Min, m.Max} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	// The mean is checked too: a producer that fills in only count and mean
	// must not slip an impossible value past the min/max check.
	return m.Min >= lo && m.Max <= hi && m.Mean >= lo && m.Mean <= hi &&
		m.M2 >= -1e-9*math.Max(1, m.Mean*m.Mean*float64(m.Count))
}

// Scale returns the moments of the samples multiplied by k >= 0 (a unit
// change, such as a 0..1 ratio to a percentage).
func (m Moments) Scale(k float64) Moments {
	if k == 1 {
		return m
	}
	return Moments{Count: m.Count, Mean: m.Mean * k, M2: m.M2 * k * k, Min: m.Min * k, Max: m.Max * k}
}
