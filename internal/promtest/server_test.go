package promtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/fleet"
)

// Fixed times keep results reproducible.
var end = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// sample is one element of an instant vector.
type sample struct {
	Metric map[string]string
	Value  float64
}

// query runs an instant query at `at` and returns the vector, or the
// server's error.
func query(t *testing.T, s *Server, q string, at time.Time) ([]sample, error) {
	t.Helper()
	u := s.URL + "/api/v1/query?" + url.Values{
		"query": {q},
		"time":  {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', -1, 64)},
	}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: decode: %v", q, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", q, body.Error)
	}
	if body.Data.ResultType != "vector" {
		t.Fatalf("%s: result type %q, want vector", q, body.Data.ResultType)
	}
	out := make([]sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		str, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			t.Fatalf("%s: value %v: %v", q, r.Value[1], err)
		}
		out = append(out, sample{Metric: r.Metric, Value: v})
	}
	return out, nil
}

// scalar runs a query that must return exactly one sample.
func scalar(t *testing.T, s *Server, q string, at time.Time) float64 {
	t.Helper()
	v, err := query(t, s, q, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 1 {
		t.Fatalf("%s at %s: %d samples, want 1: %v", q, at.Format(time.RFC3339), len(v), v)
	}
	return v[0].Value
}

// om renders one series "m" with the given labels, one sample every step
// over [from, to], values 0, 1, 2, ...
func om(labels string, from, to time.Time, step time.Duration) []byte {
	var b bytes.Buffer
	b.WriteString("# TYPE m gauge\n")
	for i, t := 0, from; !t.After(to); i, t = i+1, t.Add(step) {
		fmt.Fprintf(&b, "m%s %d %d\n", labels, i, t.Unix())
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

// The backfilled history is queryable at its own (past) timestamps, with
// escaped label values intact.
func TestStartServesBackfilledHistory(t *testing.T) {
	s := Start(t, om(`{pod="we\"ird\\name"}`, end.Add(-time.Hour), end, 15*time.Second))
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.Version == "" {
		t.Fatalf("server %+v: want a loopback URL and a version", s)
	}
	t.Logf("prometheus %s at %s", s.Version, s.URL)

	// 241 samples in [end-1h, end]: both ends are samples.
	v, err := query(t, s, `count_over_time(m[1h])`, end)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 1 || v[0].Value != 241 || v[0].Metric["pod"] != `we"ird\name` {
		t.Fatalf("count_over_time(m[1h]) = %v, want 241 for pod we\"ird\\name", v)
	}
	// Values 0..240 sum to 240*241/2.
	if got := scalar(t, s, `sum_over_time(m[1h])`, end); got != 28920 {
		t.Errorf("sum_over_time(m[1h]) = %v, want 28920", got)
	}
	// Nothing before the history starts.
	if v, err := query(t, s, `count_over_time(m[1h])`, end.Add(-2*time.Hour)); err != nil || len(v) != 0 {
		t.Errorf("2h before the end: %v %v, want an empty vector", v, err)
	}
}

// Prometheus 2.x range selectors are closed, [t-r, t]: with samples on exact
// multiples of 15 s, [60s] at a sample's timestamp holds 5 samples (both
// ends). Prometheus 3.x made them left-open, (t-r, t], which holds 4.
func TestRangeSelectorBoundary(t *testing.T) {
	s := Start(t, om("", end.Add(-10*time.Minute), end, 15*time.Second))
	atSample, wantAtSample := end.Add(-5*time.Minute), 5.0
	if !strings.HasPrefix(s.Version, "2.") {
		wantAtSample = 4
	}
	if got := scalar(t, s, `count_over_time(m[60s])`, atSample); got != wantAtSample {
		t.Errorf("Prometheus %s: count_over_time(m[60s]) at a sample timestamp = %v, want %v", s.Version, got, wantAtSample)
	}
	// Between samples neither end is hit: 4 on every version.
	if got := scalar(t, s, `count_over_time(m[60s])`, atSample.Add(7*time.Second)); got != 4 {
		t.Errorf("count_over_time(m[60s]) between samples = %v, want 4", got)
	}
	// Consecutive chunks [t-60s, t] and [t-120s, t-60s] share the sample at
	// t-60s on 2.x: summing chunk counts double counts it.
	chunks := scalar(t, s, `count_over_time(m[60s])`, atSample) + scalar(t, s, `count_over_time(m[60s])`, atSample.Add(-time.Minute))
	whole := scalar(t, s, `count_over_time(m[120s])`, atSample)
	if wantOverlap := wantAtSample - 4; chunks-whole != wantOverlap {
		t.Errorf("two 60s chunks count %v, one 120s range %v: overlap %v, want %v", chunks, whole, chunks-whole, wantOverlap)
	}
}

func TestOptions(t *testing.T) {
	data := om("", end.Add(-time.Hour), end, 15*time.Second)

	limited := Start(t, data, WithMaxSamples(100), WithLookbackDelta(time.Minute))
	if _, err := query(t, limited, `count_over_time(m[1h])`, end); err == nil ||
		!strings.Contains(err.Error(), "too many samples") {
		t.Errorf("241 samples under --query.max-samples=100: error %v, want too many samples", err)
	}
	if got := scalar(t, limited, `count_over_time(m[10m])`, end); got != 41 {
		t.Errorf("41 samples under --query.max-samples=100: got %v", got)
	}
	// The last sample is 2 minutes old: outside a 1m lookback...
	if v, err := query(t, limited, `m`, end.Add(2*time.Minute)); err != nil || len(v) != 0 {
		t.Errorf("lookback 1m, sample 2m old: %v %v, want an empty vector", v, err)
	}
	// ...inside the default 5m one.
	if got := scalar(t, Start(t, data), `m`, end.Add(2*time.Minute)); got != 240 {
		t.Errorf("default lookback, sample 2m old: got %v, want 240", got)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the calling goroutine, as the real one does, without failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// A server that cannot start fails the test with its own log.
func TestStartFailsWithServerLog(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	done := make(chan *Server)
	go func() {
		defer close(done)
		done <- Start(rec, om("", end.Add(-time.Minute), end, 15*time.Second), WithArgs("--no-such-flag"))
	}()
	if s := <-done; s != nil {
		t.Fatalf("Start returned %+v with a bad flag", s)
	}
	for _, want := range []string{"exited before it was ready", "no-such-flag"} {
		if !strings.Contains(rec.msg, want) {
			t.Errorf("failure message %q does not say %q", rec.msg, want)
		}
	}
}

func TestFindToolsNamesTheInstallCommand(t *testing.T) {
	empty := t.TempDir()
	_, _, err := findTools(empty, filepath.Join(empty, "nowhere"))
	if err == nil {
		t.Fatal("no error with no binaries anywhere")
	}
	for _, want := range []string{"prometheus not found", "promtool not found", "apt-get install -y prometheus", "make test"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	// Found through the fallback directory when PATH lacks them.
	for _, name := range []string{"prometheus", "promtool"} {
		if err := os.WriteFile(filepath.Join(empty, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	prom, tool, err := findTools("", empty)
	if err != nil || prom != filepath.Join(empty, "prometheus") || tool != filepath.Join(empty, "promtool") {
		t.Errorf("findTools(\"\", %s) = %q, %q, %v", empty, prom, tool, err)
	}
}

// The simulated fleet survives the trip through promtool and Prometheus in
// both label layouts, gaps and bad values included: Prometheus's own
// statistics match the ones computed directly from the fleet's samples.
func TestFleetRoundTrip(t *testing.T) {
	scrape := fleet.Scrape{
		Gaps: []fleet.Range{{From: end.Add(-30 * time.Minute), To: end.Add(-25 * time.Minute)}},
		Bad: []fleet.BadValue{
			{At: end.Add(-10 * time.Minute), Value: math.NaN()},
			{At: end.Add(-5 * time.Minute), Value: 150},
			{At: end.Add(-2 * time.Minute), Value: -1},
		},
	}
	clean := end.Add(-11 * time.Minute) // the bad values all come later
	checks := []struct {
		fn       string
		at       time.Time
		r        time.Duration
		direct   func([]float64) float64
		wantSame float64 // when not NaN: the value every series must have
	}{
		{"count_over_time", end, time.Hour, func(v []float64) float64 { return float64(len(v)) }, math.NaN()},
		{"max_over_time", end, time.Hour, maxNaN, 150},
		{"min_over_time", end, time.Hour, minNaN, -1},
		{"avg_over_time", clean, 49 * time.Minute, func(v []float64) float64 { m, _ := moments(v); return m }, math.NaN()},
		{"stddev_over_time", clean, 49 * time.Minute, func(v []float64) float64 { _, sd := moments(v); return sd }, math.NaN()},
	}
	key := func(l map[string]string) string { return l["UUID"] + "|" + l["pod"] + "|" + l["exported_pod"] }
	for _, layout := range []fleet.Layout{fleet.Honor, fleet.Exported} {
		t.Run(string(layout), func(t *testing.T) {
			pods := fleet.DefaultFleet(end)
			var b bytes.Buffer
			if err := fleet.WriteOpenMetrics(&b, fleet.FleetSeries(pods, layout, end.Add(-time.Hour), end, scrape)...); err != nil {
				t.Fatal(err)
			}
			s := Start(t, b.Bytes())
			leftOpen := !strings.HasPrefix(s.Version, "2.") // 3.x: (t-r, t]

			for _, c := range checks {
				from := c.at.Add(-c.r)
				if leftOpen {
					from = from.Add(time.Millisecond)
				}
				want := map[string]float64{}
				for _, sr := range fleet.FleetSeries(pods, layout, from, c.at, scrape) {
					want[key(sr.Labels)] = c.direct(sr.Values)
				}
				q := fmt.Sprintf("%s(%s[%s])", c.fn, fleet.Metric, c.r)
				got, err := query(t, s, q, c.at)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) || len(want) < 10 {
					t.Fatalf("%s: %d series, want %d (at least 10)", q, len(got), len(want))
				}
				for _, g := range got {
					w, ok := want[key(g.Metric)]
					if !ok {
						t.Fatalf("%s: unexpected series %v", q, g.Metric)
					}
					if math.Abs(g.Value-w) > 1e-9*math.Max(1, math.Abs(w)) || math.IsNaN(g.Value) {
						t.Errorf("%s for %s: Prometheus %v, direct %v", q, key(g.Metric), g.Value, w)
					}
					if !math.IsNaN(c.wantSame) && g.Value != c.wantSame {
						t.Errorf("%s for %s = %v, want the injected %v", q, key(g.Metric), g.Value, c.wantSame)
					}
				}
			}
			// The NaN sample is stored: at its timestamp, the instant value is NaN.
			nan, err := query(t, s, fleet.Metric, end.Add(-10*time.Minute))
			if err != nil || len(nan) == 0 || !math.IsNaN(nan[0].Value) {
				t.Errorf("instant value at the NaN sample: %v %v, want NaN", nan, err)
			}
		})
	}
}

// maxNaN is max_over_time: NaN only when every value is NaN.
func maxNaN(v []float64) float64 {
	m := math.NaN()
	for _, x := range v {
		if math.IsNaN(m) || x > m {
			m = x
		}
	}
	return m
}

// minNaN is min_over_time: NaN only when every value is NaN.
func minNaN(v []float64) float64 {
	m := math.NaN()
	for _, x := range v {
		if math.IsNaN(m) || x < m {
			m = x
		}
	}
	return m
}

// moments are the population mean and stddev, as PromQL computes them.
func moments(v []float64) (mean, stddev float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		stddev += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(stddev / float64(len(v)))
}
