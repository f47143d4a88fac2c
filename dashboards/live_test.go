package dashboards_test

import (
	"bytes"
	"context"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/demo"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/miner-detector/miner-detector/internal/promtest"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// end is the end of the fixture; it spans fixtureSpan before it.
var end = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

const fixtureSpan = 2 * time.Hour

// exportedNodes are scraped without honorLabels (exported_* workload
// labels); the others with honorLabels: both layouts in one fixture.
var exportedNodes = map[string]bool{"gpu-node-4": true, "gpu-node-5": true}

// The pods the evidence dashboard is checked on, one per layout.
var evidencePods = []struct{ namespace, pod, node string }{
	{"team-a", "batch-worker-5c7d9f8b6-x2k4q", "gpu-node-1"}, // honorLabels
	{"team-c", "notebook-0", "gpu-node-4"},                   // exported_*
}

// fleetSeries is the simulated fleet over the fixture, each node in its
// layout, plus dcgm-exporter's power, memory and profiling metrics for two
// miners and a training run.
func fleetSeries(t *testing.T) []fleet.Series {
	t.Helper()
	pods := fleet.DefaultFleet(end)
	var honor, exported []fleet.Pod
	for _, p := range pods {
		if exportedNodes[p.Node] {
			exported = append(exported, p)
		} else {
			honor = append(honor, p)
		}
	}
	from, scrape := end.Add(-fixtureSpan), fleet.Scrape{}
	series := append(fleet.FleetSeries(honor, fleet.Honor, from, end, scrape),
		fleet.FleetSeries(exported, fleet.Exported, from, end, scrape)...)

	// Miners: busy SMs, idle tensor/FP pipes, flat memory. Training: busy
	// tensor cores, moving memory.
	type signals struct{ sm, tensor, fp32, fp16, dram, power, fb float64 }
	miner := signals{0.97, 0.001, 0.02, 0.0, 0.05, 290, 2100}
	trainer := signals{0.85, 0.6, 0.3, 0.4, 0.55, 350, 71000}
	extra := map[string]signals{
		"team-a/batch-worker-5c7d9f8b6-x2k4q": miner,
		"team-c/notebook-0":                   miner,
		"ml-research/llama-finetune-0":        trainer,
	}
	found := 0
	for _, p := range pods {
		s, ok := extra[p.Key()]
		if !ok {
			continue
		}
		found++
		layout := fleet.Honor
		if exportedNodes[p.Node] {
			layout = fleet.Exported
		}
		for _, g := range p.GPUs {
			times := scrape.Grid(from, end)
			for name, v := range map[string]float64{
				"DCGM_FI_PROF_SM_ACTIVE": s.sm, "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": s.tensor,
				"DCGM_FI_PROF_PIPE_FP32_ACTIVE": s.fp32, "DCGM_FI_PROF_PIPE_FP16_ACTIVE": s.fp16,
				"DCGM_FI_PROF_DRAM_ACTIVE": s.dram, "DCGM_FI_DEV_POWER_USAGE": s.power, "DCGM_FI_DEV_FB_USED": s.fb,
			} {
				l := fleet.Labels(p, g, layout)
				l["__name__"] = name
				vals := make([]float64, len(times))
				for i := range vals {
					vals[i] = v * (1 + 0.01*math.Sin(float64(i))) // a little movement
				}
				series = append(series, fleet.Series{Labels: l, Times: times, Values: vals})
			}
		}
	}
	if found != len(extra) {
		t.Fatalf("found %d of the %d pods to add profiling metrics to: DefaultFleet changed", found, len(extra))
	}
	return series
}

// detectorSeries runs one real detection cycle at end on the embedded
// engine holding the same fleet, and the demo for the owner metrics, and
// turns the detector's own metrics into samples over the fixture.
func detectorSeries(t *testing.T, fleetSeries []fleet.Series) []fleet.Series {
	t.Helper()
	p, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	for _, s := range fleetSeries {
		if s.Labels["__name__"] != fleet.Metric {
			continue
		}
		if err := p.Append(s.Labels, s.Times, s.Values); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Prometheus.URL = "http://unused.invalid"
	m := metrics.New()
	c, err := cycle.New(cfg, cycle.Deps{API: p, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	c.Now = func() time.Time { return end }
	m.Settings(5*time.Minute, false)
	res, err := c.Run(context.Background(), end)
	if err != nil {
		t.Fatalf("cycle: %v", err)
	}
	if res.Report.Pods == nil {
		t.Fatal("the cycle judged no pods")
	}

	out := metricSeries(t, m, func(string) bool { return true })

	// The owner metrics come from the demo's first five cycles, where a
	// Deployment's miner pods are deleted three times and the fourth gets
	// it escalated and scaled to zero: one cycle over a fresh state has no
	// owner record.
	dm := metrics.New()
	if _, err := demo.Run(context.Background(), demo.Options{Out: io.Discard, Metrics: dm, Cycles: 5}); err != nil {
		t.Fatalf("demo: %v", err)
	}
	owners := metricSeries(t, dm, func(name string) bool {
		return name == "miner_detector_repeat_offender" || name == "miner_detector_owner_deletions" || name == "miner_detector_suspect_pod_owner"
	})
	if !slices.ContainsFunc(owners, func(s fleet.Series) bool {
		l := s.Labels
		return l["__name__"] == "miner_detector_repeat_offender" && l["owner_kind"] == "Deployment" && l["owner"] == "hash-relay" && l["stopped"] == "true"
	}) {
		t.Fatalf("the demo published no stopped repeat offender (%d owner series): the owner panels would be checked on nothing", len(owners))
	}
	return append(out, owners...)
}

// metricSeries turns the detector's metrics that keep selects into samples
// every 15 s over the fixture: gauges constant, counters and histograms
// growing linearly to their value at end (never decreasing).
func metricSeries(t *testing.T, m *metrics.Metrics, keep func(name string) bool) []fleet.Series {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	times := fleet.Scrape{}.Grid(end.Add(-fixtureSpan), end)
	n := float64(len(times))
	var out []fleet.Series
	add := func(name string, lbls map[string]string, v float64, counter bool) {
		l := map[string]string{"__name__": name, "job": "miner-detector", "instance": "10.244.9.9:8080"}
		for k, val := range lbls {
			l[k] = val
		}
		vals := make([]float64, len(times))
		for i := range vals {
			vals[i] = v
			if counter {
				vals[i] = v * float64(i+1) / n
			}
		}
		out = append(out, fleet.Series{Labels: l, Times: times, Values: vals})
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "miner_detector_") || !keep(name) {
			continue // the Go and process collectors: no panel uses them
		}
		for _, metric := range mf.GetMetric() {
			lbls := map[string]string{}
			for _, lp := range metric.GetLabel() {
				lbls[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetType().String() {
			case "COUNTER":
				add(name, lbls, metric.GetCounter().GetValue(), true)
			case "GAUGE":
				add(name, lbls, metric.GetGauge().GetValue(), false)
			case "HISTOGRAM":
				h := metric.GetHistogram()
				for _, b := range h.GetBucket() {
					bl := map[string]string{"le": model.FloatString(b.GetUpperBound()).String()}
					add(name+"_bucket", bl, float64(b.GetCumulativeCount()), true)
				}
				add(name+"_bucket", map[string]string{"le": "+Inf"}, float64(h.GetSampleCount()), true)
				add(name+"_sum", nil, h.GetSampleSum(), true)
				add(name+"_count", nil, float64(h.GetSampleCount()), true)
			default:
				t.Fatalf("%s: unexpected metric type %s", name, mf.GetType())
			}
		}
	}
	return out
}

// seriesNames returns the distinct metric names of series.
func seriesNames(series []fleet.Series) []string {
	var names []string
	for _, s := range series {
		if n := s.Labels["__name__"]; !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// Every expression of every dashboard returns data from a real Prometheus
// holding the fleet (both label layouts, profiling metrics included) and
// the metrics of a real detection cycle; the evidence dashboard finds each
// miner pod's own GPUs in either layout, and the variables list both.
func TestExpressionsReturnData(t *testing.T) {
	fs := fleetSeries(t)
	ds := detectorSeries(t, fs)
	for _, want := range []string{"miner_detector_suspect_pod", "miner_detector_suspect_pod_strikes",
		"miner_detector_cycle_duration_seconds_bucket", "miner_detector_actions_total"} {
		if !slices.Contains(seriesNames(ds), want) {
			t.Errorf("the cycle published no %s: the fixture would not check its panels", want)
		}
	}
	var om bytes.Buffer
	if err := fleet.WriteOpenMetrics(&om, append(fs, ds...)...); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, om.Bytes())
	client, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	prom := v1.NewAPI(client)
	ctx := context.Background()

	run := func(t *testing.T, q query, v vars) model.Value {
		t.Helper()
		e, err := substitute(q.Expr, v)
		if err != nil {
			t.Fatalf("%s: %v", q.Where, err)
		}
		var val model.Value
		if q.Instant {
			val, _, _, err = prom.Query(ctx, e, end)
		} else {
			val, _, _, err = prom.QueryRange(ctx, e, v1.Range{Start: end.Add(-time.Hour), End: end, Step: time.Minute})
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", q.Where, e, err)
		}
		finite := 0
		switch val := val.(type) {
		case model.Vector:
			for _, s := range val {
				if !math.IsNaN(float64(s.Value)) && !math.IsInf(float64(s.Value), 0) {
					finite++
				}
			}
		case model.Matrix:
			for _, s := range val {
				for _, p := range s.Values {
					if !math.IsNaN(float64(p.Value)) && !math.IsInf(float64(p.Value), 0) {
						finite++
					}
				}
			}
		case *model.Scalar:
			finite = 1
		}
		if finite == 0 {
			t.Errorf("%s: %s returned no data (%s)", q.Where, e, val)
		}
		return val
	}

	for _, d := range loadDashboards(t) {
		pods := evidencePods[:1]
		if d.UID == "miner-detector-evidence" {
			pods = evidencePods
		}
		for _, ep := range pods {
			v := baseVars()
			v["namespace"], v["pod"] = ep.namespace, ep.pod
			for _, q := range queries(t, d) {
				t.Run(q.Where+" "+ep.namespace, func(t *testing.T) {
					val := run(t, q, v)
					if d.UID != "miner-detector-evidence" || q.Variable != nil || !strings.Contains(q.Expr, "DCGM_") {
						return
					}
					// Evidence shows the pod's own GPUs, whatever the layout.
					m, ok := val.(model.Matrix)
					if !ok {
						t.Fatalf("got %T, want a matrix", val)
					}
					for _, s := range m {
						if host := string(s.Metric["Hostname"]); host != ep.node {
							t.Errorf("%s: series %s is on %s, want the pod's node %s", q.Where, s.Metric, host, ep.node)
						}
					}
				})
			}
		}
	}

	// The variables list the workloads of both layouts, not dcgm-exporter.
	values := func(name, namespace string) []string {
		for _, d := range loadDashboards(t) {
			for _, q := range queries(t, d) {
				if q.Variable == nil || q.Variable.Name != name {
					continue
				}
				v := baseVars()
				v["namespace"] = namespace
				e, err := substitute(q.Expr, v)
				if err != nil {
					t.Fatal(err)
				}
				val, _, _, err := prom.Query(ctx, e, end)
				if err != nil {
					t.Fatalf("%s: %v", q.Where, err)
				}
				re := regexp.MustCompile(strings.TrimSuffix(strings.TrimPrefix(q.Variable.Regex, "/"), "/"))
				var out []string
				for _, s := range val.(model.Vector) {
					if m := re.FindStringSubmatch(s.Metric.String()); m != nil {
						out = append(out, m[1])
					}
				}
				slices.Sort(out)
				return out
			}
		}
		t.Fatalf("no variable %s", name)
		return nil
	}
	ns := values("namespace", "")
	for _, want := range []string{"team-a", "team-c", "team-e", "kube-system"} {
		if !slices.Contains(ns, want) {
			t.Errorf("namespace variable = %v, lacks %s", ns, want)
		}
	}
	if slices.Contains(ns, fleet.ExporterNamespace) {
		t.Errorf("namespace variable = %v lists dcgm-exporter's namespace", ns)
	}
	if got := values("pod", "free-notebooks"); !slices.Equal(got, []string{"jupyter-alice", "jupyter-bob", "jupyter-carol", "jupyter-mallory"}) {
		t.Errorf("pod variable for free-notebooks = %v", got)
	}
	if got := values("pod", "team-c"); !slices.Equal(got, []string{"notebook-0"}) {
		t.Errorf("pod variable for team-c (exported layout) = %v", got)
	}
}
