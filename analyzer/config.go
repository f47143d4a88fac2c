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
}

// DefaultConfig is the old detector's rule with an 80 % coverage guard.
func DefaultConfig() Config {
	return Config{
		FlatHighUtil: FlatHighUtil{MeanAbove: 95, StdDevBelow: 2},
		// Training keeps its tensor pipe at 0.2-0.6 (Megatron-LM reports
		// ~50 % of peak); hashing leaves every math pipe below 0.01.
		TrainingVeto: TrainingVeto{PipeActiveAbove: 0.05},
		ComputeSignature: ComputeSignature{
			BusyAbove: 0.5, BusyStdDevBelow: 0.1, PipeActiveBelow: 0.02,
			InterconnectBelow: 1e6, // 1 MB/s: a miner's pool traffic is kB/s
			MinCoverage:       0.9,
		},
		BusyWithoutPod: BusyWithoutPod{MeanAbove: 50},
		MinCoverage:    0.8,
		ValidMin:       0,
		ValidMax:       100,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MinCoverage <= 0 || c.MinCoverage > 1:
		return fmt.Errorf("minCoverage: must be in (0, 1], got %v", c.MinCoverage)
	case c.ScrapeInterval < 0:
		return fmt.Errorf("scrapeInterval: must not be negative, got %v", c.ScrapeInterval)
	case c.ValidMin >= c.ValidMax:
		return fmt.Errorf("valid range: min %v must be below max %v", c.ValidMin, c.ValidMax)
	}
	return errors.Join(c.FlatHighUtil.validate(), c.TrainingVeto.validate(), c.ComputeSignature.validate(), c.BusyWithoutPod.validate())
}
