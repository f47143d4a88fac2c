package fleet

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Profile is how a GPU's utilization (DCGM_FI_DEV_GPU_UTIL, an integer
// percentage 0..100) evolves over time, and with it the profiling metrics
// and power (see Value). A profile is a pure function of a seed and a time:
// the same seed and time always give the same value, no matter which other
// times are sampled or in which order, so every scrape interval, phase and
// query window sees one consistent fleet. Noise is that of gauges averaged
// over a sample period: small, independent from one sample to the next.
type Profile struct {
	// Name is a short stable identifier ("steady-miner", "bursty-training", ...).
	Name string
	util func(seed uint64, t time.Time) float64
	// signals models every other metric at t, given the utilization at t,
	// so that the profiling signals follow the utilization (a training dip
	// empties the tensor pipe too). Nil behaves as Idle.
	signals func(seed uint64, t time.Time, util float64) activity
	// prof, when set, rewrites the activity signals produced: how a
	// telemetry fault (ProfilerZeros, ProfilerFrozen) changes what the
	// profiling module reports. Nil leaves it as it is.
	prof func(seed uint64, t time.Time, a activity) activity
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

// Value returns metric (one of AllMetrics) at t for a GPU seeded with seed,
// in dcgm-exporter's units; false for a metric the fleet does not simulate.
// DCGM_FI_DEV_GPU_UTIL is At(seed, t) exactly. Like At, it depends only on
// (seed, t). The zero Profile behaves as Idle.
//
// The values are those of a whole, unshared A100 whose NVLink peers (if the
// profile uses NVLink) are busy too: the series FleetSeries builds zero the
// NVLink traffic of a GPU with no peer in its pod, and, on a MIG instance,
// scale PCIe traffic to the instance's slices and report the whole board's
// power.
func (p Profile) Value(metric string, seed uint64, t time.Time) (float64, bool) {
	if metric == MetricGPUUtil {
		return p.At(seed, t), true
	}
	if !slices.Contains(profilingMetrics, metric) {
		return 0, false
	}
	return p.activity(seed, t).get(metric)
}

// activity is everything p reports at t, before rounding.
func (p Profile) activity(seed uint64, t time.Time) activity {
	util := p.At(seed, t)
	var a activity
	if p.signals == nil {
		a = idleSignals(seed, t, util)
	} else {
		a = p.signals(seed, t, util)
	}
	a.util = util
	if p.prof != nil {
		a = p.prof(seed, t, a)
	}
	return a
}

// SteadyMiner mimics a GPU cryptocurrency miner (ethminer, T-Rex, lolMiner,
// xmrig's CUDA backend): the hashing kernels are relaunched back to back, so
// nvidia-smi and DCGM report 100 % utilization with only an occasional 99 or
// 98 when the miner fetches new work from the pool. This is exactly what the
// old `mean > 95 && stddev < 2` rule was written for: mean ≈ 99.8, stddev ≈ 0.5.
//
// Profiling signals model a compute-bound hash (SHA-256d, Blake3,
// kHeavyHash): integer and bitwise work keeps every SM busy (SM_ACTIVE
// 0.95-1.0) but never touches the tensor or floating-point pipes (tensor 0,
// FP32 a few thousandths for address arithmetic, FP16/FP64 0), the hash state
// lives in registers and shared memory (DRAM_ACTIVE 0.1-0.3), and the host
// only hands out jobs and collects shares (PCIe a few tens of KB/s, no
// NVLink). Power sits flat at 375-395 W, just under the A100 SXM4's 400 W
// TDP (NVIDIA A100 datasheet), ±1.5 W. The hash is integer work, so the
// integer pipe (PIPE_INT_ACTIVE, reported on Hopper) reads 0.92-0.98 × load,
// and the tensor subtypes (IMMA, HMMA, DFMA) are 0. Field meanings: NVIDIA
// DCGM documentation, profiling metrics.
func SteadyMiner() Profile {
	return Profile{Name: "steady-miner", util: saturated(1, 0.03, 0.15), signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 101)
		smEff, dram, watts := uniform(shape, 0.965, 0.99), uniform(shape, 0.15, 0.25), uniform(shape, 375, 395)
		a := minerSignals(seed, t, util, smEff, dram, watts, sampleRand(seed, t, 101))
		a.intp = intPipe(a, seed, t, 301, util/100, smEff*uniform(shapeRand(seed, 301), 0.95, 0.99))
		return a
	}}
}

// ThrottledMiner mimics a miner that caps its own intensity to dodge a
// `mean > 95` rule: miners expose intensity settings (T-Rex and NBMiner
// `--intensity`, duty-cycled launches), and DCGM's utilization, being the
// share of each sample period with a kernel running, then sits flat at the
// chosen level instead of at 100. Values stay within level±1 (stddev ≈ 0.45):
// as flat as an unthrottled miner, only lower.
//
// Profiling signals are SteadyMiner's, duty-cycled: SM_ACTIVE ≈ level/100
// (an SM is either hashing or has no warp), pipes below 0.01, tensor 0,
// DRAM_ACTIVE 0.1-0.3 × level/100, PCIe a few tens of KB/s, no NVLink, and a
// flat power of idle + (375-395 W − idle) × level/100 (≈ 320 W at 80 %);
// the integer pipe 0.92-0.98 × level/100, the tensor subtypes 0.
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
	}, signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 101)
		smEff, dram, watts := uniform(shape, 0.97, 0.99), uniform(shape, 0.15, 0.25), uniform(shape, 375, 395)
		a := minerSignals(seed, t, util, smEff, dram, watts, sampleRand(seed, t, 102))
		a.intp = intPipe(a, seed, t, 302, util/100, smEff*uniform(shapeRand(seed, 302), 0.95, 0.99))
		return a
	}}
}

// MemoryHardMiner mimics a miner of a memory-hard proof of work (Ethash and
// Etchash, KawPoW/ProgPoW, Autolykos v2): every hash reads pseudo-random
// pages of a multi-gigabyte dataset (the Ethash "DAG"), so the kernels run
// back to back like SteadyMiner's (utilization 98-100 %) but wait on memory:
// DRAM_ACTIVE 0.85-0.95, SM_ACTIVE 0.5-0.7 (warps resident, mostly stalled),
// tensor 0 and the FP pipes below 0.01 (Keccak and FNV are integer work),
// PCIe a few tens of KB/s, no NVLink. Miners run such algorithms with the
// core clock lowered, so power is flat at 250-290 W, well under the 400 W
// TDP. The integer pipe reads 0.3-0.45 × load (the hash work between
// memory stalls), the tensor subtypes 0. Sources: the Ethash and ProgPoW specifications (memory-hardness by
// design), NVIDIA DCGM documentation (field meanings), NVIDIA A100
// datasheet (TDP).
func MemoryHardMiner() Profile {
	return Profile{Name: "memory-hard-miner", util: saturated(5, 0.03, 0.15), signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 105)
		smEff, dram, watts := uniform(shape, 0.54, 0.66), uniform(shape, 0.87, 0.92), uniform(shape, 250, 290)
		a := minerSignals(seed, t, util, smEff, dram, watts, sampleRand(seed, t, 105))
		a.intp = intPipe(a, seed, t, 305, util/100, uniform(shapeRand(seed, 305), 0.3, 0.45))
		return a
	}}
}

// minerSignals is a hashing kernel relaunched back to back: SM_ACTIVE is
// smEff × load, DRAM_ACTIVE dram × load, the pipes idle but for a trace of
// FP32 address arithmetic, the host link carries only pool jobs and shares,
// and power is flat at watts × load over idle.
func minerSignals(seed uint64, t time.Time, util, smEff, dram, watts float64, r *rand.Rand) activity {
	load := util / 100
	a := activity{gr: engineActive(util, r)}
	a.sm = math.Min(a.gr, smEff*load+0.004*r.NormFloat64())
	a.fp32 = load * uniform(r, 0.001, 0.005)
	a.dram = dram*load + 0.008*r.NormFloat64()
	a.pcieTx, a.pcieRx = uniform(r, 5e3, 30e3), uniform(r, 10e3, 60e3)
	idle := idleWatts(seed)
	a.power = idle + (watts-idle)*load + 1.5*r.NormFloat64()
	return a
}

// FlatTraining mimics large-model pretraining or fine-tuning (Megatron-LM,
// DeepSpeed, FSDP) with asynchronous checkpoints and no evaluation pauses:
// the step loop keeps a kernel on the GPU at every instant, so utilization
// holds a flat 98-100 % for hours (mean ≈ 99.4, stddev ≈ 0.7). That is the
// old `mean > 95 && stddev < 2` rule's false positive: on utilization alone
// it is indistinguishable from SteadyMiner.
//
// The profiling signals tell it apart. Mixed-precision matrix multiplies run
// on the tensor cores (PIPE_TENSOR_ACTIVE 0.3-0.5: Megatron-LM, Narayanan
// et al. 2021, reports about half of the A100's 312 TFLOPS dense FP16/BF16
// peak for large models, and smaller jobs reach less),
// with FP16 0.05-0.2 and FP32 0.05-0.12 for element-wise work and the
// optimizer; SM_ACTIVE 0.8-0.95 (kernel tails and communication leave SMs
// empty), DRAM_ACTIVE 0.3-0.6 (activations and weights stream from HBM).
// The data loader feeds input batches over PCIe (RX 40-150 MB/s, with a
// 15-45 s prefetch of the next shard at 300-600 MB/s every 2-5 minutes), and
// an asynchronous checkpoint copies the weights to host memory every 30
// minutes (TX 2-4 GB/s for 30 s, well under PCIe 4.0 x16's ~25 GB/s). On a
// multi-GPU pod the gradient all-reduce keeps NVLink at 4-10 GB/s each way
// (a fraction of A100 NVLink 3's 300 GB/s per direction). Power is high,
// 330-370 W, with an 8-15 W wobble at the step cadence. The step and
// gradient-accumulation cadence (40-110 s, beating against the scrape
// interval) also moves the tensor, SM and DRAM ratios a little. The tensor
// work is all HMMA (PIPE_TENSOR_HMMA_ACTIVE = PIPE_TENSOR_ACTIVE, IMMA and
// DFMA 0), and the integer pipe reads 0.08-0.15 × load (indexing, masks,
// the data loader's kernels). Sources:
// NVIDIA DCGM documentation (field meanings), NVIDIA A100 datasheet (TDP,
// NVLink and PCIe bandwidth), the PyTorch DDP/FSDP documentation (gradient
// all-reduce every step).
func FlatTraining() Profile {
	return Profile{Name: "flat-training", util: saturated(6, 0.12, 0.45), signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 106)
		m := trainingMix{
			tensor: uniform(shape, 0.33, 0.5), fp16: uniform(shape, 0.08, 0.15), fp32: uniform(shape, 0.06, 0.12),
			sm: uniform(shape, 0.85, 0.91), dram: uniform(shape, 0.38, 0.5),
			inputRx: uniform(shape, 40e6, 150e6), nvlink: uniform(shape, 4e9, 10e9),
			watts: uniform(shape, 330, 370), wobble: uniform(shape, 8, 15),
			cadence: time.Duration(uniform(shape, 40, 110) * float64(time.Second)), cadencePhase: shape.Float64(),
		}
		r := sampleRand(seed, t, 106)
		a := m.step(seed, t, util, util/100, r)
		// Input shards: every 2-5 minutes the loader prefetches the next one.
		shardEvery := time.Duration(120+shape.IntN(181)) * time.Second
		shardFor := time.Duration(15+shape.IntN(31)) * time.Second
		if cyclePos(t, shardEvery, time.Duration(shape.Int64N(int64(shardEvery)))) < shardFor {
			a.pcieRx += uniform(r, 300e6, 600e6)
		}
		// Asynchronous checkpoint to host memory every 30 minutes.
		if cyclePos(t, 30*time.Minute, time.Duration(shape.Int64N(int64(30*time.Minute)))) < 30*time.Second {
			a.pcieTx += uniform(r, 2e9, 4e9)
		}
		return a
	}}
}

// trainingMix is one GPU's steady-state training step, fixed by its seed.
type trainingMix struct {
	tensor, fp16, fp32, sm, dram float64 // ratios at full load
	inputRx, nvlink              float64 // bytes per second at full load
	watts, wobble                float64 // power at full load and its step wobble
	cadence                      time.Duration
	cadencePhase                 float64
}

// step is the activity of a training step at utilization util, load being
// its share of a full step's work.
func (m trainingMix) step(seed uint64, t time.Time, util, load float64, r *rand.Rand) activity {
	w := math.Sin(2 * math.Pi * (float64(t.UnixNano())/float64(m.cadence) + m.cadencePhase))
	a := activity{gr: engineActive(util, r)}
	a.sm = math.Min(a.gr, (m.sm+0.015*w+0.008*r.NormFloat64())*load)
	a.tensor = (m.tensor + 0.03*w + 0.01*r.NormFloat64()) * load
	a.fp16 = (m.fp16 + 0.01*w + 0.005*r.NormFloat64()) * load
	a.fp32 = (m.fp32 + 0.004*r.NormFloat64()) * load
	a.fp64 = 0.0002 * load * r.Float64()
	a.dram = (m.dram + 0.03*w + 0.01*r.NormFloat64()) * load
	a.pcieRx = m.inputRx * load * (1 + 0.15*r.NormFloat64())
	a.pcieTx = uniform(r, 2e6, 10e6) // losses, metrics, NCCL bookkeeping
	a.nvlinkTx = m.nvlink * load * (1 + 0.1*w + 0.03*r.NormFloat64())
	a.nvlinkRx = m.nvlink * load * (1 + 0.1*w + 0.03*r.NormFloat64())
	idle := idleWatts(seed)
	a.power = idle + (m.watts-idle)*load + m.wobble*w + 3*r.NormFloat64()
	a.hmma = a.tensor // FP16/BF16 matrix multiplies: no int8, no FP64 on the tensor cores
	a.intp = intPipe(a, seed, t, 306, load, uniform(shapeRand(seed, 306), 0.08, 0.15))
	return a
}

// BurstyTraining mimics a deep-learning training job (PyTorch/DeepSpeed):
// long stretches of training steps at 85-100 % with the odd input-pipeline
// stall, interrupted every 6-10 minutes by an evaluation or checkpoint phase
// of 45-90 seconds where the GPU waits on the CPU, the disk or the network and
// drops to 0-30 %. Over an hour: mean ≈ 70-85, stddev 20-35. A 10 s
// nvidia-smi sample inside a training stretch looks "flat and high", which is
// why the old detector's short window mistook training for mining.
//
// Profiling signals: during steps, FlatTraining's mix at a smaller model's
// intensity (tensor 0.28-0.42 at full step load, scaled by utilization, so
// 0.2-0.5; SM 0.8-0.9; DRAM 0.3-0.5; input batches at 30-120 MB/s over PCIe;
// all-reduce at 3-8 GB/s over NVLink; 300-350 W with a step wobble). In a
// dip the tensor pipe empties (below 0.01), SM_ACTIVE and DRAM follow the
// low utilization, NVLink falls to a trickle, power to idle + 30-70 W, and
// the host link carries either a checkpoint (TX 1-3 GB/s) or the
// evaluation set (RX 100-300 MB/s), chosen per cycle. HMMA is the tensor
// pipe and the integer pipe 0.08-0.15 × load, as for FlatTraining. Sources
// as for FlatTraining.
func BurstyTraining() Profile {
	return Profile{Name: "bursty-training", util: func(seed uint64, t time.Time) float64 {
		r := sampleRand(seed, t, 3)
		if inBurstyDip(seed, t) { // evaluation / checkpoint
			return float64(r.IntN(31))
		}
		if r.Float64() < 0.05 { // input-pipeline stall
			return float64(40 + r.IntN(31))
		}
		return math.Round(clamp(93+4*r.NormFloat64(), 0, 100))
	}, signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 103)
		m := trainingMix{
			tensor: uniform(shape, 0.28, 0.42), fp16: uniform(shape, 0.06, 0.12), fp32: uniform(shape, 0.05, 0.1),
			sm: uniform(shape, 0.84, 0.9), dram: uniform(shape, 0.32, 0.48),
			inputRx: uniform(shape, 30e6, 120e6), nvlink: uniform(shape, 3e9, 8e9),
			watts: uniform(shape, 300, 350), wobble: uniform(shape, 5, 12),
			cadence: time.Duration(uniform(shape, 30, 90) * float64(time.Second)), cadencePhase: shape.Float64(),
		}
		r := sampleRand(seed, t, 103)
		if !inBurstyDip(seed, t) {
			return m.step(seed, t, util, util/93, r)
		}
		load := util / 100
		a := activity{gr: engineActive(util, r)}
		a.sm = math.Min(a.gr, load*uniform(r, 0.5, 0.8))
		a.tensor = 0.008 * load * r.Float64()
		a.fp32 = 0.03 * load * r.Float64()
		a.dram = load * uniform(r, 0.1, 0.3)
		a.nvlinkTx, a.nvlinkRx = uniform(r, 1e6, 50e6), uniform(r, 1e6, 50e6)
		a.power = idleWatts(seed) + uniform(r, 30, 70)
		a.hmma = a.tensor
		a.intp = intPipe(a, seed, t, 306, load, uniform(shapeRand(seed, 306), 0.08, 0.15))
		period, _, phase := burstyCycle(seed)
		cycle := (t.UnixNano() + int64(phase)) / int64(period)
		if shapeRand(seed^mix(uint64(cycle)), 107).IntN(2) == 0 { // checkpoint
			a.pcieTx, a.pcieRx = uniform(r, 1e9, 3e9), uniform(r, 1e6, 5e6)
		} else { // evaluation
			a.pcieTx, a.pcieRx = uniform(r, 1e6, 5e6), uniform(r, 100e6, 300e6)
		}
		return a
	}}
}

// burstyCycle is a BurstyTraining GPU's cycle shape, fixed by the seed: a
// 6-10 minute period ending in a 45-90 s dip, at a per-GPU phase.
func burstyCycle(seed uint64) (period, dip, phase time.Duration) {
	shape := rand.New(rand.NewPCG(mix(seed), 3))
	period = time.Duration(6*60+shape.IntN(4*60+1)) * time.Second // 6..10 min
	dip = time.Duration(45+shape.IntN(46)) * time.Second          // 45..90 s
	phase = time.Duration(shape.Int64N(int64(period)))
	return period, dip, phase
}

// inBurstyDip reports whether t falls in an evaluation/checkpoint dip.
func inBurstyDip(seed uint64, t time.Time) bool {
	period, dip, phase := burstyCycle(seed)
	return cyclePos(t, period, phase) >= period-dip
}

// cyclePos is where t falls in a cycle of period shifted by phase: 0..period.
func cyclePos(t time.Time, period, phase time.Duration) time.Duration {
	pos := time.Duration((t.UnixNano() + int64(phase)) % int64(period))
	if pos < 0 {
		pos += period
	}
	return pos
}

// Inference mimics a model-serving pod (Triton, vLLM, a Stable Diffusion
// API): utilization follows request traffic, a diurnal curve peaking in the
// afternoon (UTC) modulated by minute-to-minute bursts, always between 10
// and 60 %: serving is sized to keep headroom for peaks.
//
// Profiling signals follow the same load (0 at 10 %, 1 at 60 %): the
// tensor pipe at 0.05-0.3 (batched matrix multiplies, small batches at low
// load), FP16 0.02-0.1, FP32 0.02-0.06, DRAM_ACTIVE 0.1-0.45 (decoding
// streams the weights from HBM), SM_ACTIVE 0.85-0.95 × utilization. Requests
// come in over PCIe (RX 5-80 MB/s: prompts, images, tensors) and responses go
// out (TX 2-40 MB/s), both with ±20 % noise; a single-GPU server uses no
// NVLink. Power: idle + 40-230 W with load, ±4 W. HMMA is the tensor pipe
// (FP16 serving, IMMA and DFMA 0), the integer pipe 0.08-0.15 ×
// utilization/100. Sources: NVIDIA DCGM
// documentation (field meanings), NVIDIA A100 datasheet (TDP), Triton's
// dynamic batching documentation (batch size, and with it tensor-core
// occupancy, grows with load).
func Inference() Profile {
	return Profile{Name: "inference", util: func(seed uint64, t time.Time) float64 {
		hour := float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60
		diurnal := 0.5 - 0.5*math.Cos(2*math.Pi*(hour-4)/24) // 0 at 04:00, 1 at 16:00
		burst := rand.New(rand.NewPCG(mix(seed), uint64(t.Unix()/60))).Float64()
		noise := sampleRand(seed, t, 4).NormFloat64() * 0.05
		load := clamp(0.6*diurnal+0.4*burst+noise, 0, 1)
		return math.Round(10 + 50*load)
	}, signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 104)
		tensorScale, smEff := uniform(shape, 0.85, 1), uniform(shape, 0.85, 0.95)
		r := sampleRand(seed, t, 104)
		load := clamp((util-10)/50, 0, 1)
		a := activity{gr: engineActive(util, r)}
		a.sm = math.Min(a.gr, util/100*smEff+0.01*r.NormFloat64())
		a.tensor = clamp(0.05+0.25*load*tensorScale+0.008*r.NormFloat64(), 0.05, 0.3)
		a.fp16 = 0.02 + 0.08*load + 0.004*r.NormFloat64()
		a.fp32 = 0.02 + 0.04*load + 0.003*r.NormFloat64()
		a.dram = 0.1 + 0.35*load + 0.01*r.NormFloat64()
		a.pcieRx = (5e6 + 75e6*load) * (1 + 0.2*r.NormFloat64())
		a.pcieTx = (2e6 + 38e6*load) * (1 + 0.2*r.NormFloat64())
		a.power = idleWatts(seed) + 40 + 190*load + 4*r.NormFloat64()
		a.hmma = a.tensor
		a.intp = intPipe(a, seed, t, 304, util/100, uniform(shapeRand(seed, 304), 0.08, 0.15))
		return a
	}}
}

// Idle mimics a GPU with nothing running on it (allocated but unused, or not
// allocated at all): DCGM reports 0 utilization and 0 on every activity
// ratio, the driver's and DCGM's own polling moves a few KB/s over PCIe, and
// the board draws its idle power, 52-60 W (the range nvidia-smi commonly
// shows for an idle A100 SXM4 with persistence mode on; an assumption, not a
// datasheet figure), ±0.8 W.
func Idle() Profile {
	return Profile{Name: "idle", util: func(uint64, time.Time) float64 { return 0 }, signals: idleSignals}
}

func idleSignals(seed uint64, t time.Time, util float64) activity {
	r := sampleRand(seed, t, 100)
	a := activity{gr: engineActive(util, r)}
	a.pcieTx, a.pcieRx = uniform(r, 1e3, 4e3), uniform(r, 1e3, 6e3)
	a.power = idleWatts(seed) + 0.8*r.NormFloat64()
	return a
}

// saturated is a utilization pinned at 100 %, at 98 with probability p98
// and 99 with probability p99-p98 (stream keeps profiles independent).
func saturated(stream uint64, p98, p99 float64) func(uint64, time.Time) float64 {
	return func(seed uint64, t time.Time) float64 {
		switch r := sampleRand(seed, t, stream).Float64(); {
		case r < p98:
			return 98
		case r < p99:
			return 99
		default:
			return 100
		}
	}
}

// engineActive is DCGM_FI_PROF_GR_ENGINE_ACTIVE for a utilization: both
// measure the share of time a kernel ran, the ratio with a little more
// resolution.
func engineActive(util float64, r *rand.Rand) float64 {
	if util <= 0 {
		return 0
	}
	return clamp(util/100+0.003*r.NormFloat64(), 0, 1)
}

// idleWatts is a GPU's idle board power, fixed by its seed: 52-60 W.
func idleWatts(seed uint64) float64 { return uniform(shapeRand(seed, 50), 52, 60) }

// shapeRand returns a generator that depends only on (seed, stream): the
// per-GPU constants of a profile.
func shapeRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(mix(seed), mix(stream))) }

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

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

// intPipe is DCGM_FI_PROF_PIPE_INT_ACTIVE for a kernel whose integer work
// keeps the integer pipe busy share of its cycles at full load: share × load
// with a little noise, drawn from its own stream (so that the other fields
// of existing profiles keep their values), never above SM_ACTIVE and 0 when
// nothing runs.
func intPipe(a activity, seed uint64, t time.Time, stream uint64, load, share float64) float64 {
	if load <= 0 || a.sm <= 0 {
		return 0
	}
	v := share*load + 0.004*sampleRand(seed, t, stream).NormFloat64()
	return clamp(v, 0, a.sm)
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// FP32HPC mimics a GPU-resident single-precision simulation (molecular
// dynamics such as GROMACS or LAMMPS, CFD, SGEMM-heavy solvers with TF32
// off): the step loop keeps a kernel on the GPU at every instant, so
// utilization is as flat at 98-100 % as a miner's, and the tensor pipe is as
// idle as a miner's. Only the FP32 pipe tells them apart, and the GPU
// Operator's default counters do not export it.
//
// Measured on an NVIDIA H200 (analyzer/testdata/h200-telemetry.csv): an FP32
// matrix loop held the FP32 pipe at 0.76, the tensor pipe at 0.000, DRAM at
// 0.05, SM activity at 0.97 and PCIe at about 2 MB/s out and 4 MB/s in with
// no data copied, at 97 % of the board's power limit. Simulation codes mix
// in memory-bound kernels and write output: FP32 0.35-0.75, DRAM 0.1-0.4,
// FP64 a trace, PCIe 2-8 MB/s out and 3-10 MB/s in plus a trajectory frame
// (TX 100-300 MB/s for 10 s) every 1-3 minutes, power 88-97 % of TDP, the
// integer pipe 0.05-0.1 × load, the tensor subtypes 0.
func FP32HPC() Profile {
	return Profile{Name: "fp32-hpc", util: saturated(7, 0.03, 0.15), signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 108)
		fp32, dram, sm := uniform(shape, 0.35, 0.75), uniform(shape, 0.1, 0.4), uniform(shape, 0.9, 0.97)
		watts := tdpWatts * uniform(shape, 0.88, 0.97)
		frameEvery := time.Duration(60+shape.IntN(121)) * time.Second
		r := sampleRand(seed, t, 108)
		load := util / 100
		a := activity{gr: engineActive(util, r)}
		a.sm = math.Min(a.gr, sm*load+0.005*r.NormFloat64())
		a.fp32 = (fp32 + 0.01*r.NormFloat64()) * load
		a.fp64 = 0.0005 * load * r.Float64()
		a.dram = (dram + 0.01*r.NormFloat64()) * load
		a.pcieTx, a.pcieRx = uniform(r, 2e6, 8e6), uniform(r, 3e6, 10e6)
		if cyclePos(t, frameEvery, time.Duration(shape.Int64N(int64(frameEvery)))) < 10*time.Second {
			a.pcieTx += uniform(r, 100e6, 300e6)
		}
		idle := idleWatts(seed)
		a.power = idle + (watts-idle)*load + 3*r.NormFloat64()
		a.intp = intPipe(a, seed, t, 308, load, uniform(shapeRand(seed, 308), 0.05, 0.1))
		return a
	}}
}

// FP64HPC mimics a double-precision stencil or sparse solver (climate,
// lattice QCD, finite elements): flat 98-100 % utilization, the FP64 pipe at
// 0.3-0.6, memory-bound (DRAM 0.5-0.8), FP32 0.02-0.05 for index and
// conversion work, the tensor pipe idle (no dense FP64 matrix products,
// which run on the tensor cores' DMMA path on A100 and H100), PCIe as
// FP32HPC. Power 85-95 % of TDP. The integer pipe reads 0.05-0.1 × load,
// the tensor subtypes (DFMA included) 0.
func FP64HPC() Profile {
	return Profile{Name: "fp64-hpc", util: saturated(8, 0.03, 0.15), signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 109)
		fp64, dram, sm := uniform(shape, 0.3, 0.6), uniform(shape, 0.5, 0.8), uniform(shape, 0.88, 0.96)
		fp32 := uniform(shape, 0.02, 0.05)
		watts := tdpWatts * uniform(shape, 0.85, 0.95)
		r := sampleRand(seed, t, 109)
		load := util / 100
		a := activity{gr: engineActive(util, r)}
		a.sm = math.Min(a.gr, sm*load+0.005*r.NormFloat64())
		a.fp64 = (fp64 + 0.01*r.NormFloat64()) * load
		a.fp32 = (fp32 + 0.002*r.NormFloat64()) * load
		a.dram = (dram + 0.01*r.NormFloat64()) * load
		a.pcieTx, a.pcieRx = uniform(r, 2e6, 8e6), uniform(r, 3e6, 10e6)
		idle := idleWatts(seed)
		a.power = idle + (watts-idle)*load + 3*r.NormFloat64()
		a.intp = intPipe(a, seed, t, 309, load, uniform(shapeRand(seed, 309), 0.05, 0.1))
		return a
	}}
}
