package promquery_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/promquery"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// rawSeries is ground truth: the samples a test writes into Prometheus.
type rawSeries struct {
	labels map[string]string
	ts     []time.Time
	v      []float64
}

var readEnd = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

// testFleet writes series whose samples sit on exact multiples of the scrape
// interval, so many fall exactly on chunk boundaries: a double-counted or
// dropped boundary sample shows up as a wrong count.
func testFleet(window, interval time.Duration, layout string) []rawSeries {
	type spec struct {
		ns, pod, node, gpu string
		value              func(i int) float64
		gap                bool
	}
	specs := []spec{
		{"team-a", "miner-0", "node-1", "0", func(i int) float64 { return 99 + float64(i%3)*0.5 }, false},
		{"team-a", "train-0", "node-1", "1", func(i int) float64 { return 50 + 45*math.Sin(float64(i)/7) }, false},
		{"ns-2", "train-0", "node-2", "0", func(i int) float64 { return float64(i % 101) }, true},
		{"", "", "node-2", "1", func(int) float64 { return 0 }, false},
		{"team-b", `we"ird\pod`, "node-3", "0", func(i int) float64 { return 97 }, false},
	}
	var out []rawSeries
	start := readEnd.Add(-window - time.Hour) // history before the window too
	for _, s := range specs {
		l := map[string]string{"__name__": "DCGM_FI_DEV_GPU_UTIL", "Hostname": s.node, "gpu": s.gpu,
			"UUID": "GPU-" + s.node + "-" + s.gpu, "modelName": "NVIDIA H100 80GB HBM3", "job": "nvidia-dcgm-exporter", "instance": s.node + ":9400"}
		switch {
		case s.pod == "" && layout == "exported":
			l["namespace"], l["pod"] = "gpu-operator", "nvidia-dcgm-exporter-"+s.node
		case layout == "exported":
			l["namespace"], l["pod"] = "gpu-operator", "nvidia-dcgm-exporter-"+s.node
			l["exported_namespace"], l["exported_pod"], l["exported_container"] = s.ns, s.pod, "main"
		case s.pod != "":
			l["namespace"], l["pod"], l["container"] = s.ns, s.pod, "main"
		}
		r := rawSeries{labels: l}
		i := 0
		for t := start; !t.After(readEnd.Add(time.Hour)); t = t.Add(interval) {
			i++
			if s.gap && t.After(readEnd.Add(-window/2)) && t.Before(readEnd.Add(-window/2+20*time.Minute)) {
				continue
			}
			r.ts, r.v = append(r.ts, t), append(r.v, s.value(i))
		}
		out = append(out, r)
	}
	return out
}

// direct computes each series' statistics over (end-window, end] straight
// from the raw samples, keyed like the reader's output.
func direct(data []rawSeries, end time.Time, window time.Duration) map[string]analyzer.Moments {
	out := map[string]analyzer.Moments{}
	for _, r := range data {
		var xs []float64
		for i, t := range r.ts {
			if t.After(end.Add(-window)) && !t.After(end) {
				xs = append(xs, r.v[i])
			}
		}
		m, _ := analyzer.MomentsOf(xs, 0, 100)
		out[r.labels["UUID"]] = m
	}
	return out
}

// checkRead reads the window and compares every series with the direct
// computation within 1e-9 relative.
func checkRead(t *testing.T, api promquery.API, cfg promquery.Config, data []rawSeries, window time.Duration) promquery.Result {
	t.Helper()
	return checkReadAt(t, api, cfg, data, readEnd, window)
}

// checkReadAt is checkRead for the window ending at end.
func checkReadAt(t *testing.T, api promquery.API, cfg promquery.Config, data []rawSeries, end time.Time, window time.Duration) promquery.Result {
	t.Helper()
	r, err := promquery.NewReader(api, cfg, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Read(context.Background(), end, window)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Fatalf("warnings: %v", res.Warnings)
	}
	want := direct(data, end, window)
	if len(res.Input.Series) != len(want) {
		t.Fatalf("%d series read, want %d", len(res.Input.Series), len(want))
	}
	for _, s := range res.Input.Series {
		var got analyzer.Moments
		for _, c := range s.Chunks {
			got = got.Merge(c.Moments)
		}
		w := want[s.GPU.UUID]
		if got.Count != w.Count || !close(got.Mean, w.Mean) || !close(got.StdDev(), w.StdDev()) || got.Min != w.Min || got.Max != w.Max {
			t.Errorf("%s (%s/%s): read %+v stddev %v, direct %+v stddev %v", s.GPU.UUID, s.Workload.Namespace, s.Workload.Pod, got, got.StdDev(), w, w.StdDev())
		}
	}
	return res
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func load(t *testing.T, data []rawSeries) *embedded.Prometheus {
	t.Helper()
	p, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	for _, r := range data {
		if err := p.Append(r.labels, r.ts, r.v); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestReadEmbeddedMatchesDirectComputation(t *testing.T) {
	for _, interval := range []time.Duration{15 * time.Second, 30 * time.Second} {
		for _, layout := range []string{"honor", "exported"} {
			t.Run(fmt.Sprintf("%v/%s", interval, layout), func(t *testing.T) {
				data := testFleet(6*time.Hour, interval, layout)
				res := checkRead(t, load(t, data), promquery.DefaultConfig(), data, 6*time.Hour)
				if res.Semantics != promquery.LeftOpen {
					t.Fatalf("embedded engine probed as %s, want left-open", res.Semantics)
				}
				pods := map[string]bool{}
				for _, s := range res.Input.Series {
					pods[s.Workload.Namespace+"/"+s.Workload.Pod] = true
				}
				for _, want := range []string{"team-a/miner-0", "team-a/train-0", "ns-2/train-0", `team-b/we"ird\pod`, "/"} {
					if !pods[want] {
						t.Errorf("pod %q missing; got %v", want, pods)
					}
				}
				if pods["gpu-operator/nvidia-dcgm-exporter-node-2"] {
					t.Error("the exporter's own pod taken for a workload")
				}
			})
		}
	}
}

// Cutting the fleet into node shards and the window into time slices changes
// nothing in the numbers.
func TestReadShardedEqualsWhole(t *testing.T) {
	data := testFleet(6*time.Hour, 15*time.Second, "honor")
	api := load(t, data)
	for _, c := range []struct {
		minInterval    time.Duration
		maxSamples     int64
		window         time.Duration
		shards, slices int
	}{
		// 5 series × 72 chunks + the 301 samples of one chunk at 1 s are
		// over half of 1000: the window is cut in two.
		{time.Second, 1000, 6 * time.Hour, 1, 2},
		// One chunk of the 5 series (5 + 46 samples at 6.6 s) is over half
		// of 100: node shards of at most 2 series, 2 chunks a query.
		{6600 * time.Millisecond, 100, time.Hour, 3, 6},
	} {
		cfg := promquery.DefaultConfig()
		cfg.MaxSamples, cfg.MinScrapeInterval = c.maxSamples, c.minInterval
		res := checkRead(t, api, cfg, data, c.window)
		if len(res.Plan.Shards) != c.shards || len(res.Plan.Slices) != c.slices {
			t.Fatalf("plan %d shards × %d slices, want %d × %d", len(res.Plan.Shards), len(res.Plan.Slices), c.shards, c.slices)
		}
	}
}

// Read alone, utilization's five statistics are cut so that two slots
// stay busy to the last round, with the same numbers.
func TestReadLoneFamilyFillsSlots(t *testing.T) {
	data := testFleet(6*time.Hour, 15*time.Second, "honor")
	cfg := promquery.DefaultConfig()
	cfg.Profiling, cfg.Concurrency = nil, 2
	res := checkRead(t, load(t, data), cfg, data, 6*time.Hour)
	if len(res.Plan.Slices) != 2 || res.Queries() != 10 {
		t.Fatalf("%d slices, %d queries; want the window in two, ten queries", len(res.Plan.Slices), res.Queries())
	}
}

// NaN, ±Inf, negative and >100 samples are excluded exactly: the chunks that
// hold them are re-read raw.
func TestReadExcludesBadSamplesExactly(t *testing.T) {
	data := testFleet(time.Hour, 15*time.Second, "honor")
	bad := []float64{math.NaN(), math.Inf(1), -5, 150, math.Inf(-1)}
	endIdx := 0
	for i, ts := range data[0].ts {
		if ts.Equal(readEnd) {
			endIdx = i
		}
	}
	for i := range bad {
		data[0].v[endIdx-37*i] = bad[i] // the first one on the window's last sample
	}
	res := checkRead(t, load(t, data), promquery.DefaultConfig(), data, time.Hour)
	if res.Rereads == 0 {
		t.Fatal("no chunk re-read")
	}
	var badSeen int64
	for _, s := range res.Input.Series {
		for _, c := range s.Chunks {
			badSeen += c.BadSamples
		}
	}
	if badSeen != int64(len(bad)) {
		t.Fatalf("%d bad samples counted, want %d", badSeen, len(bad))
	}
}

// warningAPI adds a server warning to every answer, as a Thanos querier with
// a store down does.
type warningAPI struct{ promquery.API }

func (w warningAPI) QueryRange(ctx context.Context, q string, r v1.Range, o ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	v, ws, is, err := w.API.QueryRange(ctx, q, r, o...)
	return v, append(ws, "store gpu-east unavailable: partial response"), is, err
}

func TestReadReportsWarnings(t *testing.T) {
	data := testFleet(time.Hour, 15*time.Second, "honor")
	r, err := promquery.NewReader(warningAPI{load(t, data)}, promquery.DefaultConfig(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Read(context.Background(), readEnd, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "partial response") {
		t.Fatalf("warnings %v, want the server's one warning, once", res.Warnings)
	}
}

func TestReadFiltersNamespacesAndSelector(t *testing.T) {
	data := testFleet(time.Hour, 15*time.Second, "honor")
	cfg := promquery.DefaultConfig()
	cfg.ExcludeNamespaces = []string{"team-a"}
	cfg.Selector = `{Hostname!="node-3"}`
	r, err := promquery.NewReader(load(t, data), cfg, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Read(context.Background(), readEnd, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range res.Input.Series {
		got = append(got, s.Workload.Namespace+"/"+s.Workload.Pod)
	}
	if strings.Join(got, ",") != "ns-2/train-0,/" && strings.Join(got, ",") != "/,ns-2/train-0" {
		t.Fatalf("series %v, want ns-2/train-0 and the unattributed GPU", got)
	}
}
