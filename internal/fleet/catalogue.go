package fleet

import (
	"math"
	"math/rand/v2"
	"time"
)

// Legitimate workloads a detector must leave alone, chosen because each
// shares something with a miner: a flat high utilization, an idle FP16
// pipe, int8 tensor work, a busy integer pipe or a quiet host link. Ratios
// are those at full load and scale with load = utilization/100, as in the
// other profiles. Stream numbers: 451-499.

// SmallCNN mimics training a small convolutional network in FP32 with cuDNN
// (ResNet-18 on CIFAR-10 in PyTorch, AMP off): the kernels are short and the
// data loader (decoding and augmenting on the CPU) cannot keep up, so
// utilization wanders between 70 and 95 % (a per-GPU mean of 80-85, stddev
// ≈ 6 from one sample to the next). Per load: TF32 convolutions on the
// tensor cores give PIPE_TENSOR_ACTIVE = HMMA = 0.03-0.08 (small channel
// counts keep them far from peak), FP32 0.2-0.35 (batch norm, ReLU, the
// optimizer), FP16 0.01-0.03, the integer pipe 0.08-0.15 (im2col and
// address arithmetic), SM_ACTIVE 0.7-0.85, DRAM 0.3-0.5, PCIe RX 100-300
// MB/s (image batches) and TX 2-10 MB/s (losses, metrics), no NVLink, power
// idle + (60-75 % of TDP − idle) × load. A detector that looks for "tensor
// pipe busy" to spare training sees it barely above a token kernel's: the
// FP32 pipe and the input stream are what set it apart.
func SmallCNN() Profile {
	return Profile{Name: "small-cnn", util: func(seed uint64, t time.Time) float64 {
		base := uniform(shapeRand(seed, 451), 80, 85)
		return math.Round(clamp(base+6*sampleRand(seed, t, 451).NormFloat64(), 0, 100))
	}, signals: func(seed uint64, t time.Time, util float64) activity {
		return cnnSignals(seed, t, util, 452)
	}}
}

// cnnSignals is SmallCNN's activity at utilization util, with the per-GPU
// constants and noise of stream.
func cnnSignals(seed uint64, t time.Time, util float64, stream uint64) activity {
	shape := shapeRand(seed, stream)
	tensor, fp32, fp16 := uniform(shape, 0.03, 0.08), uniform(shape, 0.2, 0.35), uniform(shape, 0.01, 0.03)
	intp, sm, dram := uniform(shape, 0.08, 0.15), uniform(shape, 0.7, 0.85), uniform(shape, 0.3, 0.5)
	rx, tx := uniform(shape, 100e6, 300e6), uniform(shape, 2e6, 10e6)
	watts := tdpWatts * uniform(shape, 0.6, 0.75)
	r := sampleRand(seed, t, stream)
	load := util / 100
	a := activity{gr: engineActive(util, r)}
	if load <= 0 {
		a.pcieTx, a.pcieRx = uniform(r, 1e3, 4e3), uniform(r, 1e3, 6e3)
		a.power = idleWatts(seed) + 0.8*r.NormFloat64()
		return a
	}
	a.sm = math.Min(a.gr, (sm+0.01*r.NormFloat64())*load)
	a.hmma = clamp((tensor+0.004*r.NormFloat64())*load, 0, 1)
	a.tensor = a.hmma
	a.fp32 = (fp32 + 0.01*r.NormFloat64()) * load
	a.fp16 = (fp16 + 0.002*r.NormFloat64()) * load
	a.intp = clamp((intp+0.005*r.NormFloat64())*load, 0, a.sm)
	a.dram = (dram + 0.015*r.NormFloat64()) * load
	a.pcieRx = rx * load * (1 + 0.15*r.NormFloat64())
	a.pcieTx = tx * load * (1 + 0.15*r.NormFloat64())
	idle := idleWatts(seed)
	a.power = idle + (watts-idle)*load + 4*r.NormFloat64()
	return a
}

// GPU ETL phases.
const (
	etlScan  = iota // read and decode input: PCIe RX busy
	etlJoin         // join, sort, group-by: HBM busy
	etlWrite        // encode and write output: PCIe TX busy
	etlWait         // the host reads the next file or waits on the cluster
)

// GPUETL mimics a RAPIDS ETL job (cuDF, or Spark with the RAPIDS
// Accelerator) that keeps reading Parquet, joining and writing: a cycle of
// phases, each followed by a host wait of 10-40 s at 0-15 % utilization:
// a scan of 1-2.5 minutes (decode bursts at 60-100 % per sample, PCIe RX at
// 2-8 GB/s, the rate fixed per phase and not scaled by load, since the
// host link is what the phase waits on), a join/sort of 1-4 minutes
// (80-100 %), and an output write of 1-1.5 minutes (40-70 %, PCIe TX
// 0.5-2 GB/s). Cycles restart every 30 minutes (at a per-GPU phase). Over
// an hour: mean ≈ 65, stddev ≈ 30. Per load: the integer pipe 0.2-0.45
// (hashing, comparisons, string and dictionary decoding), FP32 0.03-0.08,
// FP64 0.01-0.03 (aggregates of doubles), the tensor pipe 0, DRAM 0.5-0.8
// (joins and sorts are memory-bound), SM_ACTIVE 0.6-0.85; outside its own
// phase PCIe carries 20-100 MB/s in and 5-30 MB/s out; no NVLink; power idle
// + (60-80 % of TDP − idle) × load. An integer-heavy, tensor-idle job like a
// miner's, told apart by its host traffic and its phases.
func GPUETL() Profile {
	return Profile{Name: "gpu-etl", util: func(seed uint64, t time.Time) float64 {
		kind, _ := etlPhase(seed, t)
		r := sampleRand(seed, t, 461)
		var v float64
		switch kind {
		case etlScan:
			v = uniform(r, 60, 100)
		case etlJoin:
			v = uniform(r, 80, 100)
		case etlWrite:
			v = uniform(r, 40, 70)
		default:
			v = uniform(r, 0, 15)
		}
		return math.Round(v)
	}, signals: func(seed uint64, t time.Time, util float64) activity {
		kind, seg := etlPhase(seed, t)
		shape := shapeRand(seed, 462)
		intp, fp32, fp64 := uniform(shape, 0.2, 0.45), uniform(shape, 0.03, 0.08), uniform(shape, 0.01, 0.03)
		dram, sm, watts := uniform(shape, 0.5, 0.8), uniform(shape, 0.6, 0.85), tdpWatts*uniform(shape, 0.6, 0.8)
		r := sampleRand(seed, t, 462)
		load := util / 100
		a := activity{gr: engineActive(util, r)}
		a.sm = math.Min(a.gr, (sm+0.01*r.NormFloat64())*load)
		a.intp = clamp((intp+0.01*r.NormFloat64())*load, 0, a.sm)
		a.fp32 = (fp32 + 0.003*r.NormFloat64()) * load
		a.fp64 = (fp64 + 0.001*r.NormFloat64()) * load
		a.dram = (dram + 0.02*r.NormFloat64()) * load
		a.pcieRx, a.pcieTx = uniform(r, 20e6, 100e6), uniform(r, 5e6, 30e6)
		switch kind {
		case etlScan:
			a.pcieRx = uniform(seg, 2e9, 8e9) * (1 + 0.05*r.NormFloat64())
		case etlWrite:
			a.pcieTx = uniform(seg, 0.5e9, 2e9) * (1 + 0.05*r.NormFloat64())
		case etlWait:
			a.pcieRx, a.pcieTx = uniform(r, 1e6, 10e6), uniform(r, 1e6, 5e6)
		}
		idle := idleWatts(seed)
		a.power = idle + (watts-idle)*load + 4*r.NormFloat64()
		return a
	}}
}

// etlPhase is GPUETL's phase at t and the generator of that phase's
// constants.
func etlPhase(seed uint64, t time.Time) (int, *rand.Rand) {
	return segmentAt(seed, 460, t, 30*time.Minute, func(r *rand.Rand, i int) (int, time.Duration) {
		switch i % 6 {
		case 0:
			return etlScan, seconds(uniform(r, 60, 150))
		case 2:
			return etlJoin, seconds(uniform(r, 60, 240))
		case 4:
			return etlWrite, seconds(uniform(r, 60, 90))
		default:
			return etlWait, seconds(uniform(r, 10, 40))
		}
	})
}

// Int8BatchInference mimics offline batch inference with a TensorRT int8
// engine (a quantized transformer scoring a large dataset): batches are
// queued deep, so utilization stays at 88-100 % (a per-GPU mean of 93-95,
// stddev ≈ 3-4: batch boundaries and host-side post-processing), not
// flat like a miner's. Per load: the int8 GEMMs on the tensor cores give
// IMMA 0.4-0.6, attention kept in FP16 HMMA 0.06-0.12, PIPE_TENSOR_ACTIVE
// their sum, FP16 0.06-0.15 (softmax, layer norm), FP32 0.03-0.08, the
// integer pipe 0.06-0.12 (quantize/dequantize, indexing), SM_ACTIVE
// 0.85-0.95, DRAM 0.3-0.5, PCIe RX 50-200 MB/s (input batches) and TX 10-50
// MB/s (results), no NVLink, power idle + (70-85 % of TDP − idle) × load.
// It shares Int8GEMMMiner's IMMA-heavy tensor pipe; the HMMA and FP16 work,
// the input stream and the unsteady utilization are not a miner's.
func Int8BatchInference() Profile {
	return Profile{Name: "int8-batch-inference", util: func(seed uint64, t time.Time) float64 {
		base := uniform(shapeRand(seed, 471), 93, 95)
		return math.Round(clamp(base+3.5*sampleRand(seed, t, 471).NormFloat64(), 86, 100))
	}, signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 472)
		imma, hmma, fp16 := uniform(shape, 0.4, 0.6), uniform(shape, 0.06, 0.12), uniform(shape, 0.06, 0.15)
		fp32, intp, sm := uniform(shape, 0.03, 0.08), uniform(shape, 0.06, 0.12), uniform(shape, 0.85, 0.95)
		dram, rx, tx := uniform(shape, 0.3, 0.5), uniform(shape, 50e6, 200e6), uniform(shape, 10e6, 50e6)
		watts := tdpWatts * uniform(shape, 0.7, 0.85)
		r := sampleRand(seed, t, 472)
		load := util / 100
		a := activity{gr: engineActive(util, r)}
		a.sm = math.Min(a.gr, (sm+0.008*r.NormFloat64())*load)
		a.imma = clamp((imma+0.015*r.NormFloat64())*load, 0, 1)
		a.hmma = clamp((hmma+0.005*r.NormFloat64())*load, 0, 1)
		a.tensor = a.imma + a.hmma
		a.fp16 = (fp16 + 0.005*r.NormFloat64()) * load
		a.fp32 = (fp32 + 0.003*r.NormFloat64()) * load
		a.intp = clamp((intp+0.004*r.NormFloat64())*load, 0, a.sm)
		a.dram = (dram + 0.015*r.NormFloat64()) * load
		a.pcieRx = rx * load * (1 + 0.15*r.NormFloat64())
		a.pcieTx = tx * load * (1 + 0.15*r.NormFloat64())
		idle := idleWatts(seed)
		a.power = idle + (watts-idle)*load + 4*r.NormFloat64()
		return a
	}}
}

// FP64MolecularDynamics mimics a GPU-resident molecular-dynamics code in
// double precision (AMBER's or GROMACS's FP64 builds, a DP force field):
// the whole step runs on the GPU, so utilization is flat at 98-100 % like a
// miner's, and the tensor pipe is idle (pair forces are FP64 FMAs, not
// matrix products: DFMA 0). Per load: FP64 0.35-0.55, FP32 0.02-0.05, the
// integer pipe 0.05-0.1 (neighbour lists), SM_ACTIVE 0.88-0.96, DRAM
// 0.3-0.5, PCIe 2-8 MB/s out and 3-10 MB/s in plus a trajectory frame (TX
// 100-300 MB/s for 10 s) every 1-3 minutes, no NVLink, power 85-95 % of TDP.
func FP64MolecularDynamics() Profile {
	return Profile{Name: "fp64-md", util: saturated(481, 0.03, 0.15), signals: func(seed uint64, t time.Time, util float64) activity {
		shape := shapeRand(seed, 482)
		fp64, fp32, intp := uniform(shape, 0.35, 0.55), uniform(shape, 0.02, 0.05), uniform(shape, 0.05, 0.1)
		sm, dram, watts := uniform(shape, 0.88, 0.96), uniform(shape, 0.3, 0.5), tdpWatts*uniform(shape, 0.85, 0.95)
		frameEvery := time.Duration(60+shape.IntN(121)) * time.Second
		framePhase := time.Duration(shape.Int64N(int64(frameEvery)))
		r := sampleRand(seed, t, 482)
		load := util / 100
		a := activity{gr: engineActive(util, r)}
		a.sm = math.Min(a.gr, sm*load+0.005*r.NormFloat64())
		a.fp64 = (fp64 + 0.01*r.NormFloat64()) * load
		a.fp32 = (fp32 + 0.002*r.NormFloat64()) * load
		a.intp = clamp((intp+0.003*r.NormFloat64())*load, 0, a.sm)
		a.dram = (dram + 0.01*r.NormFloat64()) * load
		a.pcieTx, a.pcieRx = uniform(r, 2e6, 8e6), uniform(r, 3e6, 10e6)
		if cyclePos(t, frameEvery, framePhase) < 10*time.Second {
			a.pcieTx += uniform(r, 100e6, 300e6)
		}
		idle := idleWatts(seed)
		a.power = idle + (watts-idle)*load + 3*r.NormFloat64()
		return a
	}}
}

// IdleNotebook mimics a Jupyter notebook holding a GPU it mostly does not
// use: Idle, but every 8-20 minutes the user runs a cell for 10-40 s, at a
// level of 30-100 % drawn per cell (±3 per sample), with SmallCNN's signals
// at that load (a few training steps of a small model). Over an hour: 3-7
// cells, a mean utilization of a few percent, and, at 15 s scrapes, the
// odd run of one to three busy samples.
func IdleNotebook() Profile {
	idle := Idle()
	return Profile{Name: "idle-notebook", util: func(seed uint64, t time.Time) float64 {
		busy, cell := notebookCell(seed, t)
		if !busy {
			return idle.At(seed, t)
		}
		level := uniform(cell, 30, 100)
		return math.Round(clamp(level+3*sampleRand(seed, t, 491).NormFloat64(), 1, 100))
	}, signals: func(seed uint64, t time.Time, util float64) activity {
		if busy, _ := notebookCell(seed, t); !busy {
			return idle.signals(seed, t, util)
		}
		return cnnSignals(seed, t, util, 492)
	}}
}

// notebookCell reports whether IdleNotebook runs a cell at t, and the
// generator of that cell's constants. Hours (at a per-GPU phase) are
// filled with alternating gaps of 8-20 minutes and cells of 10-40 s, so
// consecutive cells are always at least 8 minutes apart.
func notebookCell(seed uint64, t time.Time) (bool, *rand.Rand) {
	const cell = 1
	kind, seg := segmentAt(seed, 490, t, time.Hour, func(r *rand.Rand, i int) (int, time.Duration) {
		if i%2 == 0 {
			return 0, seconds(uniform(r, 8*60, 20*60))
		}
		return cell, seconds(uniform(r, 10, 40))
	})
	return kind == cell, seg
}

// segmentAt walks the block of length block (at a per-GPU phase) that
// holds t, a sequence of segments that next draws one after the other
// (the i-th segment's kind and duration, from the block's generator), and
// returns the kind of the segment at t with a generator of its own
// constants. Everything depends only on (seed, stream, t): the block's
// segments are redrawn the same way at every call. The last segment of a
// block is cut short where the next block starts.
func segmentAt(seed, stream uint64, t time.Time, block time.Duration, next func(r *rand.Rand, i int) (int, time.Duration)) (int, *rand.Rand) {
	phase := time.Duration(shapeRand(seed, stream).Int64N(int64(block)))
	n := floorDiv(t.UnixNano()+int64(phase), int64(block))
	pos := cyclePos(t, block, phase)
	r := slotRand(seed, stream, n)
	var at time.Duration
	for i := 0; ; i++ {
		kind, d := next(r, i)
		segSeed := r.Uint64()
		at += max(d, time.Second)
		if pos < at {
			return kind, rand.New(rand.NewPCG(segSeed, mix(stream)))
		}
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
