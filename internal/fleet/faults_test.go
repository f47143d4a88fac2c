package fleet

import (
	"strings"
	"testing"
	"time"
)

func TestProfilerZeros(t *testing.T) {
	for _, inner := range []Profile{SteadyMiner(), FlatTraining(), GPUETL()} {
		p := ProfilerZeros(inner)
		if p.Name != inner.Name+"+profiler-zeros" {
			t.Errorf("name %q", p.Name)
		}
		for _, ts := range (Scrape{}).Grid(testEnd.Add(-time.Hour), testEnd) {
			for _, m := range AllMetrics() {
				got, ok := p.Value(m, 4, ts)
				want, _ := inner.Value(m, 4, ts)
				switch {
				case !ok:
					t.Fatalf("%s: %s unknown", p.Name, m)
				case strings.HasPrefix(m, "DCGM_FI_PROF_") && got != 0:
					t.Fatalf("%s %s at %v: %g, want 0", p.Name, m, ts, got)
				case !strings.HasPrefix(m, "DCGM_FI_PROF_") && got != want:
					t.Fatalf("%s %s at %v: %g, want the live %g", p.Name, m, ts, got, want)
				}
			}
		}
	}
	// The device-level fields that mirror profiling ones stay live.
	v, _ := ProfilerZeros(SteadyMiner()).Value(MetricMemCopyUtil, 4, testEnd)
	if v < 10 {
		t.Errorf("MEM_COPY_UTIL %g under zeroed profiling, want SteadyMiner's", v)
	}
}

func TestProfilerFrozen(t *testing.T) {
	at := testEnd.Add(-time.Hour)
	for _, inner := range []Profile{FlatTraining(), JitterMiner(), ProfilerZeros(Inference())} {
		p := ProfilerFrozen(inner, at)
		for _, seed := range []uint64{1, 2} {
			for _, m := range AllMetrics() {
				v := metricValues(t, p, m, seed, at, testEnd)
				live := metricValues(t, inner, m, seed, at, testEnd)
				if !strings.HasPrefix(m, "DCGM_FI_PROF_") {
					for i := range v {
						if v[i] != live[i] {
							t.Fatalf("%s %s: sample %d %g, want the live %g", p.Name, m, i, v[i], live[i])
						}
					}
					continue
				}
				for i := range v {
					if v[i] != live[0] {
						t.Fatalf("%s %s: sample %d %g, want the value at %v, %g", p.Name, m, i, v[i], at, live[0])
					}
				}
			}
			// Before at the fields are live.
			before := at.Add(-5 * time.Minute)
			got, _ := p.Value(MetricPower, seed, before)
			want, _ := inner.Value(MetricPower, seed, before)
			g2, _ := p.Value(MetricSMActive, seed, before)
			w2, _ := inner.Value(MetricSMActive, seed, before)
			if got != want || g2 != w2 {
				t.Errorf("%s before the freeze: power %g SM %g, want %g %g", p.Name, got, g2, want, w2)
			}
		}
	}
	// A frozen utilization-varying profile: GPU_UTIL still moves.
	u := metricValues(t, ProfilerFrozen(JitterMiner(), at), MetricGPUUtil, 1, at, testEnd)
	if _, sd := moments(u); sd < 5 {
		t.Errorf("frozen profiler froze utilization too: stddev %g", sd)
	}
}

// A frozen profiler's NVLink fields follow the fleet like live ones: a GPU
// with no peer in its pod, or a MIG instance, reports none.
func TestProfilerFrozenInFleetSeries(t *testing.T) {
	at := testEnd.Add(-time.Hour)
	p := Pod{Namespace: "ns", Name: "frozen", Node: "n", Profile: ProfilerFrozen(FlatTraining(), at), GPUs: []GPUSpec{GPU("n", "0")}}
	for _, s := range FleetSeries([]Pod{p}, Honor, at, testEnd, Scrape{Metrics: []string{MetricNVLinkTxBytes, MetricTensorActive}}) {
		for _, v := range s.Values {
			if s.Labels["__name__"] == MetricNVLinkTxBytes && v != 0 {
				t.Fatalf("NVLink %g on a GPU with no peer", v)
			}
			if s.Labels["__name__"] == MetricTensorActive && v != s.Values[0] {
				t.Fatalf("tensor %g then %g under a frozen profiler", s.Values[0], v)
			}
		}
	}
}

// A profiler frozen on another workload's reading publishes that reading,
// with the running workload's live utilization and device fields.
func TestProfilerFrozenAs(t *testing.T) {
	at := testEnd.Add(-2 * time.Hour)
	p := ProfilerFrozenAs(FlatTraining(), SteadyMiner(), at)
	if p.Name != "flat-training+profiler-frozen-as-steady-miner" {
		t.Errorf("name %q", p.Name)
	}
	for _, m := range AllMetrics() {
		got := metricValues(t, p, m, 3, testEnd.Add(-time.Hour), testEnd)
		if strings.HasPrefix(m, "DCGM_FI_PROF_") {
			want, _ := SteadyMiner().Value(m, 3, at)
			for i, v := range got {
				if v != want {
					t.Fatalf("%s sample %d: %g, want the miner's %g at %v", m, i, v, want, at)
				}
			}
			continue
		}
		live := metricValues(t, FlatTraining(), m, 3, testEnd.Add(-time.Hour), testEnd)
		for i := range got {
			if got[i] != live[i] {
				t.Fatalf("%s sample %d: %g, want the training's live %g", m, i, got[i], live[i])
			}
		}
	}
	// The frozen mix is a hash kernel's: tensor idle, SM busy.
	tensor, _ := p.Value(MetricTensorActive, 3, testEnd)
	sm, _ := p.Value(MetricSMActive, 3, testEnd)
	if tensor != 0 || sm < 0.9 {
		t.Errorf("frozen tensor %g SM %g, want a miner's 0 and > 0.9", tensor, sm)
	}
}

// An unsupported field's series is absent, never zero; the GPU's other
// fields are there.
func TestUnsupportedFieldIsAbsent(t *testing.T) {
	g := AdaGPU("n", "0")
	if g.Model != AdaModel || len(g.Unsupported) != 1 || g.Unsupported[0] != MetricFP64Active {
		t.Fatalf("AdaGPU %+v", g)
	}
	tensorless := GPU("n", "1")
	tensorless.Unsupported = []string{MetricTensorActive}
	pods := []Pod{
		{Namespace: "ns", Name: "ada", Node: "n", Profile: FlatTraining(), GPUs: []GPUSpec{g}},
		{Namespace: "ns", Name: "no-tensor", Node: "n", Profile: FlatTraining(), GPUs: []GPUSpec{tensorless}},
	}
	got := map[string]map[string]int{}
	for _, s := range FleetSeries(pods, Honor, testEnd.Add(-time.Hour), testEnd, Scrape{Metrics: AllDCPCounters.Metrics}) {
		if got[s.Labels["pod"]] == nil {
			got[s.Labels["pod"]] = map[string]int{}
		}
		got[s.Labels["pod"]][s.Labels["__name__"]] += len(s.Times)
	}
	for pod, missing := range map[string]string{"ada": MetricFP64Active, "no-tensor": MetricTensorActive} {
		if n, ok := got[pod][missing]; ok {
			t.Errorf("%s: %s has %d samples, want no series", pod, missing, n)
		}
		for _, m := range AllDCPCounters.Metrics {
			if m != missing && got[pod][m] != 241 {
				t.Errorf("%s: %s has %d samples, want 241", pod, m, got[pod][m])
			}
		}
	}
}

// An exporter restart cuts every series of the node's GPUs in two: the old
// exporter pod's, then, after the scrapes it was down, the new pod's under
// a new instance (and pod, where the exporter's own labels are kept). No
// sample is in both, none outside the two, and other nodes are untouched.
func TestExporterRestartSplitsSeries(t *testing.T) {
	from, to := testEnd.Add(-time.Hour), testEnd
	at := testEnd.Add(-28*time.Minute - 53*time.Second)
	restart := ExporterRestart{Node: "n1", At: at, Down: 30 * time.Second}
	pods := []Pod{
		{Namespace: "ns", Name: "train", Container: "c", Node: "n1", Profile: FlatTraining(), GPUs: []GPUSpec{GPU("n1", "0")}},
		{Namespace: "ns", Name: "other", Container: "c", Node: "n2", Profile: SteadyMiner(), GPUs: []GPUSpec{GPU("n2", "0")}},
	}
	metrics := []string{MetricGPUUtil, MetricTensorActive}
	for _, layout := range []Layout{Honor, Exported} {
		series := FleetSeries(pods, layout, from, to, Scrape{Metrics: metrics, Restarts: []ExporterRestart{restart}})
		var n1, n2 []Series
		for _, s := range series {
			if s.Labels["Hostname"] == "n1" {
				n1 = append(n1, s)
			} else {
				n2 = append(n2, s)
			}
		}
		if len(n2) != len(metrics) {
			t.Fatalf("%s: the other node has %d series, want %d", layout, len(n2), len(metrics))
		}
		if len(n1) != 2*len(metrics) {
			t.Fatalf("%s: the restarted node has %d series, want %d", layout, len(n1), 2*len(metrics))
		}
		grid := (Scrape{}).Grid(from, to)
		for _, m := range metrics {
			var parts []Series
			for _, s := range n1 {
				if s.Labels["__name__"] == m {
					parts = append(parts, s)
				}
			}
			old, cur := parts[0], parts[1]
			if old.Labels["instance"] == cur.Labels["instance"] {
				t.Errorf("%s %s: one instance %q before and after the restart", layout, m, old.Labels["instance"])
			}
			if oldPod, newPod := old.Labels["pod"], cur.Labels["pod"]; (layout == Exported) == (oldPod == newPod) {
				t.Errorf("%s %s: pod label %q then %q", layout, m, oldPod, newPod)
			}
			if layout == Exported && !strings.HasPrefix(cur.Labels["pod"], "nvidia-dcgm-exporter-") {
				t.Errorf("%s: new exporter pod %q", layout, cur.Labels["pod"])
			}
			for _, k := range []string{"UUID", "gpu", "Hostname", "modelName", "namespace", "exported_pod"} {
				if old.Labels[k] != cur.Labels[k] {
					t.Errorf("%s %s: label %s changed across the restart: %q -> %q", layout, m, k, old.Labels[k], cur.Labels[k])
				}
			}
			last, first := old.Times[len(old.Times)-1], cur.Times[0]
			if !last.Before(at) || first.Before(at.Add(restart.Down)) {
				t.Errorf("%s %s: old series ends %v, new starts %v; restart at %v for %v", layout, m, last, first, at, restart.Down)
			}
			if missed := len(grid) - len(old.Times) - len(cur.Times); missed != 2 {
				t.Errorf("%s %s: %d scrapes missed, want the 2 while the exporter was down", layout, m, missed)
			}
		}
	}
}
