package embedded

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/miner-detector/miner-detector/promquery"
)

var _ promquery.API = (*Prometheus)(nil)

// base is a fixed, minute-aligned time for reproducible data.
var base = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

const scrape = 15 * time.Second

func openTest(t *testing.T, opts ...Options) *Prometheus {
	t.Helper()
	p, err := OpenTemp(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// wave is a deterministic, varying utilization-like signal.
func wave(n int, seed float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 50 + 40*math.Sin(float64(i)*0.37+seed) + float64(i%5)
	}
	return v
}

type moments struct{ n, mean, stddev, min, max float64 }

// direct computes count, mean, population stddev, min and max.
func direct(xs []float64) moments {
	m := moments{n: float64(len(xs)), min: math.Inf(1), max: math.Inf(-1)}
	var sum float64
	for _, x := range xs {
		sum += x
		m.min = math.Min(m.min, x)
		m.max = math.Max(m.max, x)
	}
	m.mean = sum / m.n
	var ss float64
	for _, x := range xs {
		ss += (x - m.mean) * (x - m.mean)
	}
	m.stddev = math.Sqrt(ss / m.n)
	return m
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func instant(t *testing.T, p *Prometheus, q string, ts time.Time) model.Vector {
	t.Helper()
	v, warns, infos, err := p.Query(context.Background(), q, ts)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if len(warns) > 0 || len(infos) > 0 {
		t.Fatalf("%s: unexpected annotations %v %v", q, warns, infos)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		t.Fatalf("%s: got %T, want model.Vector", q, v)
	}
	return vec
}

func scalarOf(t *testing.T, p *Prometheus, q string, ts time.Time) float64 {
	t.Helper()
	vec := instant(t, p, q, ts)
	if len(vec) != 1 {
		t.Fatalf("%s: got %d samples, want 1: %v", q, len(vec), vec)
	}
	return float64(vec[0].Value)
}

func TestInstantOverTimeIsLeftOpen(t *testing.T) {
	p := openTest(t)
	vals := wave(480, 0) // 2 h at 15 s
	if err := p.AppendEvery(map[string]string{"__name__": "m", "gpu": "0"}, base, scrape, vals); err != nil {
		t.Fatal(err)
	}
	i := 240 // a sample timestamp
	at := base.Add(time.Duration(i) * scrape)
	// (at-1m, at] holds samples i-3..i; the one at exactly at-1m is excluded.
	want := direct(vals[i-3 : i+1])
	if want.n != 4 {
		t.Fatalf("bad fixture: %v", want)
	}
	for _, c := range []struct {
		q    string
		want float64
	}{
		{`count_over_time(m[1m])`, want.n},
		{`avg_over_time(m[1m])`, want.mean},
		{`stddev_over_time(m[1m])`, want.stddev},
		{`min_over_time(m[1m])`, want.min},
		{`max_over_time(m[1m])`, want.max},
	} {
		if got := scalarOf(t, p, c.q, at); !near(got, c.want) {
			t.Errorf("%s at sample time = %v, want %v", c.q, got, c.want)
		}
	}
	// Between samples the window (at+7s-1m, at+7s] still holds 4 samples.
	if got := scalarOf(t, p, `count_over_time(m[1m])`, at.Add(7*time.Second)); got != 4 {
		t.Errorf("count between samples = %v, want 4", got)
	}

	// The raw range selector returns exactly those samples, as a matrix.
	v, _, _, err := p.Query(context.Background(), `m[1m]`, at)
	if err != nil {
		t.Fatal(err)
	}
	mat, ok := v.(model.Matrix)
	if !ok || len(mat) != 1 || len(mat[0].Values) != 4 {
		t.Fatalf("m[1m] = %#v, want one series of 4 samples", v)
	}
	if first := mat[0].Values[0]; !first.Timestamp.Time().Equal(at.Add(-45*time.Second)) || float64(first.Value) != vals[i-3] {
		t.Errorf("first sample of m[1m] = %v, want %v @ %v", first, vals[i-3], at.Add(-45*time.Second))
	}
	if got := mat[0].Metric; got["gpu"] != "0" || got["__name__"] != "m" {
		t.Errorf("metric = %v", got)
	}
}

func TestQueryRangeChunks(t *testing.T) {
	p := openTest(t)
	vals := wave(6*240, 1) // 6 h at 15 s
	if err := p.AppendEvery(map[string]string{"__name__": "m", "gpu": "1"}, base, scrape, vals); err != nil {
		t.Fatal(err)
	}
	start, end := base.Add(2*time.Hour+5*time.Minute), base.Add(3*time.Hour)
	r := v1.Range{Start: start, End: end, Step: 5 * time.Minute}
	q := func(expr string) model.Matrix {
		t.Helper()
		v, warns, _, err := p.QueryRange(context.Background(), expr, r)
		if err != nil {
			t.Fatal(err)
		}
		if len(warns) > 0 {
			t.Fatalf("warnings: %v", warns)
		}
		m, ok := v.(model.Matrix)
		if !ok || len(m) != 1 {
			t.Fatalf("%s: got %#v, want a one-series matrix", expr, v)
		}
		if len(m[0].Values) != 12 {
			t.Fatalf("%s: got %d points, want 12", expr, len(m[0].Values))
		}
		return m
	}
	counts := q(`count_over_time(m[5m])`)
	avgs := q(`avg_over_time(m[5m])`)
	total := 0.0
	for k, pt := range counts[0].Values {
		ts := start.Add(time.Duration(k) * r.Step)
		if !pt.Timestamp.Time().Equal(ts) {
			t.Errorf("point %d at %v, want %v", k, pt.Timestamp.Time(), ts)
		}
		if pt.Value != 20 {
			t.Errorf("point %d count = %v, want exactly 20", k, pt.Value)
		}
		total += float64(pt.Value)
		// Samples in (ts-5m, ts]: indices j-19..j where ts = base + j*15s.
		j := int(ts.Sub(base) / scrape)
		if want := direct(vals[j-19 : j+1]).mean; !near(float64(avgs[0].Values[k].Value), want) {
			t.Errorf("point %d avg = %v, want %v", k, avgs[0].Values[k].Value, want)
		}
	}
	// Left-open chunks tile the hour: every sample is counted exactly once.
	if total != 240 {
		t.Errorf("sum of chunk counts = %v, want 240", total)
	}
}

func TestQueryRangeValidation(t *testing.T) {
	p := openTest(t)
	for name, r := range map[string]v1.Range{
		"zero step":        {Start: base, End: base.Add(time.Hour)},
		"end before start": {Start: base, End: base.Add(-time.Minute), Step: time.Minute},
		"too many steps":   {Start: base, End: base.Add(24 * time.Hour), Step: time.Second},
	} {
		_, _, _, err := p.QueryRange(context.Background(), `up`, r)
		var apiErr *v1.Error
		if !errors.As(err, &apiErr) || apiErr.Type != v1.ErrBadData {
			t.Errorf("%s: err = %v, want bad_data", name, err)
		}
	}
	// A range vector is not a valid range query, as on the server.
	_, _, _, err := p.QueryRange(context.Background(), `up[5m]`, v1.Range{Start: base, End: base.Add(time.Hour), Step: time.Minute})
	var apiErr *v1.Error
	if !errors.As(err, &apiErr) || apiErr.Type != v1.ErrBadData {
		t.Errorf("range vector in range query: err = %v, want bad_data", err)
	}
}

// TestHistoryAcrossSeries appends 26 h histories one series after another
// (the second series starts far behind the first's newest sample), then a
// history ending at a fixed time in the past, then the older half of a
// series after its newer half.
func TestHistoryAcrossSeries(t *testing.T) {
	p := openTest(t)
	now := time.Now().Truncate(time.Second)
	n := 26 * 240
	first := now.Add(-time.Duration(n-1) * scrape)
	for gpu := range 3 {
		lset := map[string]string{"__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": fmt.Sprint(gpu)}
		if err := p.AppendEvery(lset, first, scrape, wave(n, float64(gpu))); err != nil {
			t.Fatalf("gpu %d: %v", gpu, err)
		}
	}
	for _, s := range instant(t, p, `count_over_time(DCGM_FI_DEV_GPU_UTIL[24h])`, now) {
		if s.Value != 24*240 {
			t.Errorf("%v: count over 24h = %v, want %d", s.Metric, s.Value, 24*240)
		}
	}
	if got := len(instant(t, p, `DCGM_FI_DEV_GPU_UTIL`, now)); got != 3 {
		t.Errorf("series now = %d, want 3", got)
	}

	// A replay fixture ending at a fixed time, appended after "now" data.
	vals := wave(n, 7)
	if err := p.AppendEvery(map[string]string{"__name__": "replay", "gpu": "0"}, base, scrape, vals); err != nil {
		t.Fatal(err)
	}
	end := base.Add(time.Duration(n-1) * scrape)
	if got, want := scalarOf(t, p, `avg_over_time(replay[24h])`, end), direct(vals[n-24*240:]).mean; !near(got, want) {
		t.Errorf("replay avg = %v, want %v", got, want)
	}

	// Newer half first, then the older half: the TSDB's out-of-order path.
	ms := make([]int64, n)
	for i := range ms {
		ms[i] = base.Add(time.Duration(i) * scrape).UnixMilli()
	}
	if err := p.AppendMillis(labelsOf("ooo"), ms[n/2:], vals[n/2:]); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendMillis(labelsOf("ooo"), ms[:n/2], vals[:n/2]); err != nil {
		t.Fatal(err)
	}
	if got, want := scalarOf(t, p, `stddev_over_time(ooo[24h])`, end), direct(vals[n-24*240:]).stddev; !near(got, want) {
		t.Errorf("out-of-order stddev = %v, want %v", got, want)
	}
	if got := scalarOf(t, p, `count_over_time(ooo[30h])`, end); got != float64(n) {
		t.Errorf("out-of-order count = %v, want %d", got, n)
	}
}

func TestAppendRejects(t *testing.T) {
	p := openTest(t)
	lset := map[string]string{"__name__": "m"}
	if err := p.Append(lset, []time.Time{base, base}, []float64{1, 2}); err == nil {
		t.Error("equal timestamps accepted")
	}
	if err := p.Append(lset, []time.Time{base}, []float64{1, 2}); err == nil {
		t.Error("length mismatch accepted")
	}
	if err := p.Append(map[string]string{"a": ""}, []time.Time{base}, []float64{1}); err == nil {
		t.Error("empty label set accepted")
	}
	if err := p.Append(map[string]string{"__name__": "m", "bad": "\xff"}, []time.Time{base}, []float64{1}); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
	// A conflicting value at an existing timestamp is refused by the TSDB.
	if err := p.Append(lset, []time.Time{base}, []float64{1}); err != nil {
		t.Fatal(err)
	}
	if err := p.Append(lset, []time.Time{base}, []float64{2}); err == nil {
		t.Error("duplicate sample with a different value accepted")
	}
	// Empty values are dropped, as Prometheus does.
	if err := p.Append(map[string]string{"__name__": "e", "pod": ""}, []time.Time{base}, []float64{3}); err != nil {
		t.Fatal(err)
	}
	vec := instant(t, p, `e`, base)
	if len(vec) != 1 || len(vec[0].Metric) != 1 {
		t.Errorf("e = %v, want one series with only __name__", vec)
	}
}

func TestSeries(t *testing.T) {
	p := openTest(t)
	weird := `we"ird\pod` // a double quote and a backslash
	sets := []map[string]string{
		{"__name__": "DCGM_FI_DEV_GPU_UTIL", "namespace": "ns", "pod": weird, "gpu": "0"},
		{"__name__": "DCGM_FI_DEV_GPU_UTIL", "namespace": "ns", "pod": "plain", "gpu": "1"},
		{"__name__": "DCGM_FI_DEV_GPU_UTIL", "namespace": "other", "pod": "x", "gpu": "0"},
	}
	for _, s := range sets {
		if err := p.AppendEvery(s, base, scrape, wave(240, 0)); err != nil {
			t.Fatal(err)
		}
	}
	// Only outside the queried range.
	late := map[string]string{"__name__": "DCGM_FI_DEV_GPU_UTIL", "namespace": "ns", "pod": "late"}
	if err := p.AppendEvery(late, base.Add(5*time.Hour), scrape, wave(10, 0)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	from, to := base, base.Add(time.Hour)

	// %q quotes Go-style, which PromQL string literals accept.
	sel := fmt.Sprintf(`DCGM_FI_DEV_GPU_UTIL{pod=%q}`, weird)
	got, _, _, err := p.Series(ctx, []string{sel}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], toLabelSet(sets[0])) {
		t.Errorf("Series(%s) = %v, want [%v]", sel, got, sets[0])
	}
	// Pasting the value unescaped cannot find the series.
	naive := `DCGM_FI_DEV_GPU_UTIL{pod="` + weird + `"}`
	if got, _, _, err := p.Series(ctx, []string{naive}, from, to); err == nil && len(got) != 0 {
		t.Errorf("unescaped selector matched %v", got)
	}
	// The value also round-trips through a query.
	vec := instant(t, p, `last_over_time(`+sel+`[1m])`, base.Add(30*time.Minute))
	if len(vec) != 1 || string(vec[0].Metric["pod"]) != weird {
		t.Errorf("query by escaped pod = %v", vec)
	}

	// Several selectors: the union, each series once, "late" excluded by time.
	got, _, _, err = p.Series(ctx, []string{`{namespace="ns"}`, `DCGM_FI_DEV_GPU_UTIL{gpu="0"}`, `{pod=~"plain|x"}`}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("union = %v, want the 3 series in range", got)
	}
	for _, ls := range got {
		if ls["pod"] == "late" {
			t.Errorf("series outside the time range returned: %v", ls)
		}
	}
	// Unbounded time range finds "late" too.
	got, _, _, err = p.Series(ctx, []string{`{namespace="ns"}`}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("unbounded = %v, want 3 series", got)
	}

	for _, bad := range [][]string{nil, {`{pod=~".*"}`}, {`{pod="`}} {
		_, _, _, err := p.Series(ctx, bad, from, to)
		var apiErr *v1.Error
		if !errors.As(err, &apiErr) || apiErr.Type != v1.ErrBadData {
			t.Errorf("Series(%q): err = %v, want bad_data", bad, err)
		}
	}
}

func TestMaxSamples(t *testing.T) {
	p := openTest(t, Options{MaxSamples: 100})
	if err := p.AppendEvery(map[string]string{"__name__": "m"}, base, scrape, wave(481, 0)); err != nil {
		t.Fatal(err)
	}
	at := base.Add(2 * time.Hour)
	// 20 samples fit.
	if got := scalarOf(t, p, `count_over_time(m[5m])`, at); got != 20 {
		t.Fatalf("count = %v, want 20", got)
	}
	_, _, _, err := p.Query(context.Background(), `count_over_time(m[1h])`, at)
	if err == nil || !strings.Contains(err.Error(), "too many samples") {
		t.Fatalf("err = %v, want too many samples", err)
	}
	var apiErr *v1.Error
	if !errors.As(err, &apiErr) || apiErr.Type != v1.ErrExec {
		t.Errorf("err = %v, want a *v1.Error of type execution", err)
	}
	var tooMany promql.ErrTooManySamples
	if !errors.As(err, &tooMany) {
		t.Errorf("err = %v does not wrap promql.ErrTooManySamples", err)
	}
	// A raw range query over the same data also trips the limit.
	_, _, _, err = p.QueryRange(context.Background(), `m`, v1.Range{Start: base, End: at, Step: 15 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "too many samples") {
		t.Errorf("range err = %v, want too many samples", err)
	}
}

func TestParseError(t *testing.T) {
	p := openTest(t)
	ctx := context.Background()
	_, _, _, err := p.Query(ctx, `sum(rate(m[5m])`, base)
	var apiErr *v1.Error
	if err == nil || !errors.As(err, &apiErr) || apiErr.Type != v1.ErrBadData || !strings.Contains(err.Error(), "parse error") {
		t.Errorf("Query: err = %v, want bad_data parse error", err)
	}
	_, _, _, err = p.QueryRange(ctx, `m{`, v1.Range{Start: base, End: base.Add(time.Hour), Step: time.Minute})
	if err == nil || !errors.As(err, &apiErr) || apiErr.Type != v1.ErrBadData {
		t.Errorf("QueryRange: err = %v, want bad_data", err)
	}
}

func TestAnnotationsAndValueTypes(t *testing.T) {
	p := openTest(t)
	if err := p.AppendEvery(map[string]string{"__name__": "m"}, base, scrape, wave(40, 0)); err != nil {
		t.Fatal(err)
	}
	at := base.Add(9 * time.Minute)
	ctx := context.Background()

	_, warns, _, err := p.Query(ctx, `quantile_over_time(2, m[5m])`, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "quantile value should be between 0 and 1") {
		t.Errorf("warnings = %q, want the quantile warning", warns)
	}
	_, warns, infos, err := p.Query(ctx, `rate(m[5m])`, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 || len(infos) != 1 || !strings.Contains(infos[0], "might not be a counter") {
		t.Errorf("warnings %q infos %q, want one counter info", warns, infos)
	}

	v, _, _, err := p.Query(ctx, `1 + 1`, at)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := v.(*model.Scalar); !ok || s.Value != 2 || !s.Timestamp.Time().Equal(at) {
		t.Errorf("1 + 1 = %#v", v)
	}
	v, _, _, err = p.Query(ctx, `"hi"`, at)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := v.(*model.String); !ok || s.Value != "hi" {
		t.Errorf(`"hi" = %#v`, v)
	}
	// An instant query with no time evaluates now: the data is far older.
	if vec := instant(t, p, `m`, time.Time{}); len(vec) != 0 {
		t.Errorf("m now = %v, want nothing (data is from %v)", vec, base)
	}
}

func TestContextCanceled(t *testing.T) {
	p := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range map[string]func() error{
		"query": func() error { _, _, _, err := p.Query(ctx, `up`, base); return err },
		"range": func() error {
			_, _, _, err := p.QueryRange(ctx, `up`, v1.Range{Start: base, End: base.Add(time.Hour), Step: time.Minute})
			return err
		},
		"series": func() error { _, _, _, err := p.Series(ctx, []string{`up`}, base, base.Add(time.Hour)); return err },
	} {
		err := call()
		var apiErr *v1.Error
		if !errors.Is(err, context.Canceled) || !errors.As(err, &apiErr) || apiErr.Type != v1.ErrCanceled {
			t.Errorf("%s: err = %v, want canceled wrapping context.Canceled", name, err)
		}
	}
}

func TestCloseAndDirectories(t *testing.T) {
	// Open leaves the caller's directory in place.
	dir := filepath.Join(t.TempDir(), "tsdb")
	p, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("Open's dir gone after Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var apiErr *v1.Error
	if _, _, _, err := p.Query(context.Background(), `up`, base); !errors.As(err, &apiErr) || apiErr.Type != v1.ErrClient {
		t.Errorf("Query after Close: err = %v, want client_error", err)
	}
	if err := p.Append(map[string]string{"__name__": "m"}, []time.Time{base}, []float64{1}); err == nil {
		t.Error("Append after Close succeeded")
	}

	// OpenTemp removes its own directory.
	q, err := OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	tmp := q.Dir()
	if _, err := os.Stat(tmp); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("OpenTemp's dir %s still there: %v", tmp, err)
	}
}

func TestToHistogram(t *testing.T) {
	h := &histogram.FloatHistogram{
		Schema:          0,
		Count:           3,
		Sum:             4.5,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 3}},
		PositiveBuckets: []float64{1, 0, 2}, // (0.5,1]: 1, (1,2]: 0, (2,4]: 2
	}
	got := toHistogram(h)
	want := &model.SampleHistogram{Count: 3, Sum: 4.5, Buckets: model.HistogramBuckets{
		{Boundaries: 0, Lower: 0.5, Upper: 1, Count: 1},
		{Boundaries: 0, Lower: 2, Upper: 4, Count: 2},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("toHistogram = %v, want %v", got, want)
	}
}

func toLabelSet(m map[string]string) model.LabelSet {
	out := model.LabelSet{}
	for k, v := range m {
		out[model.LabelName(k)] = model.LabelValue(v)
	}
	return out
}

func labelsOf(name string) labels.Labels { return labels.FromStrings("__name__", name) }

// TestConcurrent appends and queries at once; run with -race.
func TestConcurrent(t *testing.T) {
	p := openTest(t)
	const workers, n = 4, 960
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w := range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			lset := map[string]string{"__name__": "c", "gpu": fmt.Sprint(w)}
			// In slices, so queries interleave with commits.
			for k := 0; k < n; k += 120 {
				start := base.Add(time.Duration(k) * scrape)
				if err := p.AppendEvery(lset, start, scrape, wave(n, float64(w))[k:k+120]); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				if _, _, _, err := p.QueryRange(context.Background(), `count_over_time(c[5m])`,
					v1.Range{Start: base, End: base.Add(4 * time.Hour), Step: 5 * time.Minute}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	end := base.Add((n - 1) * scrape)
	vec := instant(t, p, `count_over_time(c[4h])`, end)
	if len(vec) != workers {
		t.Fatalf("got %d series, want %d", len(vec), workers)
	}
	for _, s := range vec {
		if s.Value != n {
			t.Errorf("%v: count = %v, want %d", s.Metric, s.Value, n)
		}
	}
}
