package signalmatrix

import (
	"bytes"
	"context"
	"fmt"
	"os"
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
	for i, w := range Workloads() {
		node := fmt.Sprintf("%s-node-%d", strings.ReplaceAll(cluster, "/", "-"), i)
		g := fleet.GPU(node, "0")
		if w.MIG {
			g = fleet.MIGGPU(node, "0", "1", "3g.40gb")
		}
		if set.Name == fleet.HopperCounters.Name {
			g.Model = fleet.HopperModel
		}
		p := fleet.Pod{Namespace: "matrix", Name: podName(w), Container: "main", Node: node, Profile: w.Profile, GPUs: []fleet.GPUSpec{g}}
		if w.Podless {
			p.Namespace, p.Name, p.Container = "", "", ""
		}
		pods = append(pods, p)
	}
	series := fleet.FleetSeries(pods, layout, end.Add(-75*time.Minute), end, fleet.Scrape{Metrics: set.Metrics})
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
					fmt.Printf("DUMP\t%s\t%s\t%s\t%s\t%s\t%.200s\n", w.Name, c.set.Name, g.Verdict, g.Rule, g.Strength, g.Reason)
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
