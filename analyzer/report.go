package analyzer

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Report is the outcome of one evaluation of the fleet.
type Report struct {
	End    time.Time
	Window time.Duration
	Chunk  time.Duration
	// ScrapeInterval is the sample spacing coverage was computed with;
	// ScrapeIntervalSource says whether it was "configured" or "detected".
	ScrapeInterval       time.Duration
	ScrapeIntervalSource string
	Pods                 []PodReport
	// UnattributedGPUs are GPUs (or stretches of them) with no workload pod:
	// idle, or used outside any pod. They are never reported as pods.
	UnattributedGPUs []GPUReport
	// Inventory is what the window's signals let the detector decide.
	Inventory Inventory
}

// PodReport is one pod's verdict with its evidence.
type PodReport struct {
	PodKey
	Node    string      `json:"node"`
	Verdict Verdict     `json:"verdict"`
	Shared  bool        `json:"shared"`
	GPUs    []GPUReport `json:"gpus"`
	// Evidence explains the verdict so a human can check it.
	Evidence Evidence `json:"evidence"`
}

// Stats are one GPU's statistics over the window (for one pod, when the GPU
// changed hands during the window).
type Stats struct {
	Moments
	BadSamples      int64
	ExpectedSamples int64
	Coverage        float64
	// Curve is the per-chunk mean, oldest first, chunks without samples left
	// out; built for the GPUs of findings only (every GPU of a pod that is
	// not benign, busy GPUs without a pod).
	Curve []ChunkMean
	// FirstChunkEnd is the end of the first chunk holding a valid sample.
	FirstChunkEnd time.Time
}

// ChunkMean is one point of the evidence curve.
type ChunkMean struct {
	End     time.Time `json:"end"`
	Mean    float64   `json:"mean"`
	Samples int64     `json:"samples"`
}

// GPUReport is one GPU's numbers and verdict for one pod (or unattributed).
type GPUReport struct {
	GPU
	Container string
	Stats
	Verdict Verdict
	Rule    string
	Reason  string
	// Profiling says whether dcgm's profiling metrics were there to judge
	// with; without them only the utilization rule applies.
	Profiling bool
	// Signals are the profiling signals' numbers over the window, in the
	// units their role is judged in (ratios; bytes per second).
	Signals Profile
	// SignalsUsed are the covered signals the roles were read from;
	// SignalsAbsent the preferred ones that were not there.
	SignalsUsed, SignalsAbsent []Signal
	// Span, when set, is the young pod's own life the GPU was judged over
	// (from its first sample to the window's end) instead of the window.
	Span time.Duration
	// Owner, when set, is the owner's window the GPU was judged on (a young
	// pod of an owner already judged a miner).
	Owner *OwnerEvidence
	// Strength grades a miner verdict's evidence (empty otherwise), and
	// StrengthReason says why.
	Strength       Strength
	StrengthReason string
	// Active is the share of the judged span a kernel ran (mean
	// utilization / 100): profiling ratios are judged per active time.
	Active float64
	// Board is what the GPU's model lets its profiler report.
	Board Board
	// Segments are the parts of the window the GPU was judged on again
	// when the window as a whole spared it, when one of them mined.
	Segments []SegmentFinding
	// Disagreement, when set, is two series of the GPU that report
	// different values for one chunk: the verdict is never enforceable.
	Disagreement *Disagreement
	// ProfilerFault, when set, says why the GPU's profiling fields were not
	// believed (zeros or a frozen reading on a busy GPU): it was judged on
	// utilization alone, never on strong evidence.
	ProfilerFault string
	// Shared is set when other pods used this GPU at the same time
	// (time-slicing); SharedWith names them.
	Shared     bool
	SharedWith []PodKey
}

// Evidence is what a human needs to check a pod's verdict.
type Evidence struct {
	Rule       string     `json:"rule"`
	Thresholds Thresholds `json:"thresholds"`
	// Reason is the deciding GPU's explanation.
	Reason     string  `json:"reason"`
	WindowSecs float64 `json:"window_seconds"`
	// SpanSecs, when set, is the young pod's own life the deciding GPU was
	// judged over, on strong evidence, instead of the whole window.
	SpanSecs float64 `json:"span_seconds,omitempty"`
	// Owner, when set, is the owner's window the verdict rests on: a young
	// pod of an owner (Deployment, Job, ...) already judged a miner.
	Owner                *OwnerEvidence `json:"owner,omitempty"`
	WindowEnd            time.Time      `json:"window_end"`
	ScrapeIntervalSecs   float64        `json:"scrape_interval_seconds"`
	ScrapeIntervalSource string         `json:"scrape_interval_source"`
	ChunkSecs            float64        `json:"chunk_seconds"`
	// Profiling says whether the deciding GPU had a math pipe signal
	// covered; "false" means only the utilization rule could judge it.
	Profiling bool `json:"profiling"`
	// Strength grades a miner verdict's evidence: strong, corroborated
	// (both enforceable), partial or utilization_only (never deleted by
	// default); Enforceable says whether it may lead to a deletion.
	Strength       Strength `json:"strength,omitempty"`
	StrengthReason string   `json:"strength_reason,omitempty"`
	Enforceable    bool     `json:"enforceable"`
	// Disagreement, when set, is two series of the deciding GPU that
	// report different values for one chunk (two exporters, or a stale
	// twin): the verdict is never enforceable while they do.
	Disagreement *Disagreement `json:"disagreement,omitempty"`
	// ProfilerFault, when set, says why the deciding GPU's profiling fields
	// were not believed: judged on utilization alone.
	ProfilerFault string `json:"profiler_fault,omitempty"`
	// Segments are the deciding GPU's parts of the window, each judged on
	// its own, when the window as a whole spared it and a part mined.
	Segments []SegmentFinding `json:"segments,omitempty"`
	// Board is what the deciding GPU's model reports (which pipes strong
	// evidence was graded on).
	Board *Board `json:"board,omitempty"`
	// SignalsUsed are the deciding GPU's covered signals, by role;
	// SignalsAbsent the preferred signals that were not exported.
	SignalsUsed   []Signal `json:"signals_used"`
	SignalsAbsent []Signal `json:"signals_absent"`
	// Signals are the deciding GPU's profiling numbers.
	Signals Profile `json:"signals,omitempty"`
	// The thresholds of the rule beyond utilization that decided, if any.
	TrainingVeto     *TrainingVeto     `json:"training_veto,omitempty"`
	ComputeSignature *ComputeSignature `json:"compute_signature,omitempty"`
	PipeSaturation   *PipeSaturation   `json:"pipe_saturation,omitempty"`
	Curves           []GPUCurve        `json:"curves"`
}

// Thresholds are the numbers the verdict was judged against.
type Thresholds struct {
	MeanAbove   float64 `json:"mean_above"`
	StdDevBelow float64 `json:"stddev_below"`
	MinCoverage float64 `json:"min_coverage"`
}

// GPUCurve is one GPU's per-chunk mean utilization over the window.
type GPUCurve struct {
	GPU         string      `json:"gpu"`
	UUID        string      `json:"uuid"`
	MIGInstance string      `json:"mig_instance,omitempty"`
	ChunkMeans  []ChunkMean `json:"chunk_means"`
}

// MarshalJSON writes a curve point as [end (Unix seconds), mean (2
// decimals), samples]: curves are most of a fleet's JSON report, and the
// point is evidence for a reader, not an input to exact statistics (the
// GPU's mean and stddev are exact).
func (c ChunkMean) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32)
	b = append(b, '[')
	b = strconv.AppendInt(b, c.End.Unix(), 10)
	b = append(b, ',')
	if math.IsNaN(c.Mean) || math.IsInf(c.Mean, 0) {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, math.Round(c.Mean*100)/100, 'f', -1, 64)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, c.Samples, 10)
	return append(b, ']'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *ChunkMean) UnmarshalJSON(b []byte) error {
	var v [3]*float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("curve point %s: want [end, mean, samples]: %w", b, err)
	}
	if v[0] == nil || v[2] == nil {
		return fmt.Errorf("curve point %s: end and samples must be numbers", b)
	}
	c.End = time.Unix(int64(*v[0]), 0).UTC()
	c.Mean = math.NaN()
	if v[1] != nil {
		c.Mean = *v[1]
	}
	c.Samples = int64(*v[2])
	return nil
}
