package promquery

import (
	"errors"
	"fmt"
	"github.com/miner-detector/miner-detector/analyzer"
	"regexp"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Semantics is how the server's range selectors treat their left boundary.
type Semantics string

const (
	// SemanticsAuto probes the server once per cycle.
	SemanticsAuto Semantics = "auto"
	// LeftOpen is Prometheus 3.x: [r] at t selects (t-r, t].
	LeftOpen Semantics = "left-open"
	// Closed is Prometheus 2.x: [r] at t selects [t-r, t].
	Closed Semantics = "closed"
)

// SampleLimit is how a server counts the samples of a query against its
// limit.
type SampleLimit string

const (
	// PeakSamples: the samples a query holds in memory at once, as
	// Prometheus's --query.max-samples counts them: each output point and
	// the range of the series being evaluated.
	PeakSamples SampleLimit = "peak"
	// SelectedSamples: every raw sample a query selects over its whole
	// time range (start minus the range, to end), as VictoriaMetrics's
	// -search.maxSamplesPerQuery counts them: "the maximum number of raw
	// samples a single query can process across all time series". It
	// counts whole storage blocks (up to 8192 samples of a series), which
	// the half of the limit the plan leaves unused absorbs in part.
	SelectedSamples SampleLimit = "selected"
)

// LabelMapping names the labels that carry the workload. The zero value
// detects per series: exported_namespace/exported_pod/exported_container when
// exported_pod is present (a ServiceMonitor without honorLabels), else
// namespace/pod/container.
type LabelMapping struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
}

// Config says what to read and how.
type Config struct {
	// Metric is the utilization gauge, 0..100.
	Metric string `json:"metric"`
	// Workload labels; zero value detects per series.
	Workload LabelMapping `json:"workloadLabels"`
	// GPU identity labels as dcgm-exporter names them.
	NodeLabel  string `json:"nodeLabel"`
	GPULabel   string `json:"gpuLabel"`
	UUIDLabel  string `json:"uuidLabel"`
	ModelLabel string `json:"modelLabel"`
	// ExporterPods matches the pod label of dcgm-exporter itself: an idle GPU
	// carries the exporter's own pod as its target label, and that is no
	// workload. It applies only in ExporterNamespaces: a tenant's pod named
	// like the exporter elsewhere is judged like any other.
	ExporterPods string `json:"exporterPods"`
	// ExporterNamespaces are where dcgm-exporter runs (the GPU Operator's,
	// or the standalone chart's namespace).
	ExporterNamespaces []string `json:"exporterNamespaces"`
	// Selector is an optional extra PromQL selector, e.g. {cluster="prod"}.
	Selector string `json:"selector"`
	// Namespaces, when set, keeps only these workload namespaces;
	// ExcludeNamespaces drops these.
	Namespaces        []string `json:"namespaces"`
	ExcludeNamespaces []string `json:"excludeNamespaces"`
	// MaxSamples is the server's sample limit, as SampleLimit counts it;
	// every query is planned to load at most half of it.
	MaxSamples int64 `json:"maxSamples"`
	// SampleLimit is what the server's limit counts: "peak" (default) for
	// Prometheus's --query.max-samples (and Thanos Query's and Mimir's
	// engines), "selected" for VictoriaMetrics's -search.maxSamplesPerQuery.
	SampleLimit SampleLimit `json:"sampleLimit"`
	// Chunk is the length of one aggregation chunk; zero picks one (see
	// ChunkFor: 5m up to 6h windows, longer chunks for longer windows).
	Chunk time.Duration `json:"chunk"`
	// MinScrapeInterval is the densest scrape interval assumed when planning
	// query sizes (never for coverage).
	MinScrapeInterval time.Duration `json:"minScrapeInterval"`
	// RangeSemantics: auto, left-open or closed.
	RangeSemantics Semantics `json:"rangeSemantics"`
	// MaxRereads bounds how many chunks holding invalid samples are re-read
	// raw per cycle to exclude exactly the bad samples; past it a bad chunk is
	// excluded whole.
	MaxRereads int `json:"maxRereads"`
	// Profiling maps each profiling signal to the metric that carries it
	// (dcgm-exporter's DCGM_FI_PROF_* names by default). Each is read with
	// the same chunked queries as Metric, under the same sample budget. An
	// empty map reads utilization only.
	Profiling map[analyzer.Signal]string `json:"profiling"`
	// ProfilingAliases are further names a signal's metric may carry, each
	// read like the main one where it is exported: dcgm-exporter names a
	// metric after its counters-CSV line, and DCGM 4.6 renamed the
	// profiling fields (DCGM_FI_PROF_INT_UTIL_RATIO for
	// DCGM_FI_PROF_PIPE_INT_ACTIVE, ...), keeping the old names as aliases,
	// so both spellings occur in real clusters. Only signals in Profiling
	// are read.
	ProfilingAliases map[analyzer.Signal][]string `json:"profilingAliases"`
	// Segments is how many equal parts of the window the profiling signals
	// are read in (each a whole number of chunks: the largest count up to
	// this that divides the window's chunks). The analyzer judges a GPU the
	// window spares again on each part, so a miner that mines for part of
	// the window beside ML-shaped work is seen for the part it mines. The
	// server reads every sample once either way; the answer holds
	// Segments points per series instead of one. 0 or 1: the window only.
	Segments int `json:"segments"`
	// Concurrency is how many queries a cycle keeps in flight at once
	// (0 means 1). The server evaluates each query on one core: two or more
	// use its cores; each one in flight holds its answer's series being
	// decoded, never a whole answer.
	Concurrency int `json:"concurrency"`
	// MIGInstanceLabel and MIGProfileLabel name a MIG instance's labels.
	MIGInstanceLabel string `json:"migInstanceLabel"`
	MIGProfileLabel  string `json:"migProfileLabel"`
	// TrustedTargets are the scrape targets whose series are evidence:
	// dcgm-exporter's own (see TrustedTargets).
	TrustedTargets TrustedTargets `json:"trustedTargets"`
}

// DefaultConfig reads dcgm-exporter's DCGM_FI_DEV_GPU_UTIL with its own label
// names.
func DefaultConfig() Config {
	c := Config{
		Metric:       "DCGM_FI_DEV_GPU_UTIL",
		NodeLabel:    "Hostname",
		GPULabel:     "gpu",
		UUIDLabel:    "UUID",
		ModelLabel:   "modelName",
		ExporterPods: `^(nvidia-)?dcgm-exporter`,
		// The GPU Operator's namespaces (upstream Helm, OpenShift) and the
		// usual ones for the standalone dcgm-exporter chart.
		ExporterNamespaces: []string{"gpu-operator", "nvidia-gpu-operator", "gpu-operator-resources", "dcgm-exporter", "monitoring", "kube-system"},
		MaxSamples:         50_000_000,
		MinScrapeInterval:  time.Second,
		RangeSemantics:     SemanticsAuto,
		SampleLimit:        PeakSamples,
		MaxRereads:         200,
		Concurrency:        2,
		Segments:           DefaultSegments,
		Profiling:          DefaultProfilingMetrics(),
		ProfilingAliases:   DefaultProfilingAliases(),
		MIGInstanceLabel:   "GPU_I_ID",
		MIGProfileLabel:    "GPU_I_PROFILE",
	}
	c.TrustedTargets = DefaultTrustedTargets(c.ExporterNamespaces, c.ExporterPods)
	return c
}

// DefaultProfilingMetrics are dcgm-exporter's metric names for the
// profiling signals (the GPU Operator's default dcp-metrics set, plus power).
func DefaultProfilingMetrics() map[analyzer.Signal]string {
	return map[analyzer.Signal]string{
		analyzer.SignalGREngine: "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
		analyzer.SignalSM:       "DCGM_FI_PROF_SM_ACTIVE",
		analyzer.SignalTensor:   "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
		analyzer.SignalFP64:     "DCGM_FI_PROF_PIPE_FP64_ACTIVE",
		analyzer.SignalFP32:     "DCGM_FI_PROF_PIPE_FP32_ACTIVE",
		analyzer.SignalFP16:     "DCGM_FI_PROF_PIPE_FP16_ACTIVE",
		analyzer.SignalDRAM:     "DCGM_FI_PROF_DRAM_ACTIVE",
		analyzer.SignalPCIeTx:   "DCGM_FI_PROF_PCIE_TX_BYTES",
		analyzer.SignalPCIeRx:   "DCGM_FI_PROF_PCIE_RX_BYTES",
		analyzer.SignalNVLinkTx: "DCGM_FI_PROF_NVLINK_TX_BYTES",
		analyzer.SignalNVLinkRx: "DCGM_FI_PROF_NVLINK_RX_BYTES",
		analyzer.SignalPower:    "DCGM_FI_DEV_POWER_USAGE",
		// Device-level fields of the exporter's default-counters.csv: the
		// fallbacks for memory and interconnect without profiling.
		analyzer.SignalMemCopy:     "DCGM_FI_DEV_MEM_COPY_UTIL",
		analyzer.SignalPCIeTxKB:    "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
		analyzer.SignalPCIeRxKB:    "DCGM_FI_DEV_PCIE_RX_THROUGHPUT",
		analyzer.SignalNVLinkTotal: "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
		// The integer pipe and the tensor subtypes (fields 1013-1016), which
		// no counters CSV dcgm-exporter ships lists; Hopper and newer report
		// them (NVML GPM).
		analyzer.SignalInt:  "DCGM_FI_PROF_PIPE_INT_ACTIVE",
		analyzer.SignalIMMA: "DCGM_FI_PROF_PIPE_TENSOR_IMMA_ACTIVE",
		analyzer.SignalHMMA: "DCGM_FI_PROF_PIPE_TENSOR_HMMA_ACTIVE",
		analyzer.SignalDFMA: "DCGM_FI_PROF_PIPE_TENSOR_DFMA_ACTIVE",
	}
}

// DefaultProfilingAliases are DCGM 4.6's names of the profiling fields
// (NVIDIA/DCGM dcgmlib/dcgm_fields.h, 4.6.0: the old names are kept as
// deprecated aliases of these). The PCIe and NVLink byte fields kept their
// names.
func DefaultProfilingAliases() map[analyzer.Signal][]string {
	return map[analyzer.Signal][]string{
		analyzer.SignalGREngine: {"DCGM_FI_PROF_GR_ENGINE_UTIL_RATIO"},
		analyzer.SignalSM:       {"DCGM_FI_PROF_SM_UTIL_RATIO"},
		analyzer.SignalTensor:   {"DCGM_FI_PROF_TENSOR_UTIL_RATIO"},
		analyzer.SignalDRAM:     {"DCGM_FI_PROF_DRAM_UTIL_RATIO"},
		analyzer.SignalFP64:     {"DCGM_FI_PROF_FP64_UTIL_RATIO"},
		analyzer.SignalFP32:     {"DCGM_FI_PROF_FP32_UTIL_RATIO"},
		analyzer.SignalFP16:     {"DCGM_FI_PROF_FP16_UTIL_RATIO"},
		analyzer.SignalIMMA:     {"DCGM_FI_PROF_IMMA_UTIL_RATIO"},
		analyzer.SignalHMMA:     {"DCGM_FI_PROF_HMMA_UTIL_RATIO"},
		analyzer.SignalDFMA:     {"DCGM_FI_PROF_DFMA_UTIL_RATIO"},
		analyzer.SignalInt:      {"DCGM_FI_PROF_INT_UTIL_RATIO"},
	}
}

// family is one metric a cycle reads, and its signal. A windowed family is
// read as one set of window-level statistics per series (instant queries
// over the whole window): the profiling rules use each signal's window
// moments, never its per-chunk curve. Utilization, and the graphics engine
// that stands in for it on MIG instances, keep exact per-chunk moments:
// the evidence curve and the shared-GPU check are built from them.
type family struct {
	signal   analyzer.Signal
	metric   string
	windowed bool
	// part, when set, narrows the family to MIG instances or to whole
	// GPUs (see families).
	part familyPart
}

// familyPart is the share of a family's series one read takes.
type familyPart string

const (
	partMIG   familyPart = "MIG instances"
	partWhole familyPart = "whole GPUs"
)

// matcher selects the part's series by the MIG instance label.
func (p familyPart) matcher(migInstanceLabel string) *labels.Matcher {
	switch p {
	case partMIG:
		return labels.MustNewMatcher(labels.MatchNotEqual, migInstanceLabel, "")
	case partWhole:
		return labels.MustNewMatcher(labels.MatchEqual, migInstanceLabel, "")
	}
	return nil
}

// windowStats is the bit mask (over stats) of the statistics a windowed
// family is read with: only what the rules use. Every signal needs its
// count (coverage) and mean; the activity and memory signals also their
// spread (compute_signature's "held"). Without min and max, a window's
// validity is its mean's: a NaN or ±Inf sample makes the whole window
// invalid (excluded), an out-of-range one only moves the mean.
func (f family) windowStats() uint8 {
	m := uint8(1<<0 | 1<<1) // count, avg
	if f.signal.Spread() {
		m |= 1 << 2 // stddev
	}
	return m
}

// families are the metrics a cycle reads: utilization first, then the
// profiling signals in a stable order. The graphics engine is read in two
// parts: per chunk for MIG instances, where it stands in for utilization
// (the evidence curve, the shared-GPU check), and window-level for whole
// GPUs, where it is one profiling signal among others.
func (c Config) families() []family {
	out := []family{{signal: analyzer.SignalUtil, metric: c.Metric}}
	for _, sig := range analyzer.ProfilingSignals() {
		main, ok := c.Profiling[sig]
		if !ok {
			continue
		}
		names := []string{main}
		for _, a := range c.ProfilingAliases[sig] {
			if !slices.Contains(names, a) {
				names = append(names, a)
			}
		}
		for _, m := range names {
			switch {
			case sig == analyzer.SignalGREngine && c.MIGInstanceLabel == "":
				out = append(out, family{signal: sig, metric: m})
			case sig == analyzer.SignalGREngine:
				out = append(out, family{signal: sig, metric: m, part: partMIG},
					family{signal: sig, metric: m, windowed: true, part: partWhole})
			default:
				out = append(out, family{signal: sig, metric: m, windowed: true})
			}
		}
	}
	return out
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if !validName(c.Metric) {
		return fmt.Errorf("metric: not a valid metric name: %q", c.Metric)
	}
	for field, v := range map[string]string{"nodeLabel": c.NodeLabel, "gpuLabel": c.GPULabel, "uuidLabel": c.UUIDLabel, "modelLabel": c.ModelLabel} {
		if v == "" {
			return fmt.Errorf("%s: must not be empty", field)
		}
	}
	m := c.Workload
	if (m.Namespace == "") != (m.Pod == "") {
		return errors.New("workloadLabels: set namespace and pod together, or neither to detect them")
	}
	if _, err := regexp.Compile(c.ExporterPods); err != nil {
		return fmt.Errorf("exporterPods: %w", err)
	}
	if c.Selector != "" {
		if _, err := parseSelector(c.Selector); err != nil {
			return fmt.Errorf("selector: %w", err)
		}
	}
	switch {
	case c.MaxSamples < 100:
		return fmt.Errorf("maxSamples: must be at least 100, got %d", c.MaxSamples)
	case c.Chunk < 0 || (c.Chunk > 0 && c.Chunk < time.Minute):
		return fmt.Errorf("chunk: must be at least 1m, got %v", c.Chunk)
	case c.MinScrapeInterval <= 0:
		return fmt.Errorf("minScrapeInterval: must be positive, got %v", c.MinScrapeInterval)
	case c.MaxRereads < 0:
		return fmt.Errorf("maxRereads: must not be negative, got %d", c.MaxRereads)
	case c.Segments < 0:
		return fmt.Errorf("segments: must not be negative, got %d", c.Segments)
	case c.Concurrency < 0:
		return fmt.Errorf("concurrency: must not be negative, got %d", c.Concurrency)
	}
	known := map[analyzer.Signal]bool{}
	for _, sig := range analyzer.ProfilingSignals() {
		known[sig] = true
	}
	for sig, m := range c.Profiling {
		if !known[sig] {
			return fmt.Errorf("profiling: unknown signal %q (known: %v)", sig, analyzer.ProfilingSignals())
		}
		if !validName(m) {
			return fmt.Errorf("profiling.%s: not a valid metric name: %q", sig, m)
		}
	}
	for sig, ms := range c.ProfilingAliases {
		if !known[sig] {
			return fmt.Errorf("profilingAliases: unknown signal %q (known: %v)", sig, analyzer.ProfilingSignals())
		}
		for _, m := range ms {
			if !validName(m) {
				return fmt.Errorf("profilingAliases.%s: not a valid metric name: %q", sig, m)
			}
		}
	}
	switch c.RangeSemantics {
	case SemanticsAuto, LeftOpen, Closed:
	default:
		return fmt.Errorf("rangeSemantics: must be auto, left-open or closed, got %q", c.RangeSemantics)
	}
	switch c.SampleLimit {
	case "", PeakSamples, SelectedSamples:
	default:
		return fmt.Errorf("sampleLimit: must be peak (Prometheus) or selected (VictoriaMetrics), got %q", c.SampleLimit)
	}
	return c.TrustedTargets.validate()
}

// maxChunksPerWindow bounds the chunks an automatic chunk length cuts a
// window into: the points every utilization series returns per statistic.
// Up to 6 h the chunk stays 5 m; a 24 h window takes 20 m chunks (72 points
// instead of 288); the merge is exact whatever the chunk.
const maxChunksPerWindow = 72

// autoChunks are the automatic chunk lengths, shortest first.
var autoChunks = []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour}

// ChunkFor picks the chunk length for a window: the configured one, else
// the shortest automatic length that divides the window into at most
// maxChunksPerWindow chunks, else 1m (windows that are not a multiple of
// 5m). The window must be a multiple of it.
func (c Config) ChunkFor(window time.Duration) (time.Duration, error) {
	if c.Chunk > 0 {
		if window >= c.Chunk && window%c.Chunk == 0 {
			return c.Chunk, nil
		}
		return 0, fmt.Errorf("window %v is not a multiple of the chunk %v", window, c.Chunk)
	}
	for _, chunk := range autoChunks {
		if window >= chunk && window%chunk == 0 && window/chunk <= maxChunksPerWindow {
			return chunk, nil
		}
	}
	for _, chunk := range []time.Duration{5 * time.Minute, time.Minute} {
		if window >= chunk && window%chunk == 0 {
			return chunk, nil
		}
	}
	return 0, fmt.Errorf("window %v is not a multiple of the chunk %v", window, 5*time.Minute)
}

// DefaultSegments cuts a 1h window of 10m chunks into three 20-minute
// parts: a mining phase of 40 minutes or more fills at least one of them.
const DefaultSegments = 3

// SegmentFor is the length of the parts the profiling signals are read in
// for a window cut in chunks: window / s for the largest s up to Segments
// that divides the window's chunk count, so every part is a whole number of
// chunks and ends on the chunk grid. The window itself when Segments is 0
// or 1.
func (c Config) SegmentFor(window, chunk time.Duration) time.Duration {
	if chunk <= 0 || window%chunk != 0 {
		return window
	}
	n := int(window / chunk)
	for s := min(max(c.Segments, 1), n); s > 1; s-- {
		if n%s == 0 {
			return window / time.Duration(s)
		}
	}
	return window
}

func validName(s string) bool {
	return s != "" && regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`).MatchString(s)
}

var promqlParser = parser.NewParser(parser.Options{})
