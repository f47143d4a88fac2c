package analyzer

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the analyzer's thresholds. The zero value is not valid; start
// from DefaultConfig.
type Config struct {
	// FlatHighUtil is the old detector's rule, kept exact.
	FlatHighUtil FlatHighUtil
	// TrainingVeto spares flat-high-utilization GPUs whose math pipes are
	// busy; ComputeSignature catches miners below 95 %; both need dcgm's
	// profiling metrics and step aside, saying so, without them.
	TrainingVeto     TrainingVeto
	ComputeSignature ComputeSignature
	// PipeSaturation catches a GPU saturated on what proof of work scales
	// with (the integer pipe, int8 tensor cores, device memory), whatever
	// its utilization curve.
	PipeSaturation PipeSaturation
	// BusyWithoutPod judges GPUs no pod holds.
	BusyWithoutPod BusyWithoutPod
	// MinCoverage is the share of expected samples below which a GPU is
	// insufficient_data.
	MinCoverage float64
	// ScrapeInterval is the expected spacing of samples; zero means detect it
	// from the data.
	ScrapeInterval time.Duration
	// ValidMin and ValidMax bound a valid sample; values outside, NaN and
	// ±Inf are bad samples.
	ValidMin, ValidMax float64
	// MinSpanStrong is how much of its own life a young pod (first sample
	// inside the window) must have shown before it is judged over that span
	// instead of the window; only a miner verdict on strong evidence stands
	// there. Zero: young pods wait for the window's coverage.
	MinSpanStrong time.Duration
	// Owners maps pods to their owner (top controller, as "namespace/Kind/
	// name") for owners already judged a miner: the owner's pods judged
	// miners before (predecessors, still in the window's data) and its young
	// pods, not its other pods (a sibling replica that trains). A young
	// pod of such an owner is judged on the owner's window (every one of
	// those pods' samples, merged exactly) once its own samples span
	// MinOwnSpan and show the same verdict. Nil: every pod stands alone.
	Owners map[PodKey]string
	// MinOwnSpan is how long a young pod's own samples must span before it
	// is judged on its owner's evidence; zero turns owner evidence off.
	MinOwnSpan time.Duration
	// AllCurves builds the evidence curve of every GPU; by default only
	// findings get one (at fleet scale the curves of benign pods would be
	// most of a report's memory).
	AllCurves bool
}

// DefaultConfig is the old detector's rule with an 80 % coverage guard.
func DefaultConfig() Config {
	return Config{
		FlatHighUtil: FlatHighUtil{MeanAbove: 95, StdDevBelow: 2},
		// Large-model training reaches about half of the tensor cores' peak
		// (Megatron-LM, Narayanan et al. 2021); measured on an H200
		// (testdata/h200-telemetry.csv): bf16 LLM training 0.50 tensor,
		// with evaluation pauses 0.33, prefill inference 0.75, FP32 HPC 0.76
		// FP32 pipe, FP64 HPC 0.95 (DMMA); an integer SHA-256 kernel 0.000
		// on every pipe. 0.1 spares them all with a 3x margin and sits far
		// above hashing; between the idle bar (0.02) and it, a miner verdict
		// stands but its evidence is partial (never deleted by default).
		// Intensities are read while a kernel ran (ratio / active share).
		// A busy tensor pipe also needs device memory above 0.1 beside it:
		// 0.13-0.34 for the H200's ML and HPC kernels, 0.00 for hashing.
		TrainingVeto: TrainingVeto{PipeActiveAbove: 0.1, MemoryAbove: 0.1},
		ComputeSignature: ComputeSignature{
			BusyAbove: 0.5, BusyStdDevBelow: 0.1, PipeActiveBelow: 0.02,
			// 50 MB/s: PCIe counts protocol headers, so kernel launches
			// alone cost MB/s; measured on an H200, 2 MB/s for a
			// compute-bound hash, 20 MB/s for a memory-hard one.
			InterconnectBelow: 50e6,
			MinCoverage:       0.9,
			MinActive:         0.25,
		},
		// Integer pipe: 1.00 for the H200's SHA-256 kernel, 0.17 for bf16
		// LLM training (testdata/h200-telemetry.csv). Device memory 0.8
		// while active with idle float pipes: a DAG miner's signature.
		PipeSaturation: PipeSaturation{MinActive: 0.25, IntegerAbove: 0.6, IntegerOverFloat: 3,
			IMMAAbove: 0.5, FloatBelow: 0.05, MemoryAbove: 0.8, IdleBelow: 0.02},
		BusyWithoutPod: BusyWithoutPod{MeanAbove: 50},
		MinCoverage:    0.8,
		// Ten minutes of a new pod's life, every sample with idle tensor,
		// FP32 and FP64 pipes: with 2 strikes every 5 minutes, a miner is
		// deleted 15-20 minutes after it starts.
		MinSpanStrong: 10 * time.Minute,
		MinOwnSpan:    3 * time.Minute,
		ValidMin:      0,
		ValidMax:      100,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {

	switch {
	case c.MinCoverage <= 0 || c.MinCoverage > 1:
		return fmt.Errorf("minCoverage: must be in (0, 1], got %v", c.MinCoverage)
	case c.ScrapeInterval < 0:
		return fmt.Errorf("scrapeInterval: must not be negative, got %v", c.ScrapeInterval)
	case c.MinOwnSpan < 0:
		return fmt.Errorf("minOwnSpan: must not be negative, got %v", c.MinOwnSpan)
	case c.MinSpanStrong < 0:
		return fmt.Errorf("minSpanStrong: must not be negative, got %v", c.MinSpanStrong)
	case c.ValidMin >= c.ValidMax:
		return fmt.Errorf("valid range: min %v must be below max %v", c.ValidMin, c.ValidMax)
	}
	return errors.Join(c.FlatHighUtil.validate(), c.TrainingVeto.validate(), c.ComputeSignature.validate(), c.PipeSaturation.validate(), c.BusyWithoutPod.validate())
}
