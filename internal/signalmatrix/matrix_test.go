package signalmatrix

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/promtest"
	"github.com/miner-detector/miner-detector/promquery"
)

var end = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// fleetFor places every workload of the matrix on its own node, one GPU
// each, as a cluster exporting set in layout would report them.
func fleetFor(cluster string, set fleet.CounterSet, layout fleet.Layout) []fleet.Series {
	var pods []fleet.Pod
	var restarts []fleet.ExporterRestart
	for i, w := range Workloads() {
		node := fmt.Sprintf("%s-node-%d", strings.ReplaceAll(cluster, "/", "-"), i)
		g := fleet.GPU(node, "0")
		if w.MIG {
			g = fleet.MIGGPU(node, "0", "1", "3g.40gb")
		}
		if set.Name == fleet.HopperCounters.Name {
			g.Model = fleet.HopperModel
		}
		if w.Model != "" {
			g.Model = w.Model
		}
		g.Unsupported = w.Unsupported
		if w.ExporterRestart {
			restarts = append(restarts, fleet.ExporterRestart{Node: node, At: restartAt, Down: restartDown})
		}
		p := fleet.Pod{Namespace: "matrix", Name: podName(w), Container: "main", Node: node, Profile: w.Profile, GPUs: []fleet.GPUSpec{g}}
		if w.Podless {
			p.Namespace, p.Name, p.Container = "", "", ""
		}
		pods = append(pods, p)
	}
	series := fleet.FleetSeries(pods, layout, end.Add(-75*time.Minute), end, fleet.Scrape{Metrics: set.Metrics, Restarts: restarts})
	for _, s := range series {
		s.Labels["cluster"] = cluster
	}
	return series
}

func podName(w Workload) string {
	r := strings.NewReplacer(" ", "-", "%", "")
	return strings.ToLower(r.Replace(w.Name))
}

// The matrix, proved on a real Prometheus: each counter set in both label
// layouts (a ServiceMonitor with and without honorLabels), read and judged
// as a cycle would, every workload's outcome as the table says.
func TestMatrixOnRealPrometheus(t *testing.T) {
	var all []fleet.Series
	type cluster struct {
		name string
		set  fleet.CounterSet
	}
	var clusters []cluster
	for _, set := range CounterSets() {
		for _, layout := range []fleet.Layout{fleet.Honor, fleet.Exported} {
			c := cluster{set.Name + "/" + string(layout), set}
			clusters = append(clusters, c)
			all = append(all, fleetFor(c.name, set, layout)...)
		}
	}
	var om bytes.Buffer
	if err := fleet.WriteOpenMetrics(&om, all...); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, om.Bytes())
	api, err := promquery.NewClient(promquery.Connection{URL: srv.URL, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	acfg := analyzer.DefaultConfig()
	for _, c := range clusters {
		t.Run(c.name, func(t *testing.T) {
			qcfg := promquery.DefaultConfig()
			qcfg.Selector = fmt.Sprintf("{cluster=%q}", c.name)
			r, err := promquery.NewReader(api, qcfg, acfg.ValidMin, acfg.ValidMax)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Read(context.Background(), end, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Warnings) > 0 {
				t.Fatalf("warnings: %v", res.Warnings)
			}
			rep := analyzer.Analyze(res.Input, acfg)
			got := map[string]analyzer.GPUReport{}
			for _, p := range rep.Pods {
				got[p.Pod] = p.GPUs[0]
			}
			for _, g := range rep.UnattributedGPUs {
				got[""] = g
			}
			for _, w := range Workloads() {
				want := Expected[w.Name][c.set.Name]
				name := podName(w)
				if w.Podless {
					name = ""
				}
				g, seen := got[name]
				if os.Getenv("MATRIX_DUMP") != "" && seen {
					fmt.Printf("DUMP\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", w.Name, c.set.Name, g.Verdict, g.Rule, g.Strength, g.Count, g.ExpectedSamples, g.Reason)
				}
				if want.Verdict == "" {
					if seen {
						t.Errorf("%s: judged %s, want not seen", w.Name, g.Verdict)
					}
					continue
				}
				if !seen {
					t.Errorf("%s: not in the report", w.Name)
					continue
				}
				if g.Verdict != want.Verdict || g.Rule != want.Rule || g.Strength != want.Strength {
					t.Errorf("%s: %s by %s, strength %q (%s); want %s", w.Name, g.Verdict, g.Rule, g.Strength, g.Reason, want)
				}
				if len(w.Unsupported) > 0 {
					checkUnsupported(t, w, c.set, g)
				}
				if w.ExporterRestart {
					checkRestart(t, w, c.name, all, g)
				}
			}
		})
	}
}

// The README shows exactly this matrix.
func TestREADMEShowsTheMatrix(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), Markdown()) {
		t.Errorf("README.md does not hold the signal matrix; paste this table:\n%s", Markdown())
	}
}

// Every row has a cell for every counter set.
func TestExpectedIsComplete(t *testing.T) {
	for _, w := range Workloads() {
		row, ok := Expected[w.Name]
		if !ok {
			t.Errorf("no expected row for %s", w.Name)
			continue
		}
		for _, s := range CounterSets() {
			if _, ok := row[s.Name]; !ok {
				t.Errorf("%s: no expected outcome on %s", w.Name, s.Name)
			}
		}
	}
}

// Killing legitimate work is the worst bug: no legitimate or telemetry-fault
// row may be deletable on any counter set with the default opt-ins.
func TestCataloguesNeverDeleteLegitimateWork(t *testing.T) {
	for _, w := range Workloads() {
		if w.Class != legit && w.Class != fault {
			continue
		}
		for set, o := range Expected[w.Name] {
			if o.Enforceable() {
				t.Errorf("%s (%s) on %s: %s", w.Name, w.Class, set, o)
			}
		}
	}
}

// signalOf is the analyzer signal of each field a matrix row marks
// unsupported.
var signalOf = map[string]analyzer.Signal{
	fleet.MetricFP64Active:   analyzer.SignalFP64,
	fleet.MetricTensorActive: analyzer.SignalTensor,
	fleet.MetricFP16Active:   analyzer.SignalFP16,
}

// checkUnsupported: evidence never claims a pipe whose field the GPU does
// not report: not among the signals read or used, not among the pipes its
// strength calls covered; where the counter set asks for the field, the
// evidence lists it absent.
func checkUnsupported(t *testing.T, w Workload, set fleet.CounterSet, g analyzer.GPUReport) {
	t.Helper()
	for _, m := range w.Unsupported {
		sig, ok := signalOf[m]
		if !ok {
			t.Fatalf("%s: no signal for unsupported field %s", w.Name, m)
		}
		if _, read := g.Signals[sig]; read {
			t.Errorf("%s: %s read though the GPU does not report %s", w.Name, sig, m)
		}
		if slices.Contains(g.SignalsUsed, sig) {
			t.Errorf("%s: evidence uses %s, which was never exported (used %v)", w.Name, sig, g.SignalsUsed)
		}
		if covered, _, ok := strings.Cut(g.StrengthReason, "covered"); ok && strings.Contains(covered, string(sig)) {
			t.Errorf("%s: strength claims %s covered: %s", w.Name, sig, g.StrengthReason)
		}
		if slices.Contains(set.Metrics, m) && g.Verdict == analyzer.Miner && !slices.Contains(g.SignalsAbsent, sig) {
			t.Errorf("%s: %s asked for and missing, yet not in signals_absent %v", w.Name, sig, g.SignalsAbsent)
		}
	}
}

// checkRestart: the restart really split the GPU's series, and the
// judged samples are the analyzer's rule exactly: per chunk, the fuller
// of the two series, so no sample is counted twice (and the shorter part
// of the restart's chunk is dropped, never added).
func checkRestart(t *testing.T, w Workload, cluster string, all []fleet.Series, g analyzer.GPUReport) {
	t.Helper()
	const chunk = 5 * time.Minute
	from := end.Add(-time.Hour)
	perChunk := map[time.Time][]int{}
	sets, distinct := 0, 0
	for _, s := range all {
		l := s.Labels
		if l["cluster"] != cluster || l["__name__"] != fleet.MetricGPUUtil || l["pod"] != podName(w) && l["exported_pod"] != podName(w) {
			continue
		}
		sets++
		n := map[time.Time]int{}
		for _, ts := range s.Times {
			if ts.After(from) && !ts.After(end) {
				n[from.Add((ts.Sub(from)+chunk-1)/chunk*chunk)]++
				distinct++
			}
		}
		for k, v := range n {
			perChunk[k] = append(perChunk[k], v)
		}
	}
	if sets != 2 {
		t.Fatalf("%s: %d utilization series, want the 2 an exporter restart leaves", w.Name, sets)
	}
	// The restart's chunk holds samples of both series, together no more
	// than the chunk can: they merge, every distinct sample counted once.
	split := 0
	for _, counts := range perChunk {
		if len(counts) > 1 {
			split++
		}
	}
	if split != 1 {
		t.Errorf("%s: %d chunks hold both series, want the restart's one", w.Name, split)
	}
	if g.Count != int64(distinct) {
		t.Errorf("%s: judged %d samples, want the %d distinct in the window", w.Name, g.Count, distinct)
	}
	if want := int64(time.Hour/fleet.DefaultInterval) - 2; g.Count != want {
		t.Errorf("%s: judged %d samples, want %d: 240 less the 2 missed scrapes", w.Name, g.Count, want)
	}
}
