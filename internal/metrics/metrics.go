// Package metrics holds Miner Detector's own Prometheus metrics: what each
// cycle saw and did, for dashboards and Alertmanager rules. It knows the
// cycle's outcome types, not how they were computed.
package metrics

import (
	"strconv"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/prometheus/client_golang/prometheus"
)

// Cycle results.
const (
	ResultSuccess = "success"
	// ResultPartial: Prometheus answered with warnings; no action was taken.
	ResultPartial = "partial"
	ResultFailed  = "failed"
)

// Metrics are the detector's own metrics, registered on one registry.
type Metrics struct {
	Registry       *prometheus.Registry
	cycles         *prometheus.CounterVec
	duration       prometheus.Histogram
	lastSuccess    prometheus.Gauge
	gpus           prometheus.Gauge
	unattributed   prometheus.Gauge
	badSamples     prometheus.Gauge
	pods           *prometheus.GaugeVec
	suspect        *prometheus.GaugeVec
	suspectMean    *prometheus.GaugeVec
	suspectStdDev  *prometheus.GaugeVec
	actions        *prometheus.CounterVec
	queries        prometheus.Gauge
	querySeries    prometheus.Gauge
	queryPeak      prometheus.Gauge
	windowSeconds  prometheus.Gauge
	scrapeInterval prometheus.Gauge
	suspectCover   *prometheus.GaugeVec
	strikes        *prometheus.GaugeVec
	capped         prometheus.Gauge
	repeatOffender *prometheus.GaugeVec
	ownerDeletions *prometheus.GaugeVec
	suspectOwner   *prometheus.GaugeVec
	schedule       prometheus.Gauge
	enforce        prometheus.Gauge
	silencesErr    prometheus.Counter
	leader         prometheus.Gauge
	noProfiling    prometheus.Gauge
	profilerFault  prometheus.Gauge
	seriesDisagree prometheus.Gauge
	vetoed         prometheus.Gauge
	suspectRule    *prometheus.GaugeVec
	busyNoPod      *prometheus.GaugeVec
	overBudget     prometheus.Counter
	budget         prometheus.Gauge
	signalGPUs     *prometheus.GaugeVec
	ruleGPUs       *prometheus.GaugeVec
	strongPossible prometheus.Gauge
	untrusted      *prometheus.GaugeVec
	ticksSkipped   prometheus.Counter
}

// New registers the metrics (and the Go and process collectors) on a new
// registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{Registry: r}
	m.cycles = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "miner_detector_cycles_total",
		Help: "Detection cycles by result: success, partial (Prometheus warned: no action taken) or failed."}, []string{"result"})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "miner_detector_cycle_duration_seconds",
		Help: "Wall time of one detection cycle.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)})
	m.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_last_success_timestamp_seconds",
		Help: "Unix time of the last cycle that completed with complete data."})
	m.gpus = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_gpus_evaluated",
		Help: "GPU-pod pairs judged in the last cycle."})
	m.unattributed = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_unattributed_gpus",
		Help: "GPUs with samples but no workload pod in the last cycle's window."})
	m.badSamples = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_bad_samples",
		Help: "Samples excluded in the last cycle as NaN, infinite or out of range."})
	m.pods = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_pods",
		Help: "Pods by verdict in the last cycle."}, []string{"verdict"})
	suspectLabels := []string{"namespace", "pod", "node", "shared"}
	m.suspect = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_suspect_pod",
		Help: "1 for each pod judged a miner in the last cycle."}, suspectLabels)
	m.suspectMean = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_suspect_pod_gpu_utilization_mean",
		Help: "Window mean GPU utilization (%) of the deciding GPU of each suspect pod."}, suspectLabels)
	m.suspectStdDev = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_suspect_pod_gpu_utilization_stddev",
		Help: "Window population stddev of GPU utilization of the deciding GPU of each suspect pod."}, suspectLabels)
	m.actions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "miner_detector_actions_total",
		Help: "Actions by kind (record, notify, delete, skip_delete) and result."}, []string{"kind", "result"})
	m.queries = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_prometheus_queries",
		Help: "Range queries the last cycle ran."})
	m.querySeries = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_prometheus_series",
		Help: "Utilization series in the last cycle's window."})
	m.queryPeak = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_prometheus_query_peak_samples",
		Help: "Estimated most samples one query of the last cycle loaded (planned under half of maxSamples)."})
	m.windowSeconds = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_window_seconds",
		Help: "Length of the evaluation window."})
	m.scrapeInterval = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_scrape_interval_seconds",
		Help: "Scrape interval used for coverage (configured or detected)."})
	m.suspectCover = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_suspect_pod_coverage",
		Help: "Share of expected samples present for the deciding GPU of each suspect pod."}, suspectLabels)
	m.strikes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_suspect_pod_strikes",
		Help: "Consecutive cycles each suspect pod has been judged a miner."}, []string{"namespace", "pod"})
	m.repeatOffender = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_repeat_offender",
		Help: "1 for each owner (controller) escalated as a repeat offender: its miner pods were deleted escalateAfter times within escalationPeriod and keep coming back; its pods are no longer deleted. stopped says whether the detector scaled it to zero or suspended it."},
		[]string{"namespace", "owner_kind", "owner", "stopped"})
	m.ownerDeletions = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_owner_deletions",
		Help: "Deletions of each owner's miner pods within the escalation period."},
		[]string{"namespace", "owner_kind", "owner"})
	m.suspectOwner = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_suspect_pod_owner",
		Help: "1 for each miner pod whose owner (top controller) is known: joins suspect pods to their Deployment, Job, StatefulSet or custom controller."},
		[]string{"namespace", "pod", "owner_kind", "owner"})
	m.capped = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_deletions_capped",
		Help: "Miner pods the last cycle would have deleted but for the per-cycle deletion cap."})
	m.schedule = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_schedule_interval_seconds",
		Help: "Time between two scheduled cycles (for staleness alerts)."})
	m.enforce = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_enforce",
		Help: "1 when enforcing (deleting miner pods), 0 in dry-run."})
	m.silencesErr = prometheus.NewCounter(prometheus.CounterOpts{Name: "miner_detector_alertmanager_silences_errors_total",
		Help: "Cycles whose Alertmanager silences could not be read (no deletion in those cycles)."})
	m.leader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_leader",
		Help: "1 while this replica runs cycles (holds the lease, or leader election is off), 0 on standby."})
	m.ticksSkipped = prometheus.NewCounter(prometheus.CounterOpts{Name: "miner_detector_ticks_skipped_total",
		Help: "Schedule ticks not run because a previous leader had already run them."})
	m.noProfiling = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_gpus_without_profiling",
		Help: "GPUs judged in the last cycle without dcgm profiling metrics: only the utilization rule applied to them."})
	m.profilerFault = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_gpus_profiler_fault",
		Help: "GPUs whose profiling fields disagreed with their utilization in the last cycle (every field 0, or a frozen reading, on a busy GPU): judged on utilization alone, never on strong evidence."})
	m.seriesDisagree = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_gpus_series_disagree",
		Help: "GPUs two of whose trusted series reported different values for one chunk in the last cycle (two exporters, or a stale one): their verdicts are never enforceable."})
	m.vetoed = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_training_vetoes",
		Help: "GPUs the flat-high-utilization rule flagged but the training veto spared (busy math pipes) in the last cycle."})
	m.suspectRule = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_suspect_pod_rule",
		Help: "1 per suspect pod and the rule that judged it a miner."}, []string{"namespace", "pod", "rule"})
	m.busyNoPod = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_busy_gpu_without_pod",
		Help: "Mean utilization of a busy GPU no pod holds (a finding on the node, never a deletion)."},
		[]string{"node", "gpu", "uuid", "mig_instance"})
	m.overBudget = prometheus.NewCounter(prometheus.CounterOpts{Name: "miner_detector_cycles_over_budget_total",
		Help: "Cycles that took longer than their budget (cycleBudget of the schedule's interval)."})
	m.budget = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_cycle_budget_seconds",
		Help: "How long a cycle is meant to take: cycleBudget of the schedule's interval."})
	m.signalGPUs = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_signal_gpus",
		Help: "GPUs whose dcgm-exporter series carry the signal (covering minCoverage of the window), by role, in the last cycle."},
		[]string{"role", "signal"})
	m.ruleGPUs = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "miner_detector_rule_gpus",
		Help: "GPUs each rule had the signals to judge in the last cycle."}, []string{"rule"})
	m.strongPossible = prometheus.NewGauge(prometheus.GaugeOpts{Name: "miner_detector_gpus_strong_evidence_possible",
		Help: "GPUs exporting the tensor, FP32 and FP64 pipes: a miner verdict on them can reach strong (deletable) evidence."})
	m.untrusted = newUntrustedGauge()
	for _, c := range []prometheus.Collector{m.repeatOffender, m.ownerDeletions, m.suspectOwner, m.overBudget, m.budget, m.signalGPUs, m.ruleGPUs, m.strongPossible, m.noProfiling, m.profilerFault, m.seriesDisagree, m.vetoed, m.suspectRule, m.busyNoPod, m.leader, m.ticksSkipped, m.silencesErr, m.suspectCover, m.strikes, m.capped, m.schedule, m.enforce, m.cycles, m.duration, m.lastSuccess, m.gpus, m.unattributed, m.badSamples,
		m.pods, m.suspect, m.suspectMean, m.suspectStdDev, m.actions, m.queries, m.querySeries, m.queryPeak,
		m.windowSeconds, m.scrapeInterval, m.untrusted} {
		f(c)
	}
	f(prometheus.NewGoCollector())
	f(prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	for _, res := range []string{ResultSuccess, ResultPartial, ResultFailed} {
		m.cycles.WithLabelValues(res)
	}
	return m
}

// CycleDone records a cycle's result and duration.
func (m *Metrics) CycleDone(result string, took time.Duration, now time.Time) {
	m.cycles.WithLabelValues(result).Inc()
	m.duration.Observe(took.Seconds())
	if result == ResultSuccess {
		m.lastSuccess.Set(float64(now.Unix()))
	}
}

// Budget records the cycle budget and whether the cycle went over it.
func (m *Metrics) Budget(budget time.Duration, over bool) {
	m.budget.Set(budget.Seconds())
	if over {
		m.overBudget.Inc()
	}
}

// OverBudget is the counter of cycles over budget (for tests).
func (m *Metrics) OverBudget() prometheus.Counter { return m.overBudget }

// Queries records the size of the cycle's queries.
func (m *Metrics) Queries(queries, series int, peakSamples int64) {
	m.queries.Set(float64(queries))
	m.querySeries.Set(float64(series))
	m.queryPeak.Set(float64(peakSamples))
}

// Report records what the analyzer found. The suspect gauges are rebuilt each
// cycle, so a pod no longer judged a miner disappears from them.
func (m *Metrics) Report(r analyzer.Report) {
	m.windowSeconds.Set(r.Window.Seconds())
	m.scrapeInterval.Set(r.ScrapeInterval.Seconds())
	m.unattributed.Set(float64(len(r.UnattributedGPUs)))
	counts := map[analyzer.Verdict]int{}
	gpus, bad := 0, int64(0)
	m.suspect.Reset()
	m.suspectMean.Reset()
	m.suspectStdDev.Reset()
	m.suspectCover.Reset()
	m.strikes.Reset()
	m.suspectRule.Reset()
	m.busyNoPod.Reset()
	noProfiling, vetoed := 0, 0
	for _, p := range r.Pods {
		counts[p.Verdict]++
		gpus += len(p.GPUs)
		for _, g := range p.GPUs {
			bad += g.BadSamples
			if g.Verdict != analyzer.InsufficientData && !g.Profiling {
				noProfiling++
			}
			if g.Rule == "training_veto" {
				vetoed++
			}
		}
		if p.Verdict != analyzer.Miner {
			continue
		}
		lv := []string{p.Namespace, p.Pod, p.Node, strconv.FormatBool(p.Shared)}
		m.suspect.WithLabelValues(lv...).Set(1)
		m.suspectRule.WithLabelValues(p.Namespace, p.Pod, p.Evidence.Rule).Set(1)
		for _, g := range p.GPUs {
			if g.Verdict == analyzer.Miner {
				m.suspectMean.WithLabelValues(lv...).Set(g.Mean)
				m.suspectStdDev.WithLabelValues(lv...).Set(g.StdDev())
				m.suspectCover.WithLabelValues(lv...).Set(g.Coverage)
				break
			}
		}
	}
	for _, g := range r.UnattributedGPUs {
		bad += g.BadSamples
		if g.Verdict == analyzer.BusyUnattributed {
			m.busyNoPod.WithLabelValues(g.Node, g.Index, g.UUID, g.MIGInstance).Set(g.Mean)
		}
	}
	m.noProfiling.Set(float64(noProfiling))
	m.profilerFault.Set(float64(r.Inventory.ProfilerFaults))
	m.seriesDisagree.Set(float64(r.Inventory.SeriesDisagree))
	m.vetoed.Set(float64(vetoed))
	m.signalGPUs.Reset()
	for _, role := range analyzer.Roles() {
		for _, sig := range role.Signals() {
			m.signalGPUs.WithLabelValues(string(role), string(sig)).Set(float64(r.Inventory.Signals[sig]))
		}
	}
	for rule, n := range r.Inventory.Rules {
		m.ruleGPUs.WithLabelValues(rule).Set(float64(n))
	}
	m.strongPossible.Set(float64(r.Inventory.StrongEvidence))
	for _, v := range analyzer.Verdicts() {
		m.pods.WithLabelValues(string(v)).Set(float64(counts[v]))
	}
	m.gpus.Set(float64(gpus))
	m.badSamples.Set(float64(bad))
}

// Action counts one executed (or skipped) action.
func (m *Metrics) Action(kind, result string) {
	m.actions.WithLabelValues(kind, result).Inc()
}

// CyclesCounter is the cycles counter for one result (for tests and checks).
func (m *Metrics) CyclesCounter(result string) prometheus.Counter {
	return m.cycles.WithLabelValues(result)
}

// Strikes records a suspect pod's consecutive miner verdicts.
func (m *Metrics) Strikes(namespace, pod string, strikes int) {
	m.strikes.WithLabelValues(namespace, pod).Set(float64(strikes))
}

// Owner is an owner as the metrics label it.
type Owner struct{ Namespace, Kind, Name string }

// OwnerRecord is an owner's standing in the action state.
type OwnerRecord struct {
	Owner
	Deletions          int
	Escalated, Stopped bool
}

// Owners replaces the owner gauges with this cycle's: the owners of miner
// pods (pod -> owner) and the owners the state keeps.
func (m *Metrics) Owners(pods map[analyzer.PodKey]Owner, records []OwnerRecord) {
	m.suspectOwner.Reset()
	m.repeatOffender.Reset()
	m.ownerDeletions.Reset()
	for pod, o := range pods {
		m.suspectOwner.WithLabelValues(pod.Namespace, pod.Pod, o.Kind, o.Name).Set(1)
	}
	for _, r := range records {
		m.ownerDeletions.WithLabelValues(r.Namespace, r.Kind, r.Name).Set(float64(r.Deletions))
		if r.Escalated {
			m.repeatOffender.WithLabelValues(r.Namespace, r.Kind, r.Name, strconv.FormatBool(r.Stopped)).Set(1)
		}
	}
}

// Capped records how many miner pods the deletion cap held back this cycle.
func (m *Metrics) Capped(n int) { m.capped.Set(float64(n)) }

// Settings records the schedule's period and the mode.
func (m *Metrics) Settings(schedule time.Duration, enforce bool) {
	m.schedule.Set(schedule.Seconds())
	v := 0.0
	if enforce {
		v = 1
	}
	m.enforce.Set(v)
}

// SilencesUnavailable counts a cycle that could not read Alertmanager's
// silences and so deleted nothing.
func (m *Metrics) SilencesUnavailable() { m.silencesErr.Inc() }

// SilencesErrors is the silences-errors counter (for tests and checks).
func (m *Metrics) SilencesErrors() prometheus.Counter { return m.silencesErr }

// Leader records whether this replica runs cycles.
func (m *Metrics) Leader(leading bool) {
	v := 0.0
	if leading {
		v = 1
	}
	m.leader.Set(v)
}

// TickSkipped counts a tick another leader already ran.
func (m *Metrics) TickSkipped() { m.ticksSkipped.Inc() }
