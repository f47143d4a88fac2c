package fleet

import (
	"math"
	"math/rand/v2"
	"time"
)

// Miners that know what the detector looks at and spend some of their
// hashrate to look like something else. Each starts from SteadyMiner's
// compute-bound hash (SM_ACTIVE 0.965-0.99, integer pipe 0.92-0.98, FP32 a
// few thousandths, DRAM 0.15-0.25, PCIe a few tens of KB/s, 375-395 W, all
// × load where load = utilization/100) and adds one evasion. The doc
// comment of each says what the evasion costs: the share of the SMs' issue
// slots (and so of the hashrate) it takes away from the hash, or none when
// it runs on an engine the hash does not use.

// Stream numbers of the profiles in this file: 401-449 (sample and shape
// streams alike, plus 1403 and 1407 for the integer pipe of steadyHash;
// existing profiles use 1-9, 50, 100-109, 150 and 301-309).

// TokenKernelMiner mimics SteadyMiner with a token tensor-core kernel run
// alongside the hash (a few warps per SM issuing FP16 HMMA instructions on
// garbage, their results discarded), to defeat a rule that spares any GPU
// whose tensor pipe is busy. Utilization and every other signal are
// SteadyMiner's; PIPE_TENSOR_ACTIVE = PIPE_TENSOR_HMMA_ACTIVE = 0.13-0.17 ×
// load (per GPU, ±0.003), IMMA and DFMA 0.
//
// Cost: on an A100, one m16n8k16 HMMA keeps a sub-partition's tensor core
// busy about 8 cycles, so one HMMA every ~50-60 cycles per SM sub-partition
// already reads as 0.15 of the tensor pipe, while taking one issue slot in
// 50-60 (about 2 %) plus the register moves that feed it (about 1 %): the
// hash loses ~3 % of its issue slots, and its integer pipe reads 3 % lower.
func TokenKernelMiner() Profile {
	steady := SteadyMiner()
	return Profile{Name: "token-kernel-miner", util: steady.util, signals: func(seed uint64, t time.Time, util float64) activity {
		a := steady.signals(seed, t, util)
		a.intp *= 0.97
		tokenTensor(&a, seed, t, 401, util/100, 0.13, 0.17)
		return a
	}}
}

// JitterMiner mimics a miner that varies its intensity to break a
// `stddev < 2` rule: every 2 minutes (at a per-GPU phase) it draws a new
// level uniformly in 55..100 % (T-Rex's and lolMiner's intensity and
// duty-cycle settings, changed by a wrapper script), and DCGM's utilization
// sits at that level ±1. Over an hour: mean ≈ 78, stddev ≈ 13 (that of a
// uniform 45-point range). Every signal follows the level as
// ThrottledMiner's does (SM_ACTIVE 0.965-0.99 × load, integer pipe
// 0.92-0.98 × load, DRAM 0.15-0.25 × load, power idle + (375-395 W − idle) ×
// load), tensor 0.
//
// Cost: the idle share of each period is lost hashrate, about 22 % on
// average (mean level 78 %); the hash itself runs unchanged.
func JitterMiner() Profile {
	return Profile{Name: "jitter-miner", util: jitterUtil(402), signals: func(seed uint64, t time.Time, util float64) activity {
		return steadyHash(seed, t, util, 403)
	}}
}

// DutyCycleMiner mimics a miner that mines for on, then stops for off, and
// so on (cron or a wrapper script), at a per-GPU phase, so that no window
// shorter than on+off looks always busy and a window inside an off phase
// sees an idle GPU. While on it is SteadyMiner (utilization 98-100, every
// signal SteadyMiner's); while off it is Idle. A non-positive off is
// SteadyMiner throughout, a non-positive on Idle throughout. With the usual
// 40m on / 20m off: an hour's utilization mean ≈ 66.5, stddev ≈ 47.
//
// Cost: the off share of the period, a third of the hashrate at 40m/20m.
func DutyCycleMiner(on, off time.Duration) Profile {
	return phases("duty-cycle-miner", SteadyMiner(), Idle(), on, off, 404)
}

// phases is first for on, then second for off, and so on, at a per-GPU
// phase drawn from stream. A non-positive off is first throughout, a
// non-positive on second throughout.
func phases(name string, first, second Profile, on, off time.Duration, stream uint64) Profile {
	period := on + off
	inFirst := func(seed uint64, t time.Time) bool {
		switch {
		case on <= 0:
			return false
		case off <= 0:
			return true
		}
		phase := time.Duration(shapeRand(seed, stream).Int64N(int64(period)))
		return cyclePos(t, period, phase) < on
	}
	return Profile{Name: name, util: func(seed uint64, t time.Time) float64 {
		if inFirst(seed, t) {
			return first.At(seed, t)
		}
		return second.At(seed, t)
	}, signals: func(seed uint64, t time.Time, util float64) activity {
		if inFirst(seed, t) {
			return first.signals(seed, t, util)
		}
		return second.signals(seed, t, util)
	}}
}

// CopyLoopMiner mimics SteadyMiner with a loop of host<->device copies
// (cudaMemcpyAsync of a pinned buffer, back and forth) to look like a job
// that streams data, defeating a rule that expects a miner's host link to
// be quiet: PCIe TX and RX each carry 3-6 GB/s more (per GPU, ±5 %, ×
// load), well under PCIe 4.0 x16's ~25 GB/s, and DRAM_ACTIVE reads 0.08 ×
// load higher (the copies land in HBM). Everything else is SteadyMiner's,
// plus 4 W for the copy engines and the link.
//
// Cost: about none. The copy engines are DMA engines separate from the SMs,
// and 0.08 of HBM's bandwidth is memory the compute-bound hash does not use.
func CopyLoopMiner() Profile {
	steady := SteadyMiner()
	return Profile{Name: "copy-loop-miner", util: steady.util, signals: func(seed uint64, t time.Time, util float64) activity {
		a := steady.signals(seed, t, util)
		copyLoop(&a, seed, t, 405, util/100)
		return a
	}}
}

// DisguisedMiner combines the evasions: JitterMiner's intensity (a level
// redrawn uniformly in 55..100 % every 2 minutes, mean ≈ 78, stddev ≈ 13),
// a token tensor kernel (HMMA, so PIPE_TENSOR_ACTIVE = HMMA = 0.14-0.16 ×
// load), CopyLoopMiner's copy loop (PCIe TX and RX 3-6 GB/s each, DRAM
// +0.08 × load), and a token FP32 kernel that keeps the FMA pipe at
// 0.03-0.05 × load, so that no pipe a rule checks is idle. SM_ACTIVE, DRAM
// and power follow the level as JitterMiner's do.
//
// Cost: the jitter's idle time (~22 % on average), the tensor token's ~3 %
// of issue slots, and the FP32 token's ~4 % (an FFMA keeps the FMA pipe one
// issue slot busy, at most half a cycle on A100's dual FP32 datapath, so
// 0.04 of the pipe costs ~0.04 of issue slots with its operand moves): the
// integer pipe reads 7 % below JitterMiner's at the same level, and the
// miner keeps ~72 % of SteadyMiner's hashrate.
func DisguisedMiner() Profile {
	return Profile{Name: "disguised-miner", util: jitterUtil(406), signals: func(seed uint64, t time.Time, util float64) activity {
		load := util / 100
		a := steadyHash(seed, t, util, 407)
		a.intp *= 0.93
		tokenTensor(&a, seed, t, 408, load, 0.14, 0.16)
		copyLoop(&a, seed, t, 409, load)
		fp32 := uniform(shapeRand(seed, 410), 0.03, 0.05)
		a.fp32 += clamp(fp32*load+0.002*sampleRand(seed, t, 410).NormFloat64(), 0, 1)
		return a
	}}
}

// Int8GEMMMiner mimics a proof of work built on int8 matrix multiplication
// (Pearl-style "useful work": a noised int8 GEMM on the tensor cores whose
// result is then hashed), which a tensor-pipe rule takes for deep learning.
// Utilization is flat at 98-100 % like SteadyMiner's. The tensor pipe runs
// IMMA only: PIPE_TENSOR_ACTIVE = PIPE_TENSOR_IMMA_ACTIVE = 0.80-0.90 × load
// (a large square int8 GEMM reaches most of peak), HMMA, DFMA and FP16 0,
// FP32 0.004-0.01 × load (scaling and addressing), the integer pipe
// 0.15-0.25 × load (noise generation and the hash of each result tile),
// SM_ACTIVE 0.9-0.97 × load, DRAM 0.2-0.35 × load (tiles are reused from
// shared memory), PCIe a few tens of KB/s (jobs and shares, as any miner),
// no NVLink, power flat at 88-95 % of TDP (tensor cores at full tilt).
//
// Cost: none; this is the proof of work itself. What gives it away is what
// deep learning always has and it lacks: HMMA work, FP16/FP32 element-wise
// work, an input stream over PCIe, and the dips of a step loop.
func Int8GEMMMiner() Profile {
	return Profile{Name: "int8-gemm-miner", util: saturated(411, 0.03, 0.15), signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 411)
		imma, fp32, intp := uniform(shape, 0.8, 0.9), uniform(shape, 0.004, 0.01), uniform(shape, 0.15, 0.25)
		sm, dram, watts := uniform(shape, 0.9, 0.97), uniform(shape, 0.2, 0.35), tdpWatts*uniform(shape, 0.88, 0.95)
		r := sampleRand(seed, t, 411)
		load := util / 100
		a := activity{gr: engineActive(util, r)}
		a.sm = math.Min(a.gr, sm*load+0.005*r.NormFloat64())
		a.imma = clamp((imma+0.01*r.NormFloat64())*load, 0, a.sm)
		a.tensor = a.imma
		a.fp32 = fp32 * load * (1 + 0.1*r.NormFloat64())
		a.intp = clamp((intp+0.005*r.NormFloat64())*load, 0, a.sm)
		a.dram = (dram + 0.01*r.NormFloat64()) * load
		a.pcieTx, a.pcieRx = uniform(r, 5e3, 30e3), uniform(r, 10e3, 60e3)
		idle := idleWatts(seed)
		a.power = idle + (watts-idle)*load + 2*r.NormFloat64()
		return a
	}}
}

// steadyHash is SteadyMiner's hash at utilization util (its per-GPU
// constants, noise from stream): what a miner that only changes its
// intensity reports.
func steadyHash(seed uint64, t time.Time, util float64, stream uint64) activity {
	shape := shapeRand(seed, 101)
	smEff, dram, watts := uniform(shape, 0.965, 0.99), uniform(shape, 0.15, 0.25), uniform(shape, 375, 395)
	a := minerSignals(seed, t, util, smEff, dram, watts, sampleRand(seed, t, stream))
	a.intp = intPipe(a, seed, t, stream+1000, util/100, smEff*uniform(shapeRand(seed, 301), 0.95, 0.99))
	return a
}

// jitterUtil is a utilization at a level redrawn uniformly in 55..100 every
// 2 minutes (per-GPU phase), ±1 per sample.
func jitterUtil(stream uint64) func(uint64, time.Time) float64 {
	const slot = 2 * time.Minute
	return func(seed uint64, t time.Time) float64 {
		phase := time.Duration(shapeRand(seed, stream).Int64N(int64(slot)))
		n := floorDiv(t.UnixNano()+int64(phase), int64(slot))
		v := float64(55 + slotRand(seed, stream, n).IntN(46))
		switch r := sampleRand(seed, t, stream).Float64(); {
		case r < 0.1:
			v--
		case r < 0.2:
			v++
		}
		return clamp(v, 0, 100)
	}
}

// tokenTensor adds a token HMMA kernel keeping the tensor pipe busy lo..hi
// (per GPU) × load.
func tokenTensor(a *activity, seed uint64, t time.Time, stream uint64, load, lo, hi float64) {
	share := uniform(shapeRand(seed, stream), lo, hi)
	a.hmma = clamp(share*load+0.003*sampleRand(seed, t, stream).NormFloat64(), 0, 1)
	if load <= 0 {
		a.hmma = 0
	}
	a.tensor = a.imma + a.hmma + a.dfma
}

// copyLoop adds a host<->device copy loop: 3-6 GB/s each way (per GPU,
// ±5 %) × load, 0.08 × load of DRAM and 4 W × load.
func copyLoop(a *activity, seed uint64, t time.Time, stream uint64, load float64) {
	shape := shapeRand(seed, stream)
	tx, rx := uniform(shape, 3e9, 6e9), uniform(shape, 3e9, 6e9)
	r := sampleRand(seed, t, stream)
	a.pcieTx += tx * load * (1 + 0.05*r.NormFloat64())
	a.pcieRx += rx * load * (1 + 0.05*r.NormFloat64())
	a.dram += 0.08 * load
	a.power += 4 * load
}

// slotRand returns a generator that depends only on (seed, stream, n): the
// constants of the n-th slot or block of a piecewise profile.
func slotRand(seed, stream uint64, n int64) *rand.Rand {
	return rand.New(rand.NewPCG(mix(seed^stream*0x9e3779b97f4a7c15), mix(uint64(n)^0x5851f42d4c957f2d)))
}

// floorDiv is ⌊a/b⌋ for b > 0, correct for negative a.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// TokenMemoryHardMiner mimics MemoryHardMiner with a token tensor-core
// kernel (HMMA, PIPE_TENSOR_ACTIVE = HMMA = 0.13-0.17 × load) and a token
// FP32 kernel (FP32 pipe +0.03-0.05 × load) beside the DAG reads, to defeat
// memory_dag (which wants the float pipes idle) and pass a rule that spares
// a busy tensor pipe with memory traffic beside it.
//
// Cost: under 1 %. A memory-hard hash is bound by DRAM bandwidth: its warps
// spend most cycles stalled on loads (SM_ACTIVE 0.5-0.7 with DRAM at
// 0.87-0.92), so a few warps issuing HMMA and FFMA use issue slots the hash
// leaves empty and no memory bandwidth.
func TokenMemoryHardMiner() Profile {
	hard := MemoryHardMiner()
	return Profile{Name: "token-memory-hard-miner", util: hard.util, signals: func(seed uint64, t time.Time, util float64) activity {
		load := util / 100
		a := hard.signals(seed, t, util)
		tokenTensor(&a, seed, t, 412, load, 0.13, 0.17)
		fp32 := uniform(shapeRand(seed, 413), 0.03, 0.05)
		a.fp32 += clamp(fp32*load+0.002*sampleRand(seed, t, 413).NormFloat64(), 0, 1)
		return a
	}}
}

// AlternatingMiner mimics a miner that alternates mining with real ML-shaped
// work, so that the window's means mix both: for mine it is SteadyMiner,
// then for ml it runs FlatTraining (a real training step: tensor pipe
// 0.35-0.55, DRAM busy, NVLink and PCIe traffic), and so on, at a per-GPU
// phase. Utilization stays at a flat 98-100 % throughout, so
// flat_high_util fires, and the window's mix looks like training beside a
// busy integer pipe.
//
// Cost: the ML share of the period, ml / (mine + ml) of the hashrate: a
// third at 40m/20m, half at 10m/10m. Alternating faster than the
// detector's segments (20 minutes at the defaults) costs nothing more.
func AlternatingMiner(mine, ml time.Duration) Profile {
	return phases("alternating-miner", SteadyMiner(), FlatTraining(), mine, ml, 411)
}
