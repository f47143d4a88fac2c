package promquery

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"golang.org/x/sync/errgroup"
)

// Reader reads one window of GPU utilization history as analyzer input.
type Reader struct {
	api  API
	cfg  Config
	attr attribution
	// valid bounds a valid sample (the analyzer's range): chunks holding
	// values outside it are re-read raw so exactly the bad samples are
	// excluded.
	validMin, validMax float64
	// slots holds one token per query in flight.
	slots chan struct{}
}

// NewReader checks the configuration and returns a Reader. validMin and
// validMax bound a valid sample, as the analyzer does.
func NewReader(api API, cfg Config, validMin, validMax float64) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Reader{api: api, cfg: cfg, attr: newAttribution(cfg), validMin: validMin, validMax: validMax,
		slots: make(chan struct{}, max(cfg.Concurrency, 1))}, nil
}

// Result is one window's data with what it took to read it.
type Result struct {
	Input analyzer.Input
	// Warnings from the server, or from the join, mean the data may be
	// partial: the cycle must take no action.
	Warnings  []string
	Semantics Semantics
	// Plan is how utilization was read; Profiling how each profiling
	// signal was (a signal with no series has an empty plan).
	Plan      QueryPlan
	Profiling []FamilyPlan
	// Rereads counts chunks re-read raw because they held invalid samples.
	Rereads int
	// Untrusted are the targets that served dcgm-exporter metric names
	// without being the exporter (Config.TrustedTargets): forged telemetry.
	// Their series are in no Input.Series.
	Untrusted []UntrustedTarget
	// Jobs counts the label sets read per `job`, trusted or not, sorted
	// by job: more jobs than the exporter's may mean a job that honors
	// tenants' labels, where forging cannot be told (see the README).
	Jobs []JobSeries
}

// JobSeries is how many label sets (GPUs and workloads) one job served.
type JobSeries struct {
	Job       string `json:"job"`
	Series    int    `json:"series"`
	Untrusted int    `json:"untrusted"`
}

// FamilyPlan is how one profiling signal's metric was read.
type FamilyPlan struct {
	Signal analyzer.Signal
	Metric string
	// Part, when set, is the share of the metric's series this read took
	// ("MIG instances", "whole GPUs"): a family read in two ways.
	Part string
	Plan QueryPlan
	// Windowed: read as window-level statistics (instant queries), one
	// chunk spanning the window per series.
	Windowed bool
	// Stats is how many statistics each query set asked for (5 chunked;
	// 2 or 3 windowed).
	Stats int
}

// Queries is how many range queries the read ran, every signal included.
func (r Result) Queries() int {
	n := r.Plan.Queries()
	for _, f := range r.Profiling {
		if f.Plan.Series > 0 {
			n += f.Plan.Queries() / len(stats) * f.Stats
		}
	}
	return n
}

// PeakSamples is the most samples one query of the read was planned to load.
func (r Result) PeakSamples() int64 {
	peak := r.Plan.PeakSamples
	for _, f := range r.Profiling {
		peak = max(peak, f.Plan.PeakSamples)
	}
	return peak
}

// Read evaluates the window (end-window, end]. end is truncated to the
// millisecond, Prometheus's resolution, so chunk ends match the answers.
func (r *Reader) Read(ctx context.Context, end time.Time, window time.Duration) (Result, error) {
	end = end.Truncate(time.Millisecond)
	res := Result{Input: analyzer.Input{End: end, Window: window}}
	chunk, err := r.cfg.ChunkFor(window)
	if err != nil {
		return res, err
	}
	res.Input.Chunk = chunk
	res.Input.Segment = r.cfg.SegmentFor(window, chunk)
	warn := func(ws []string) { res.Warnings = append(res.Warnings, ws...) }

	if res.Semantics, err = r.semantics(ctx, end, warn); err != nil {
		return res, err
	}
	base, err := r.cfg.baseMatchers()
	if err != nil {
		return res, err
	}
	fams := r.cfg.families()
	joined, plans, err := r.readFamilies(ctx, fams, base, end, window, chunk, res.Semantics)
	warn(joined.warnings)
	if err != nil {
		return res, err
	}
	for i, fam := range fams {
		if fam.signal == analyzer.SignalUtil {
			res.Plan = plans[i]
			continue
		}
		fp := FamilyPlan{Signal: fam.signal, Metric: fam.metric, Part: string(fam.part), Plan: plans[i], Windowed: fam.windowed, Stats: len(stats)}
		if fam.windowed {
			fp.Stats = bits.OnesCount8(fam.windowStats())
		}
		res.Profiling = append(res.Profiling, fp)
	}
	if err := r.build(ctx, &res, joined, warn); err != nil {
		return res, err
	}
	res.Warnings = dedupe(res.Warnings)
	return res, nil
}

// readFamilies reads every family concurrently into one joined set, with
// each family's plan; the set's warnings are sorted (the queries ran
// concurrently) and kept on error.
func (r *Reader) readFamilies(ctx context.Context, fams []family, base []*labels.Matcher, end time.Time, window, chunk time.Duration,
	sem Semantics) (*joinedSet, []QueryPlan, error) {
	joined := &joinedSet{families: len(fams), labels: map[model.Fingerprint]*labelSet{}, byRaw: map[string]*labelSet{}}
	plans := make([]QueryPlan, len(fams))
	g, gctx := errgroup.WithContext(ctx)
	lone := len(fams) == 1
	for i, fam := range fams {
		g.Go(func() error {
			var err error
			plans[i], err = r.readFamily(gctx, fam, lone, base, end, window, chunk, sem, joined)
			return err
		})
	}
	err := g.Wait()
	slices.Sort(joined.warnings)
	return joined, plans, err
}

// joinedSet is what the queries of one cycle, running concurrently, join
// their answers into.
type joinedSet struct {
	mu       sync.Mutex
	families int // how many families the read joins: a label set's signals at most
	labels   map[model.Fingerprint]*labelSet
	byRaw    map[string]*labelSet // by an answer's raw JSON of the labels
	warnings []string
}

// labelSet is one set of labels (without the metric name) that the read
// saw, shared by the series of every signal that carry it: at fleet scale
// the 17 families of one GPU hold one copy of its labels, not 17.
type labelSet struct {
	fp     model.Fingerprint
	metric model.Metric
	text   string // metric.String(): the sort key and the name in warnings
	// What the labels attribute the GPU to, once attributed.
	attributed bool
	source     *analyzer.Source
	// trusted: the exporter served it (TrustedTargets); decided with the
	// attribution.
	trusted bool
	// signals are the joined series carrying these labels, one per signal
	// (a GPU's 17 families): found by a scan of a few pointers, where a
	// map keyed by signal and labels cost 11 MB at 10,000 GPUs.
	signals []*joinedSeries
}

// sink joins one statistic of a family's answers.
func (js *joinedSet) sink(stat int, col *column) sampleSink {
	return func(l seriesLabels, pts []model.SamplePair) error {
		js.mu.Lock()
		defer js.mu.Unlock()
		j, err := js.joinedFor(l, col)
		if err != nil {
			return err
		}
		for _, p := range pts {
			j.set(p.Timestamp, stat, float64(p.Value))
		}
		return nil
	}
}

func (js *joinedSet) warn(ws []string) {
	if len(ws) == 0 {
		return
	}
	js.mu.Lock()
	defer js.mu.Unlock()
	js.warnings = append(js.warnings, ws...)
}

// readFamily reads one metric's chunk statistics over the window into
// joined, under the sample budget, its queries concurrently (at most
// Config.Concurrency in flight over the whole read). A lone family (the
// read has no other) is cut so that its queries fill every round of slots.
func (r *Reader) readFamily(ctx context.Context, fam family, lone bool, base []*labels.Matcher, end time.Time, window, chunk time.Duration,
	sem Semantics, joined *joinedSet) (QueryPlan, error) {
	base = withMetric(base, fam.metric)
	if m := fam.part.matcher(r.cfg.MIGInstanceLabel); m != nil {
		base = append(base, m)
	}
	perNode, err := r.seriesPerNode(ctx, fam.metric, base, end.Add(-window), end, joined.warn)
	if err != nil {
		return QueryPlan{}, err
	}
	if fam.signal != analyzer.SignalUtil && len(perNode) == 0 {
		return QueryPlan{Chunk: chunk}, nil // not exported here: the analyzer falls back and says so
	}
	want := allStats
	if fam.windowed {
		// One step per segment (one spanning the window, or each of its
		// parts): the plan shards the fleet so that each query loads at
		// most half of maxSamples.
		chunk, want = r.cfg.SegmentFor(window, chunk), fam.windowStats()
	}
	plan, err := planQueries(perNode, end, window, chunk, r.cfg.MinScrapeInterval, r.cfg.MaxSamples, r.cfg.SampleLimit)
	if err != nil {
		return plan, fmt.Errorf("plan queries for %s: %w", fam.metric, err)
	}
	if lone && !fam.windowed {
		plan = plan.evenRounds(r.cfg.Concurrency, len(stats), end, window)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, shard := range plan.Shards {
		ms := base
		if shard.Nodes != nil && len(plan.Shards) > 1 {
			m, err := oneOf(r.cfg.NodeLabel, shard.Nodes)
			if err != nil {
				return plan, fmt.Errorf("shard matcher: %w", err)
			}
			ms = append(slices.Clip(base), m)
		}
		sel := rangeOver(selector(fam.metric, ms), chunk, sem)
		col := &column{signal: fam.signal, metric: fam.metric, grid: newGrid(end, window, chunk), want: want}
		if fam.windowed && chunk == window {
			for i, s := range stats {
				if want&(1<<i) == 0 {
					continue
				}
				q, sink := chunkExpr(s, sel), joined.sink(i, col)
				g.Go(func() error {
					ws, err := r.query(gctx, q, end, sink)
					joined.warn(ws)
					if err != nil {
						return fmt.Errorf("query %s at %s: %w", q, end.Format(time.RFC3339), err)
					}
					return nil
				})
			}
			continue
		}
		for _, sl := range plan.Slices {
			for i, s := range stats {
				if want&(1<<i) == 0 {
					continue
				}
				q, sink := chunkExpr(s, sel), joined.sink(i, col)
				g.Go(func() error {
					ws, err := r.queryRange(gctx, q, v1.Range{Start: sl.First, End: sl.Last, Step: chunk}, sink)
					joined.warn(ws)
					if err != nil {
						return fmt.Errorf("query %s over %s..%s: %w", q, sl.First.Format(time.RFC3339), sl.Last.Format(time.RFC3339), err)
					}
					return nil
				})
			}
		}
	}
	return plan, g.Wait()
}

// acquire takes one of the read's query slots until release.
func (r *Reader) acquire(ctx context.Context) (release func(), err error) {
	select {
	case r.slots <- struct{}{}:
		return func() { <-r.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// query runs an instant query into sink, decoding it as it streams in when
// the API can.
func (r *Reader) query(ctx context.Context, q string, at time.Time, sink sampleSink) ([]string, error) {
	release, err := r.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if s, ok := r.api.(streamer); ok {
		return againIfCut(ctx, func() ([]string, error) { return s.queryInto(ctx, q, at, sink) })
	}
	v, ws, _, err := r.api.Query(ctx, q, at)
	if err != nil {
		return ws, err
	}
	return ws, feed(v, sink)
}

// queryRange runs a range query into sink, as query does.
func (r *Reader) queryRange(ctx context.Context, q string, rng v1.Range, sink sampleSink) ([]string, error) {
	release, err := r.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if s, ok := r.api.(streamer); ok {
		return againIfCut(ctx, func() ([]string, error) { return s.queryRangeInto(ctx, q, rng, sink) })
	}
	v, ws, _, err := r.api.QueryRange(ctx, q, rng)
	if err != nil {
		return ws, err
	}
	return ws, feed(v, sink)
}

// feed passes a materialised answer to sink, series by series.
func feed(v model.Value, sink sampleSink) error {
	switch v := v.(type) {
	case model.Matrix:
		for _, ss := range v {
			if err := sink(seriesLabels{metric: ss.Metric}, ss.Values); err != nil {
				return err
			}
		}
	case model.Vector:
		for _, s := range v {
			if err := sink(seriesLabels{metric: s.Metric}, []model.SamplePair{{Timestamp: s.Timestamp, Value: s.Value}}); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("got %s, want a vector or a matrix", v.Type())
	}
	return nil
}

// withMetric returns the matchers with the metric-name matcher set to metric.
func withMetric(ms []*labels.Matcher, metric string) []*labels.Matcher {
	out := make([]*labels.Matcher, 0, len(ms))
	out = append(out, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, metric))
	for _, m := range ms {
		if m.Name != labels.MetricName {
			out = append(out, m)
		}
	}
	return out
}

// semantics returns the configured range-selector semantics or probes the
// server for them.
func (r *Reader) semantics(ctx context.Context, end time.Time, warn func([]string)) (Semantics, error) {
	if r.cfg.RangeSemantics != SemanticsAuto {
		return r.cfg.RangeSemantics, nil
	}
	v, ws, _, err := r.api.Query(ctx, semanticsProbe, end.Truncate(30*time.Second))
	if err != nil {
		return "", fmt.Errorf("probe range-selector semantics: %w", err)
	}
	warn(ws)
	if vec, ok := v.(model.Vector); ok && len(vec) == 1 {
		switch vec[0].Value {
		case 2:
			return LeftOpen, nil
		case 3:
			return Closed, nil
		}
	}
	return "", fmt.Errorf("probe range-selector semantics: unexpected answer %v to %s; set rangeSemantics to left-open (Prometheus 3) or closed (Prometheus 2)", v, semanticsProbe)
}

// seriesPerNode counts the metric's series in the window per node, from the
// series index (no samples are read).
func (r *Reader) seriesPerNode(ctx context.Context, metric string, base []*labels.Matcher, start, end time.Time, warn func([]string)) (map[string]int, error) {
	release, err := r.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var out map[string]int
	count := func(node string) { out[node]++ }
	match := selector(metric, base).String()
	if s, ok := r.api.(streamer); ok {
		ws, err := againIfCut(ctx, func() ([]string, error) {
			out = map[string]int{} // a cut answer's series are counted again
			return s.seriesInto(ctx, match, start, end, r.cfg.NodeLabel, count)
		})
		warn(ws)
		if err != nil {
			return nil, fmt.Errorf("list series of %s: %w", metric, err)
		}
		return out, nil
	}
	out = map[string]int{}
	sets, ws, _, err := r.api.Series(ctx, []string{match}, start, end)
	if err != nil {
		return nil, fmt.Errorf("list series of %s: %w", metric, err)
	}
	warn(ws)
	for _, s := range sets {
		count(string(s[model.LabelName(r.cfg.NodeLabel)]))
	}
	return out, nil
}

// joinedSeries holds the five statistics of one series per chunk end, in
// a slice indexed by the chunk's position on its column's grid: no map, no
// pointer per point. They are held in the analyzer's own Chunk (Count, Mean,
// Min and Max in place, the stddev in M2 until build squares it, and which
// statistics arrived in BadSamples until build sets it), so build hands
// them over without a copy. It is three words and two pointers: a fleet
// holds one per GPU and signal (170,000 at 10,000 GPUs).
type joinedSeries struct {
	col    *column
	labels *labelSet
	chunks []analyzer.Chunk
}

// column is what the series of one family's queries share: the signal and
// metric they are joined under, the grid their points fall on, and want,
// the mask of the statistics read for the family (the others are filled
// in: min = max = mean, stddev 0).
type column struct {
	signal analyzer.Signal
	metric string
	grid   grid
	want   uint8
}

// allStats is the mask of every statistic: chunked families read them all.
var allStats = uint8(1<<len(stats) - 1)

// grid is where a family's points fall: the ends of n steps of step after
// start (chunks, or one step spanning the window).
type grid struct {
	start model.Time
	step  int64 // milliseconds
	n     int
}

func newGrid(end time.Time, window, step time.Duration) grid {
	return grid{start: model.TimeFromUnixNano(end.Add(-window).UnixNano()), step: step.Milliseconds(), n: int(window / step)}
}

// index is the position of the step ending at t, or -1 off the grid.
func (g grid) index(t model.Time) int {
	d := int64(t - g.start)
	if g.step <= 0 || d <= 0 || d%g.step != 0 || int(d/g.step) > g.n {
		return -1
	}
	return int(d/g.step) - 1
}

// end is the end of the step at position i.
func (g grid) end(i int) model.Time { return g.start + model.Time(int64(i+1)*g.step) }

// joinedFor is the joined series of the labels for the signal, created on
// first sight: series are joined by their labels without the metric name
// (which Prometheus's *_over_time functions drop), and the signal tells
// apart series with the same labels, and so does the metric: a field read
// under both of its names (DCGM 4.6's and the old alias) is two series of
// one signal, of which the analyzer counts the fuller per chunk, never
// both. Call with js.mu held.
func (js *joinedSet) joinedFor(l seriesLabels, col *column) (*joinedSeries, error) {
	ls, err := js.labelSetOf(l)
	if err != nil {
		return nil, err
	}
	for _, j := range ls.signals {
		if j.col.signal == col.signal && j.col.metric == col.metric {
			return j, nil
		}
	}
	if ls.signals == nil {
		ls.signals = make([]*joinedSeries, 0, js.families)
	}
	j := &joinedSeries{col: col, labels: ls, chunks: make([]analyzer.Chunk, col.grid.n)}
	ls.signals = append(ls.signals, j)
	return j, nil
}

// labelSetOf is the label set of an answer's series: found by its raw JSON
// when the read has seen those bytes, else decoded, and recorded. Call with
// js.mu held.
func (js *joinedSet) labelSetOf(l seriesLabels) (*labelSet, error) {
	if l.raw != nil {
		if ls, ok := js.byRaw[string(l.raw)]; ok {
			return ls, nil
		}
	}
	m, err := l.decode()
	if err != nil {
		return nil, err
	}
	// VictoriaMetrics keeps the metric name after the rollups that do not
	// change the meaning of the values (avg/min/max_over_time, not
	// count/stddev_over_time): "MetricsQL keeps metric names after applying
	// functions, which don't change the meaning of the original time
	// series" (docs.victoriametrics.com/victoriametrics/metricsql/). Join on
	// the labels alone, as on Prometheus, or the five answers of one series
	// land in two and every chunk is incomplete.
	delete(m, model.MetricNameLabel)
	fp := m.Fingerprint()
	ls := js.labels[fp]
	if ls == nil {
		ls = &labelSet{fp: fp, metric: m, text: m.String()}
		js.labels[fp] = ls
	}
	if l.raw != nil {
		js.byRaw[string(l.raw)] = ls
	}
	return ls, nil
}

// set records one statistic at t; a point off the grid is outside the
// window and dropped.
func (j *joinedSeries) set(t model.Time, stat int, v float64) {
	i := j.col.grid.index(t)
	if i < 0 {
		return
	}
	c := &j.chunks[i]
	switch stat {
	case 0:
		c.Count = int64(math.Round(v))
	case 1:
		c.Mean = v
	case 2:
		c.M2 = v // the stddev, until build
	case 3:
		c.Min = v
	case 4:
		c.Max = v
	}
	c.BadSamples |= 1 << stat // the statistics seen, until build
}

// build turns joined statistics into analyzer series, re-reading chunks that
// hold invalid samples.
func (r *Reader) build(ctx context.Context, res *Result, joined *joinedSet, warn func([]string)) error {
	// A stable order, by signal then labels.
	n := 0
	for _, ls := range joined.labels {
		n += len(ls.signals)
	}
	order := make([]*joinedSeries, 0, n)
	for _, ls := range joined.labels {
		order = append(order, ls.signals...)
		ls.signals = nil // each joined series is garbage once built
	}
	slices.SortFunc(order, func(a, b *joinedSeries) int {
		return cmp.Or(cmp.Compare(a.col.signal, b.col.signal), cmp.Compare(a.labels.text, b.labels.text), cmp.Compare(a.col.metric, b.col.metric))
	})
	// The series sized up front (growing 170,000 of them one append at a
	// time leaves as much garbage again), and each one's chunks built in
	// the joined series' own slice, compacted in place.
	res.Input.Series = slices.Grow(res.Input.Series, len(order))
	var forged untrustedSet
	jobs := map[string]*JobSeries{}
	for k, j := range order {
		order[k] = nil // its joined state is garbage once built
		ls := j.labels
		first := !ls.attributed
		if first {
			ls.source, ls.attributed = &analyzer.Source{GPU: r.attr.gpu(ls.metric), Workload: r.attr.workload(ls.metric), Origin: origin(ls)}, true
			ls.trusted = r.attr.trust.trusted(ls.metric)
			job := string(ls.metric[labelJob])
			if jobs[job] == nil {
				jobs[job] = &JobSeries{Job: job}
			}
			jobs[job].Series++
			if !ls.trusted {
				jobs[job].Untrusted++
			}
		}
		if !ls.trusted {
			// Forged: reported with what it claims, never judged, whatever
			// namespace filter the claim would pass.
			forged.add(ls.metric, j.col.metric, Claim{Workload: ls.source.Workload, GPU: ls.source.GPU}, first)
			continue
		}
		if !r.attr.wanted(ls.source.Workload) {
			continue
		}
		col := j.col
		s := analyzer.Series{Signal: col.signal, Source: ls.source}
		lo, hi := r.validMin, r.validMax
		if col.signal != analyzer.SignalUtil {
			lo, hi = col.signal.ValidRange()
		}
		kept := 0 // chunks kept, at the front of j.chunks
		for i := range j.chunks {
			seen := uint8(j.chunks[i].BadSamples) // until here, the statistics seen
			if seen == 0 {
				continue
			}
			t := col.grid.end(i)
			v := j.chunks[i].Moments // M2 holds the stddev
			if seen != col.want && col.want == allStats && droppedNaN(seen, v) {
				// Count, min and max are there: the mean or the stddev is not.
				if seen&(1<<1) == 0 {
					v.Mean = math.NaN()
				}
				if seen&(1<<2) == 0 {
					v.M2 = math.NaN()
				}
			} else if seen != col.want {
				warn([]string{fmt.Sprintf("incomplete statistics for %s at %s: the server answered some of the five queries only", j.labels.text, t.Time().UTC().Format(time.RFC3339))})
				continue
			}
			if col.want&(1<<2) == 0 {
				v.M2 = 0
			}
			if col.want&(1<<3|1<<4) == 0 {
				v.Min, v.Max = v.Mean, v.Mean
			}
			c := analyzer.Chunk{End: analyzer.Instant(t), Moments: analyzer.MomentsFromStats(float64(v.Count), v.Mean, v.M2, v.Min, v.Max)}
			if !c.Valid(lo, hi) {
				if col.signal == analyzer.SignalUtil && res.Rereads < r.cfg.MaxRereads {
					res.Rereads++
					var err error
					if c, err = r.reread(ctx, j.labels.metric, t.Time(), res.Input.Chunk, res.Semantics, warn); err != nil {
						return err
					}
				} else {
					// Too many bad chunks to re-read, or a profiling signal
					// (never re-read): exclude the chunk whole.
					c = analyzer.Chunk{End: analyzer.Instant(t), BadSamples: v.Count}
				}
			}
			j.chunks[kept] = c
			kept++
		}
		if kept > 0 {
			s.Chunks = j.chunks[:kept:kept]
		}
		res.Input.Series = append(res.Input.Series, s)
	}
	res.Untrusted = forged.sorted()
	for _, js := range jobs {
		res.Jobs = append(res.Jobs, *js)
	}
	slices.SortFunc(res.Jobs, func(a, b JobSeries) int { return cmp.Compare(a.Job, b.Job) })
	return nil
}

// origin names the scrape target of a label set: its instance and job, the
// labels Prometheus sets on every target; all its labels when it has
// neither.
func origin(ls *labelSet) string {
	inst, job := ls.metric[model.InstanceLabel], ls.metric[model.JobLabel]
	if inst == "" && job == "" {
		return ls.text
	}
	return fmt.Sprintf("instance %q (job %q)", inst, job)
}

// droppedNaN reports whether the statistics missing from a chunk are NaN
// that the server left out: VictoriaMetrics removes NaN points from its
// answers ("Remove NaN values as Prometheus does", app/vmselect, issue
// VictoriaMetrics#153), and the avg or stddev of a chunk holding an infinite
// sample is NaN. Count, min and max are then present and min or max is
// infinite; the chunk is invalid either way and read again raw.
func droppedNaN(seen uint8, v analyzer.Moments) bool {
	const need = 1<<0 | 1<<3 | 1<<4 // count, min, max
	return seen&need == need && (math.IsInf(v.Min, 0) || math.IsInf(v.Max, 0))
}

// reread fetches one chunk's raw samples and computes its moments without the
// invalid ones.
func (r *Reader) reread(ctx context.Context, m model.Metric, end time.Time, chunk time.Duration, sem Semantics, warn func([]string)) (analyzer.Chunk, error) {
	q := rangeOver(selector(r.cfg.Metric, exactly(r.cfg.Metric, m)), chunk, sem).String()
	v, ws, _, err := r.api.Query(ctx, q, end)
	if err != nil {
		return analyzer.Chunk{}, fmt.Errorf("re-read chunk of %s at %s: %w", m, end.UTC().Format(time.RFC3339), err)
	}
	warn(ws)
	var samples []float64
	if mat, ok := v.(model.Matrix); ok {
		for _, ss := range mat {
			for _, p := range ss.Values {
				samples = append(samples, float64(p.Value))
			}
		}
	}
	mo, bad := analyzer.MomentsOf(samples, r.validMin, r.validMax)
	return analyzer.Chunk{End: analyzer.At(end), Moments: mo, BadSamples: bad}, nil
}

func dedupe(ws []string) []string {
	seen := map[string]bool{}
	out := ws[:0]
	for _, w := range ws {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}
