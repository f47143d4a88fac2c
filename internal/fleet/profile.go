package fleet

import (
	"math"
	"math/rand/v2"
	"time"
)

// Profile is how a GPU's utilization (DCGM_FI_DEV_GPU_UTIL, an integer
// percentage 0..100) evolves over time. A profile is a pure function of a
// seed and a time: the same seed and time always give the same value, no
// matter which other times are sampled or in which order, so every scrape
// interval, phase and query window sees one consistent fleet.
type Profile struct {
	// Name is a short stable identifier ("steady-miner", "bursty-training", ...).
	Name string
	util func(seed uint64, t time.Time) float64
}

// At returns the utilization at t for a GPU seeded with seed. The zero
// Profile behaves as Idle.
func (p Profile) At(seed uint64, t time.Time) float64 {
	if p.util == nil {
		return 0
	}
	return p.util(seed, t)
}

// IsZero reports whether p is the zero Profile (no behaviour set).
func (p Profile) IsZero() bool { return p.util == nil }

// SteadyMiner mimics a GPU cryptocurrency miner (ethminer, T-Rex, lolMiner,
// xmrig's CUDA backend): the hashing kernels are relaunched back to back, so
// nvidia-smi and DCGM report 100 % utilization with only an occasional 99 or
// 98 when the miner fetches new work from the pool. This is exactly what the
// old `mean > 95 && stddev < 2` rule was written for: mean ≈ 99.8, stddev ≈ 0.5.
func SteadyMiner() Profile {
	return Profile{Name: "steady-miner", util: func(seed uint64, t time.Time) float64 {
		switch r := sampleRand(seed, t, 1).Float64(); {
		case r < 0.03:
			return 98
		case r < 0.15:
			return 99
		default:
			return 100
		}
	}}
}

// ThrottledMiner mimics a miner that caps its own intensity to dodge a
// `mean > 95` rule: miners expose intensity settings (T-Rex and NBMiner
// `--intensity`, duty-cycled launches), and DCGM's utilization, being the
// share of each sample period with a kernel running, then sits flat at the
// chosen level instead of at 100. Values stay within level±1 (stddev ≈ 0.45):
// as flat as an unthrottled miner, only lower.
func ThrottledMiner(level float64) Profile {
	level = math.Round(clamp(level, 0, 100))
	return Profile{Name: "throttled-miner", util: func(seed uint64, t time.Time) float64 {
		v := level
		switch r := sampleRand(seed, t, 2).Float64(); {
		case r < 0.1:
			v--
		case r < 0.2:
			v++
		}
		return clamp(v, 0, 100)
	}}
}

// BurstyTraining mimics a deep-learning training job (PyTorch/DeepSpeed):
// long stretches of training steps at 85-100 % with the odd input-pipeline
// stall, interrupted every 6-10 minutes by an evaluation or checkpoint phase
// of 45-90 seconds where the GPU waits on the CPU, the disk or the network and
// drops to 0-30 %. Over an hour: mean ≈ 70-85, stddev 20-35. A 10 s
// nvidia-smi sample inside a training stretch looks "flat and high", which is
// why the old detector's short window mistook training for mining.
func BurstyTraining() Profile {
	return Profile{Name: "bursty-training", util: func(seed uint64, t time.Time) float64 {
		// Per-GPU cycle shape, fixed by the seed.
		shape := rand.New(rand.NewPCG(mix(seed), 3))
		period := time.Duration(6*60+shape.IntN(4*60+1)) * time.Second // 6..10 min
		dip := time.Duration(45+shape.IntN(46)) * time.Second          // 45..90 s
		phase := time.Duration(shape.Int64N(int64(period)))

		r := sampleRand(seed, t, 3)
		pos := time.Duration((t.UnixNano() + int64(phase)) % int64(period))
		if pos < 0 {
			pos += period
		}
		if pos >= period-dip { // evaluation / checkpoint
			return float64(r.IntN(31))
		}
		if r.Float64() < 0.05 { // input-pipeline stall
			return float64(40 + r.IntN(31))
		}
		return math.Round(clamp(93+4*r.NormFloat64(), 0, 100))
	}}
}

// Inference mimics a model-serving pod (Triton, vLLM, a Stable Diffusion
// API): utilization follows request traffic, a diurnal curve peaking in the
// afternoon (UTC) modulated by minute-to-minute bursts, always between 10
// and 60 %: serving is sized to keep headroom for peaks.
func Inference() Profile {
	return Profile{Name: "inference", util: func(seed uint64, t time.Time) float64 {
		hour := float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60
		diurnal := 0.5 - 0.5*math.Cos(2*math.Pi*(hour-4)/24) // 0 at 04:00, 1 at 16:00
		burst := rand.New(rand.NewPCG(mix(seed), uint64(t.Unix()/60))).Float64()
		noise := sampleRand(seed, t, 4).NormFloat64() * 0.05
		load := clamp(0.6*diurnal+0.4*burst+noise, 0, 1)
		return math.Round(10 + 50*load)
	}}
}

// Idle mimics a GPU with nothing running on it (allocated but unused, or not
// allocated at all): DCGM reports 0.
func Idle() Profile {
	return Profile{Name: "idle", util: func(uint64, time.Time) float64 { return 0 }}
}

// sampleRand returns a generator that depends only on (seed, t, stream), so
// a profile's value at t does not depend on which other times were sampled.
func sampleRand(seed uint64, t time.Time, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(mix(seed^stream*0x9e3779b97f4a7c15), mix(uint64(t.UnixMilli()))))
}

// mix is splitmix64's finalizer: it spreads nearby inputs (consecutive
// timestamps, small seeds) over the whole 64-bit space.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
