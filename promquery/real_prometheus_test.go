package promquery_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/promtest"
	"github.com/miner-detector/miner-detector/promquery"
)

// These tests run the same checks as the embedded-engine ones against a real
// Prometheus 2.x server (Debian's package), whose range selectors are closed
// [t-r, t]: samples sit on chunk boundaries, and a double-counted or dropped
// boundary sample would show as a wrong count.

func startReal(t *testing.T, data []rawSeries, opts ...promtest.Option) promquery.API {
	t.Helper()
	return client(t, startRealServer(t, data, opts...).URL)
}

// startRealServer serves data from a real Prometheus 2.x.
func startRealServer(t *testing.T, data []rawSeries, opts ...promtest.Option) *promtest.Server {
	t.Helper()
	var series []fleet.Series
	for _, r := range data {
		series = append(series, fleet.Series{Labels: r.labels, Times: r.ts, Values: r.v})
	}
	var om bytes.Buffer
	if err := fleet.WriteOpenMetrics(&om, series...); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, om.Bytes(), opts...)
	t.Logf("%s", srv)
	return srv
}

// client is the detector's HTTP client of the server at url.
func client(t *testing.T, url string) promquery.API {
	t.Helper()
	api, err := promquery.NewClient(promquery.Connection{URL: url, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func TestReadRealPrometheusMatchesDirectComputation(t *testing.T) {
	for _, interval := range []time.Duration{15 * time.Second, 30 * time.Second} {
		for _, layout := range []string{"honor", "exported"} {
			t.Run(fmt.Sprintf("%v/%s", interval, layout), func(t *testing.T) {
				data := testFleet(6*time.Hour, interval, layout)
				res := checkRead(t, startReal(t, data), promquery.DefaultConfig(), data, 6*time.Hour)
				if res.Semantics != promquery.Closed {
					t.Fatalf("Prometheus 2.x probed as %s, want closed", res.Semantics)
				}
			})
		}
	}
}

// Shards and slices on a real server with a real --query.max-samples: the
// numbers do not change and no query is refused.
func TestReadRealPrometheusShardedUnderSampleLimit(t *testing.T) {
	data := testFleet(6*time.Hour, 15*time.Second, "honor")
	api := startReal(t, data, promtest.WithMaxSamples(200))
	cfg := promquery.DefaultConfig()
	cfg.MaxSamples, cfg.MinScrapeInterval = 200, 15*time.Second
	res := checkRead(t, api, cfg, data, 6*time.Hour)
	if len(res.Plan.Shards)*len(res.Plan.Slices) < 2 {
		t.Fatalf("plan not cut: %d shards × %d slices", len(res.Plan.Shards), len(res.Plan.Slices))
	}
	// The same window in one query is over the server's limit: the plan is
	// what keeps the cycle working.
	whole := promquery.DefaultConfig()
	whole.MaxSamples = 50_000_000
	r, err := promquery.NewReader(api, whole, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(t.Context(), readEnd, 6*time.Hour); err == nil || !strings.Contains(err.Error(), "too many samples") {
		t.Fatalf("unplanned query against a 200-sample limit: %v; want the server's too-many-samples error", err)
	}
}

func TestReadRealPrometheusExcludesBadSamples(t *testing.T) {
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
	res := checkRead(t, startReal(t, data), promquery.DefaultConfig(), data, time.Hour)
	var badSeen int64
	for _, s := range res.Input.Series {
		for _, c := range s.Chunks {
			badSeen += c.BadSamples
		}
	}
	if badSeen != int64(len(bad)) || res.Rereads == 0 {
		t.Fatalf("%d bad samples, %d rereads; want %d bad", badSeen, res.Rereads, len(bad))
	}
}

// The plan's peak is Prometheus's own: the server's stats=all peakSamples
// for the plan's query never exceed it, and the whole window is one query
// when series × chunks + one chunk's samples fit, which a peak of series ×
// (chunks + one chunk's samples) would have cut in slices.
func TestPlanMatchesPrometheusPeakSamples(t *testing.T) {
	const maxSamples = 1400 // 5 series × 72 chunks + 301 samples at 1 s = 661, under half
	data := testFleet(6*time.Hour, 15*time.Second, "honor")
	srv := startRealServer(t, data, promtest.WithMaxSamples(maxSamples))
	api := client(t, srv.URL)
	cfg := promquery.DefaultConfig()
	cfg.MaxSamples = maxSamples
	res := checkRead(t, api, cfg, data, 6*time.Hour)
	if len(res.Plan.Shards) != 1 || len(res.Plan.Slices) != 1 {
		t.Fatalf("plan %d shards × %d slices, want the window in one query", len(res.Plan.Shards), len(res.Plan.Slices))
	}

	// The plan's query (one statistic), with the server's statistics.
	form := url.Values{
		"query": {"count_over_time(DCGM_FI_DEV_GPU_UTIL[5m])"},
		"start": {strconv.FormatInt(readEnd.Add(-6*time.Hour+5*time.Minute).Unix(), 10)},
		"end":   {strconv.FormatInt(readEnd.Unix(), 10)},
		"step":  {"300"},
		"stats": {"all"},
	}
	resp, err := http.PostForm(srv.URL+"/api/v1/query_range", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
			Stats  struct {
				Samples struct {
					PeakSamples int64 `json:"peakSamples"`
				} `json:"samples"`
			} `json:"stats"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	peak := answer.Data.Stats.Samples.PeakSamples
	points := int64(len(answer.Data.Result) * res.Plan.Steps)
	t.Logf("server peak %d samples (%d output points), planned %d", peak, points, res.Plan.PeakSamples)
	if len(answer.Data.Result) != 5 || peak <= points || peak > res.Plan.PeakSamples {
		t.Fatalf("server peak %d samples for %d series × %d chunks; want over the %d output points and at most the planned %d",
			peak, len(answer.Data.Result), res.Plan.Steps, points, res.Plan.PeakSamples)
	}
}
