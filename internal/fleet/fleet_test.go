package fleet

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

var testEnd = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func stats(vs []float64) (mean, sd float64) {
	for _, v := range vs {
		mean += v
	}
	mean /= float64(len(vs))
	for _, v := range vs {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(vs)))
}

// Each profile has the statistical character its comment claims over an hour.
func TestProfilesCharacter(t *testing.T) {
	cases := []struct {
		profile        Profile
		minMean, maxSD float64 // mean > minMean and stddev < maxSD when maxSD > 0
		flatHigh       bool    // caught by the old rule
	}{
		{SteadyMiner(), 95, 2, true},
		{ThrottledMiner(80), 78, 2, false},
		{BurstyTraining(), 0, 0, false},
		{Inference(), 0, 0, false},
		{Idle(), -1, 0.001, false},
	}
	for _, c := range cases {
		p := Pod{Profile: c.profile, GPUs: []GPUSpec{GPU("n", "0")}}
		_, vs := Samples(p, p.GPUs[0], testEnd.Add(-time.Hour), testEnd, Scrape{})
		if len(vs) != 241 {
			t.Fatalf("%s: %d samples in [end-1h, end], want 241", c.profile.Name, len(vs))
		}
		mean, sd := stats(vs)
		for _, v := range vs {
			if v < 0 || v > 100 || math.IsNaN(v) {
				t.Fatalf("%s: value %v out of 0..100", c.profile.Name, v)
			}
		}
		if got := mean > 95 && sd < 2; got != c.flatHigh {
			t.Errorf("%s: mean %.2f stddev %.2f: flat-high %v, want %v", c.profile.Name, mean, sd, got, c.flatHigh)
		}
		if mean <= c.minMean || (c.maxSD > 0 && sd >= c.maxSD) {
			t.Errorf("%s: mean %.2f stddev %.2f, want mean > %v stddev < %v", c.profile.Name, mean, sd, c.minMean, c.maxSD)
		}
	}
}

// A profile is a function of seed and time: sampling at another interval or
// window sees the same values at the same times.
func TestSamplesDeterministic(t *testing.T) {
	p := DefaultFleet(testEnd)[2]
	g := p.GPUs[0]
	ts15, v15 := Samples(p, g, testEnd.Add(-time.Hour), testEnd, Scrape{Interval: 15 * time.Second})
	ts30, v30 := Samples(p, g, testEnd.Add(-2*time.Hour), testEnd, Scrape{Interval: 30 * time.Second})
	at := map[time.Time]float64{}
	for i, ts := range ts15 {
		at[ts] = v15[i]
	}
	matched := 0
	for i, ts := range ts30 {
		if v, ok := at[ts]; ok {
			matched++
			if v != v30[i] {
				t.Fatalf("value at %s: %v at 15s, %v at 30s", ts, v, v30[i])
			}
		}
	}
	if matched < 100 {
		t.Fatalf("only %d shared timestamps", matched)
	}
}

func TestGapsAndBadValues(t *testing.T) {
	p := DefaultFleet(testEnd)[0]
	s := Scrape{
		Gaps: []Range{{From: testEnd.Add(-30 * time.Minute), To: testEnd.Add(-20 * time.Minute)}},
		Bad:  []BadValue{{At: testEnd, Value: math.NaN()}},
	}
	ts, vs := Samples(p, p.GPUs[0], testEnd.Add(-time.Hour), testEnd, s)
	if len(ts) != 241-40 {
		t.Fatalf("%d samples, want 201 with a 10 minute gap", len(ts))
	}
	if !ts[len(ts)-1].Equal(testEnd) || !math.IsNaN(vs[len(vs)-1]) {
		t.Fatalf("last sample %v at %s, want NaN at %s", vs[len(vs)-1], ts[len(ts)-1], testEnd)
	}
}

func TestLabelLayouts(t *testing.T) {
	p := DefaultFleet(testEnd)[0]
	honor, exported := Labels(p, p.GPUs[0], Honor), Labels(p, p.GPUs[0], Exported)
	if honor["pod"] != p.Name || honor["namespace"] != p.Namespace {
		t.Fatalf("honor layout: %v", honor)
	}
	if exported["exported_pod"] != p.Name || exported["pod"] == p.Name || exported["namespace"] != ExporterNamespace {
		t.Fatalf("exported layout: %v", exported)
	}
	idle := Pod{Node: "n", GPUs: []GPUSpec{GPU("n", "0")}}
	if l := Labels(idle, idle.GPUs[0], Honor); l["pod"] != "" || l["namespace"] != "" {
		t.Fatalf("podless GPU has workload labels: %v", l)
	}
}

func TestWriteOpenMetricsEscapes(t *testing.T) {
	var b bytes.Buffer
	err := WriteOpenMetrics(&b, Series{
		Labels: map[string]string{"__name__": Metric, "pod": "a\"b\\c\nd"},
		Times:  []time.Time{testEnd},
		Values: []float64{math.NaN()},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\nDCGM_FI_DEV_GPU_UTIL{pod=\"a\\\"b\\\\c\\nd\"} NaN 1767614400\n# EOF\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	if !strings.HasSuffix(b.String(), "# EOF\n") {
		t.Fatal("no EOF marker")
	}
}
