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
