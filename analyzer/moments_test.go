package analyzer

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// twoPass is the reference: mean and population stddev straight from the
// samples, two passes in 512-bit arithmetic so the reference itself has no
// rounding error worth speaking of.
func twoPass(xs []float64) (mean, sd float64) {
	const prec = 512
	n := new(big.Float).SetPrec(prec).SetInt64(int64(len(xs)))
	sum := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		sum.Add(sum, big.NewFloat(x).SetPrec(prec))
	}
	m := new(big.Float).SetPrec(prec).Quo(sum, n)
	ss := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		d := new(big.Float).SetPrec(prec).Sub(big.NewFloat(x).SetPrec(prec), m)
		ss.Add(ss, d.Mul(d, d))
	}
	mean, _ = m.Float64()
	v, _ := ss.Quo(ss, n).Float64()
	return mean, math.Sqrt(v)
}

func relClose(got, want, tol float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300) || math.Abs(got-want) < 1e-12
}

// TestMergeMatchesTwoPass: random samples cut at random chunk boundaries, each
// chunk reduced to what PromQL returns (count, mean, population stddev, min,
// max) and merged, equal the two-pass statistics of the raw samples.
func TestMergeMatchesTwoPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		n := 1 + rng.IntN(3000)
		offset := []float64{0, 50, 1e6, 1e9}[trial%4]
		scale := []float64{0.001, 1, 30}[trial%3]
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = offset + scale*rng.NormFloat64()
		}
		var merged Moments
		for lo := 0; lo < n; {
			hi := min(n, lo+1+rng.IntN(60))
			c, _ := MomentsOf(xs[lo:hi], math.Inf(-1), math.Inf(1))
			// round-trip through PromQL's shape: stddev, not M2
			merged = merged.Merge(MomentsFromStats(float64(c.Count), c.Mean, c.StdDev(), c.Min, c.Max))
			lo = hi
		}
		mean, sd := twoPass(xs)
		if merged.Count != int64(n) {
			t.Fatalf("trial %d: count %d, want %d", trial, merged.Count, n)
		}
		if !relClose(merged.Mean, mean, 1e-9) {
			t.Fatalf("trial %d (offset %g): mean %.17g, two-pass %.17g", trial, offset, merged.Mean, mean)
		}
		// Float64 means carry a rounding error of eps*offset, so no algorithm
		// that merges means can beat a relative stddev error of about
		// eps*offset/spread (the data's condition number); utilization
		// (0..100) is far from that limit.
		tol := max(1e-9, 16*0x1p-52*offset/scale)
		if !relClose(merged.StdDev(), sd, tol) {
			t.Fatalf("trial %d (offset %g, scale %g): stddev %.17g, two-pass %.17g", trial, offset, scale, merged.StdDev(), sd)
		}
		lo, hi := xs[0], xs[0]
		for _, x := range xs {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		if merged.Min != lo || merged.Max != hi {
			t.Fatalf("trial %d: min/max %v/%v, want %v/%v", trial, merged.Min, merged.Max, lo, hi)
		}
	}
}

func TestMergeIsOrderIndependent(t *testing.T) {
	a := Moments{Count: 3, Mean: 10, M2: 2, Min: 9, Max: 11}
	b := Moments{Count: 5, Mean: 20, M2: 8, Min: 18, Max: 22}
	ab, ba := a.Merge(b), b.Merge(a)
	if ab.Count != ba.Count || !relClose(ab.Mean, ba.Mean, 1e-15) || !relClose(ab.M2, ba.M2, 1e-12) {
		t.Fatalf("a+b=%+v, b+a=%+v", ab, ba)
	}
	if got := a.Merge(Moments{}); got != a {
		t.Fatalf("merge with empty changed moments: %+v", got)
	}
	if got := (Moments{}).Merge(b); got != b {
		t.Fatalf("empty merge b: %+v", got)
	}
}

func TestMomentsOfExcludesBadSamples(t *testing.T) {
	m, bad := MomentsOf([]float64{50, math.NaN(), 70, math.Inf(1), -1, 101, math.Inf(-1), 60}, 0, 100)
	if bad != 5 {
		t.Fatalf("bad = %d, want 5", bad)
	}
	if m.Count != 3 || m.Mean != 60 || m.Min != 50 || m.Max != 70 {
		t.Fatalf("moments = %+v, want count 3 mean 60 min 50 max 70", m)
	}
	if want := math.Sqrt(200.0 / 3); !relClose(m.StdDev(), want, 1e-12) {
		t.Fatalf("stddev %v, want %v", m.StdDev(), want)
	}
}

func BenchmarkMerge10kGPUs288Chunks(b *testing.B) {
	const gpus, chunks = 10_000, 288
	rng := rand.New(rand.NewPCG(3, 4))
	in := make([]Moments, chunks)
	for i := range in {
		in[i] = MomentsFromStats(20, 90+rng.Float64()*10, rng.Float64()*3, 80, 100)
	}
	b.ReportAllocs()
	for b.Loop() {
		for range gpus {
			var m Moments
			for _, c := range in {
				m = m.Merge(c)
			}
			if m.Count != 20*chunks {
				b.Fatal("bad count")
			}
		}
	}
}

// A curve point is written as [end, mean, samples], the mean to 2
// decimals, and read back; a NaN mean is null.
func TestChunkMeanJSON(t *testing.T) {
	end := time.Date(2026, 1, 5, 11, 5, 0, 0, time.UTC)
	for _, c := range []struct {
		in   ChunkMean
		want string
	}{
		{ChunkMean{End: end, Mean: 99.87654, Samples: 20}, `[1767611100,99.88,20]`},
		{ChunkMean{End: end, Mean: 100, Samples: 1}, `[1767611100,100,1]`},
		{ChunkMean{End: end, Mean: math.NaN(), Samples: 3}, `[1767611100,null,3]`},
	} {
		b, err := json.Marshal(c.in)
		if err != nil || string(b) != c.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", c.in, b, err, c.want)
			continue
		}
		var back ChunkMean
		if err := json.Unmarshal(b, &back); err != nil || !back.End.Equal(end) || back.Samples != c.in.Samples ||
			!(math.Abs(back.Mean-c.in.Mean) <= 0.005 || math.IsNaN(back.Mean) && math.IsNaN(c.in.Mean)) {
			t.Errorf("Unmarshal(%s) = %+v, %v", b, back, err)
		}
	}
	var bad ChunkMean
	if err := json.Unmarshal([]byte(`{"end":"x"}`), &bad); err == nil {
		t.Error("an object is not a curve point")
	}
}
