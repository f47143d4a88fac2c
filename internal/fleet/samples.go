package fleet

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultInterval is the scrape interval when Scrape.Interval is zero.
const DefaultInterval = 15 * time.Second

// Scrape describes how Prometheus scrapes the simulated exporter.
type Scrape struct {
	// Interval between samples; zero means DefaultInterval.
	Interval time.Duration
	// Phase shifts the grid: samples fall on Unix-epoch multiples of
	// Interval plus Phase, with no jitter. OpenMetrics carries millisecond
	// precision, so keep Phase a whole number of milliseconds.
	Phase time.Duration
	// Gaps are failed scrapes: no sample at any t with From <= t < To.
	Gaps []Range
	// Bad replaces the sample at At (when At is on the grid and kept) with
	// Value: NaN, -1, 150 and the like, which a detector must exclude.
	Bad []BadValue
	// Restarts are dcgm-exporter pods replaced during the range: every
	// series of the node's GPUs is cut in two, with a new exporter pod
	// name and IP (labels pod, in the Exported layout, and instance).
	Restarts []ExporterRestart
	// Metrics are the metrics FleetSeries emits for each GPU, in this
	// order (see AllMetrics); nil means DCGM_FI_DEV_GPU_UTIL alone. Names
	// the fleet does not simulate and repeats are skipped, and so are the
	// metrics a GPU's exporter does not publish: utilization on a MIG
	// instance, profiling fields on a NoProfiling GPU.
	Metrics []string
}

// ExporterRestart is the dcgm-exporter DaemonSet pod on Node replaced at
// At (a rollout, an eviction, a node's runtime restart): no scrape in
// [At, At+Down), and from At+Down on the new pod answers under its own
// name and IP, so Prometheus stores every one of the node's GPU series as
// a new series. The GPU, its UUID and the workload labels are unchanged.
type ExporterRestart struct {
	Node string
	At   time.Time
	Down time.Duration
}

// generation is how many of restarts on node happened at or before t; ok
// is false while the exporter is down.
func generation(restarts []ExporterRestart, node string, t time.Time) (gen int, ok bool) {
	for _, r := range restarts {
		if r.Node != node || t.Before(r.At) {
			continue
		}
		if t.Before(r.At.Add(r.Down)) {
			return 0, false
		}
		gen++
	}
	return gen, true
}

// Range is the half-open interval [From, To).
type Range struct{ From, To time.Time }

// BadValue is an invalid sample injected at At into the series of Metric
// ("" means DCGM_FI_DEV_GPU_UTIL).
type BadValue struct {
	At     time.Time
	Value  float64
	Metric string
}

func (b BadValue) hits(metric string, t time.Time) bool {
	return (b.Metric == metric || b.Metric == "" && metric == MetricGPUUtil) && b.At.Equal(t)
}

// metrics is what s asks FleetSeries to emit, known names only, each once.
func (s Scrape) metrics() []string {
	if s.Metrics == nil {
		return []string{MetricGPUUtil}
	}
	var out []string
	for _, m := range s.Metrics {
		if (m == MetricGPUUtil || slices.Contains(profilingMetrics, m)) && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func (s Scrape) interval() time.Duration {
	if s.Interval <= 0 {
		return DefaultInterval
	}
	return s.Interval
}

// Grid returns the scrape times in [from, to]: every t = k*Interval + Phase
// (k an integer, t in Unix time) within the range. Gaps and pod lifetimes
// are not applied here.
func (s Scrape) Grid(from, to time.Time) []time.Time {
	step := s.interval().Nanoseconds()
	phase := s.Phase.Nanoseconds() % step
	first := ceilDiv(from.UnixNano()-phase, step)*step + phase
	var ts []time.Time
	for n := first; n <= to.UnixNano(); n += step {
		ts = append(ts, time.Unix(0, n).UTC())
	}
	return ts
}

// Samples returns the utilization samples Prometheus would hold for GPU g of
// pod p in [from, to]: the grid, restricted to when p exists and outside
// gaps, with bad values injected. A MIG instance has none.
func Samples(p Pod, g GPUSpec, from, to time.Time, s Scrape) (ts []time.Time, v []float64) {
	if g.MIG != nil {
		return nil, nil
	}
	profile, seed := p.ProfileOf(g), g.Seed()
	for _, t := range sampleTimes(p, from, to, s) {
		ts = append(ts, t)
		v = append(v, injectBad(s.Bad, MetricGPUUtil, t, profile.At(seed, t)))
	}
	return ts, v
}

// Series is one labelled time series with its samples in time order.
type Series struct {
	Labels map[string]string // including __name__
	Times  []time.Time
	Values []float64
}

// FleetSeries returns one Series per (pod, GPU, metric) with at least one
// sample in [from, to], labelled in layout, in the order of pods, their GPUs
// and s.Metrics. Without s.Metrics it is the utilization series alone, the
// samples of Samples. Every metric of a GPU has the same sample times and
// the labels of its utilization series (Labels) under its own __name__.
//
// Two things depend on the fleet, not on the profile alone (see
// Profile.Value): a GPU with no other non-MIG GPU in its pod reports no
// NVLink traffic, and a MIG instance reports its share of the PCIe traffic,
// no NVLink, and the power of its whole physical GPU, summed over the
// instances the fleet places on it.
func FleetSeries(pods []Pod, layout Layout, from, to time.Time, s Scrape) []Series {
	metrics, b := s.metrics(), migBoards(pods)
	var out []Series
	for _, p := range pods {
		peers := 0
		for _, g := range p.GPUs {
			if g.MIG == nil {
				peers++
			}
		}
		for _, g := range p.GPUs {
			out = append(out, gpuSeries(p, g, layout, from, to, s, metrics, peers > 1, b)...)
		}
		out = append(out, ForgedSeries(p, from, to, s)...)
	}
	return out
}

// Forger scrape identity: the annotation job (`prometheus.io/scrape`) of a
// kube-prometheus setup that scrapes tenant pods, and the port the forging
// pod serves on.
const (
	ForgerJob  = "kubernetes-pods"
	forgerPort = "8000"
)

// ForgedSeries are the series p serves when it forges (p.Forges): the
// series p.Forges's GPUs would have under s, over p's own life, as
// Prometheus stores them from a tenant target without honor_labels: the
// claimed workload in exported_namespace/exported_pod/exported_container,
// the forging pod in namespace/pod/container, job ForgerJob. The same in
// both layouts: the exporter's job settings do not reach a tenant target.
// Nil when p forges nothing.
func ForgedSeries(p Pod, from, to time.Time, s Scrape) []Series {
	if p.Forges == nil {
		return nil
	}
	claimed := *p.Forges
	claimed.Start, claimed.End, claimed.Forges = p.Start, p.End, nil
	var out []Series
	for _, ser := range FleetSeries([]Pod{claimed}, Honor, from, to, s) {
		l := ser.Labels
		l["exported_namespace"], l["exported_pod"], l["exported_container"] = l["namespace"], l["pod"], l["container"]
		l["namespace"], l["pod"], l["container"] = p.Namespace, p.Name, p.Container
		l["job"], l["instance"] = ForgerJob, forgerInstance(p)+":"+forgerPort
		out = append(out, ser)
	}
	return out
}

// forgerInstance is a pod IP for p, deterministic in its key.
func forgerInstance(p Pod) string {
	h := uuidSeed(p.Key())
	return fmt.Sprintf("10.244.%d.%d", h%250+1, (h>>8)%250+2)
}

// gpuSeries is FleetSeries for GPU g of p. nvlink says whether g has NVLink
// peers in its pod.
func gpuSeries(p Pod, g GPUSpec, layout Layout, from, to time.Time, s Scrape, metrics []string, nvlink bool, b boards) []Series {
	var emitted []string
	for _, m := range metrics {
		if m == MetricGPUUtil && g.MIG != nil || isProfiling(m) && g.NoProfiling || g.MIG != nil && physicalOnly(m) || gpmOnly(m) && !reportsGPM(g.Model) ||
			slices.Contains(g.Unsupported, m) {
			continue
		}
		emitted = append(emitted, m)
	}
	ts := sampleTimes(p, from, to, s)
	if len(emitted) == 0 || len(ts) == 0 {
		return nil
	}
	values := make([][]float64, len(emitted))
	profile, seed := p.ProfileOf(g), g.Seed()
	for _, t := range ts {
		a := activity{util: profile.At(seed, t)}
		if len(emitted) > 1 || emitted[0] != MetricGPUUtil {
			a = profile.activity(seed, t)
			if !nvlink {
				a = a.withoutNVLink()
			}
			if g.MIG != nil {
				a = instanceActivity(a, g.MIG.fraction())
				a.power = b.power(g.UUID, t)
			}
		}
		for i, m := range emitted {
			v, _ := a.get(m)
			values[i] = append(values[i], injectBad(s.Bad, m, t, v))
		}
	}
	// One series per metric and exporter generation: a restart starts new
	// series under the new exporter pod's labels.
	var out []Series
	for lo := 0; lo < len(ts); {
		gen, _ := generation(s.Restarts, p.Node, ts[lo])
		hi := lo + 1
		for hi < len(ts) {
			if g2, _ := generation(s.Restarts, p.Node, ts[hi]); g2 != gen {
				break
			}
			hi++
		}
		for i, m := range emitted {
			out = append(out, Series{Labels: exporterLabels(metricLabels(p, g, layout, m), p.Node, gen, layout),
				Times: slices.Clone(ts[lo:hi]), Values: slices.Clone(values[i][lo:hi])})
		}
		lo = hi
	}
	return out
}

// sampleTimes is the grid in [from, to] where p exists, outside gaps and
// exporter restarts.
func sampleTimes(p Pod, from, to time.Time, s Scrape) []time.Time {
	var ts []time.Time
	for _, t := range s.Grid(from, to) {
		if _, up := generation(s.Restarts, p.Node, t); p.Active(t) && !inGap(t, s.Gaps) && up {
			ts = append(ts, t)
		}
	}
	return ts
}

// injectBad returns the bad value s.Bad puts at (metric, t), else v.
func injectBad(bad []BadValue, metric string, t time.Time, v float64) float64 {
	for _, b := range bad {
		if b.hits(metric, t) {
			v = b.Value
		}
	}
	return v
}

func inGap(t time.Time, gaps []Range) bool {
	for _, g := range gaps {
		if !t.Before(g.From) && t.Before(g.To) {
			return true
		}
	}
	return false
}

// ceilDiv is ⌈a/b⌉ for b > 0, correct for negative a.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

// ReportedOn is the share of metrics a GPU of model exports at all: the
// fields DCGM reads through NVML GPM are absent before Hopper.
func ReportedOn(model string, metrics []string) []string {
	var out []string
	for _, m := range metrics {
		if !gpmOnly(m) || reportsGPM(model) {
			out = append(out, m)
		}
	}
	return out
}

// gpmOnly reports whether metric is one of the fields DCGM reports only on
// Hopper and newer (the integer pipe and the tensor subtypes, read through
// NVML GPM there): dcgm-exporter skips such a line on other GPUs ("metric
// not enabled"), so the series is absent, never 0.
func gpmOnly(metric string) bool {
	switch metric {
	case MetricIntActive, MetricTensorIMMAActive, MetricTensorHMMAActive, MetricTensorDFMAActive:
		return true
	}
	return false
}

// reportsGPM reports whether a GPU model is Hopper or newer.
func reportsGPM(model string) bool {
	for _, f := range []string{"H100", "H200", "H800", "H20", "GH200", "B100", "B200", "B300", "GB200"} {
		if strings.Contains(model, f) {
			return true
		}
	}
	return false
}
