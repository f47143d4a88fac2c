package promquery_test

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/vmtest"
	"github.com/miner-detector/miner-detector/promquery"
)

// These tests run the same checks as the Prometheus ones against a real
// VictoriaMetrics single-node server (built from tools/victoria-metrics),
// with its own MetricsQL engine: its rollup windows, its range-query
// alignment and cache, and its own -search.maxSamplesPerQuery.

func startVM(t *testing.T, series []fleet.Series, opts ...vmtest.Option) promquery.API {
	t.Helper()
	var om bytes.Buffer
	if err := fleet.WriteOpenMetrics(&om, series...); err != nil {
		t.Fatal(err)
	}
	srv := vmtest.Start(t, om.Bytes(), opts...)
	api, err := promquery.NewClient(promquery.Connection{URL: srv.URL, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("VictoriaMetrics %s at %s, %d samples", srv.Version, srv.URL, srv.Samples)
	return api
}

// startVMRaw writes data, its values first rounded in place to what
// VictoriaMetrics stores: "floating-point values with up to 12 significant
// decimal digits" (docs.victoriametrics.com/victoriametrics/keyconcepts/).
// The direct computation then runs over the samples the server holds; the
// reader's exactness is not what that rounding tests.
func startVMRaw(t *testing.T, data []rawSeries, opts ...vmtest.Option) promquery.API {
	t.Helper()
	var series []fleet.Series
	for _, r := range data {
		for i, v := range r.v {
			r.v[i], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
		}
		series = append(series, fleet.Series{Labels: r.labels, Times: r.ts, Values: r.v})
	}
	return startVM(t, series, opts...)
}

func TestReadRealVictoriaMetricsMatchesDirectComputation(t *testing.T) {
	for _, interval := range []time.Duration{15 * time.Second, 30 * time.Second} {
		for _, layout := range []string{"honor", "exported"} {
			t.Run(fmt.Sprintf("%v/%s", interval, layout), func(t *testing.T) {
				data := testFleet(6*time.Hour, interval, layout)
				res := checkRead(t, startVMRaw(t, data), promquery.DefaultConfig(), data, 6*time.Hour)
				t.Logf("semantics %s, plan %d queries", res.Semantics, res.Queries())
			})
		}
	}
}

// A window that does not end on a multiple of the chunk, as a live cycle's
// (now) does not: VictoriaMetrics would round a range query's start and end
// to multiples of the step (its response cache) unless asked not to.
func TestReadRealVictoriaMetricsUnalignedEnd(t *testing.T) {
	data := testFleet(6*time.Hour, 15*time.Second, "honor")
	api := startVMRaw(t, data)
	for _, end := range []time.Time{readEnd.Add(-37*time.Second - 250*time.Millisecond), readEnd.Add(-7 * time.Minute)} {
		res := checkReadAt(t, api, promquery.DefaultConfig(), data, end, 6*time.Hour)
		if res.Plan.Steps < 50 {
			t.Fatalf("%d steps per query: VictoriaMetrics aligns only queries of 50 points or more", res.Plan.Steps)
		}
	}
}

// Shards and slices under VictoriaMetrics's own -search.maxSamplesPerQuery,
// which counts every raw sample a query selects over its whole range (whole
// storage blocks: here one block of ~1,900 samples per series): planned with
// sampleLimit "selected", the numbers do not change and no query is refused.
func TestReadRealVictoriaMetricsShardedUnderSampleLimit(t *testing.T) {
	const limit = 5000 // under the fleet's 9,526 samples, over any two series'
	data := testFleet(6*time.Hour, 15*time.Second, "honor")
	api := startVMRaw(t, data, vmtest.WithMaxSamplesPerQuery(limit))
	cfg := promquery.DefaultConfig()
	cfg.MaxSamples, cfg.SampleLimit = limit, promquery.SelectedSamples
	res := checkRead(t, api, cfg, data, 6*time.Hour)
	if len(res.Plan.Shards) < 2 || len(res.Plan.Slices) < 2 {
		t.Fatalf("plan not sharded: %d shards × %d slices", len(res.Plan.Shards), len(res.Plan.Slices))
	}
	// Planned as if the limit counted the peak (Prometheus), the window
	// fits one query, which VictoriaMetrics refuses.
	peak := promquery.DefaultConfig()
	peak.MaxSamples = limit
	r, err := promquery.NewReader(api, peak, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(t.Context(), readEnd, 6*time.Hour); err == nil || !strings.Contains(err.Error(), "maxSamplesPerQuery") {
		t.Fatalf("peak-planned query against a %d-sample limit: %v; want the server's -search.maxSamplesPerQuery error", limit, err)
	}
}

func TestReadRealVictoriaMetricsExcludesBadSamples(t *testing.T) {
	data := testFleet(time.Hour, 15*time.Second, "exported")
	endIdx := 0
	for i, ts := range data[0].ts {
		if ts.Equal(readEnd) {
			endIdx = i
		}
	}
	bad := []float64{math.NaN(), -1, 150, math.Inf(1)}
	for i, v := range bad {
		data[0].v[endIdx-41*i] = v
	}
	res := checkRead(t, startVMRaw(t, data), promquery.DefaultConfig(), data, time.Hour)
	var badSeen int64
	for _, s := range res.Input.Series {
		for _, c := range s.Chunks {
			badSeen += c.BadSamples
		}
	}
	// VictoriaMetrics drops a NaN sample on ingestion (it keeps only
	// Prometheus's staleness-marker NaN): the other three are stored, read
	// and excluded.
	if want := int64(len(bad) - 1); badSeen != want || res.Rereads == 0 {
		t.Fatalf("%d bad samples, %d rereads; want %d bad", badSeen, res.Rereads, want)
	}
}

func TestReadProfilingSignalsRealVictoriaMetrics(t *testing.T) {
	series := profilingFleet()
	checkProfilingRead(t, startVM(t, series), exporterSeries(series), promquery.SemanticsAuto, promquery.LeftOpen)
}
