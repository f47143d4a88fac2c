// Package embedded is an in-process Prometheus: the real TSDB
// (github.com/prometheus/prometheus/tsdb) and the real PromQL engine
// (github.com/prometheus/prometheus/promql) behind the same method set as
// client_golang's api/prometheus/v1 client (Query, QueryRange, Series), so it
// satisfies promquery.API.
//
// It exists for the demo (`miner-detector demo`) and for tests: the
// production query path (PromQL building, chunking, result parsing) runs
// against the real engine with no server and no network. It is not meant to
// hold production data: it keeps everything in memory-mapped head chunks, has
// no write-ahead log (nothing survives Close) and never compacts or deletes.
//
// Semantics are those of Prometheus 3.x: range selectors are left-open, so
// `m[1m]` evaluated at t selects the samples in (t-1m, t]; the @ modifier and
// negative offsets are enabled; the default lookback delta is 5m.
//
// Appending history: samples of any series may be appended in any order of
// series, each series in time order, for a history of any realistic length
// (days or years) ending now or at any fixed time. The TSDB is opened with a
// head block range and an out-of-order window of about a century, so the
// usual two-hour "too old" limit of a live Prometheus does not apply. Samples
// older than the newest sample already stored for the same series are
// accepted through the TSDB's out-of-order path.
//
// Query behaviour mirrors the HTTP API: a parse error is an *Error of type
// v1.ErrBadData (the server's 400 "bad_data"), engine failures are of type
// v1.ErrExec (for example "query processing would load too many samples into
// memory"), cancellation and timeouts v1.ErrCanceled and v1.ErrTimeout.
// errors.As(err, **v1.Error) works on every returned error, as it does on the
// real client's; after Close they fail with v1.ErrClient, as the client does
// when no server answers. The v1.Option arguments (timeout, limit, stats) are accepted
// and ignored; use ctx and Options.Timeout instead.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/annotations"
)

// Defaults applied by Open to zero Options fields.
const (
	DefaultMaxSamples    = 50_000_000       // Prometheus --query.max-samples
	DefaultTimeout       = 2 * time.Minute  // Prometheus --query.timeout
	DefaultLookbackDelta = 5 * time.Minute  // Prometheus --query.lookback-delta
	defaultSubqueryStep  = int64(60 * 1000) // global evaluation_interval, ms

	// maxResolution is the server's limit on points per series in a range
	// query; QueryRange enforces it like /api/v1/query_range does.
	maxResolution = 11000

	// appendWindow is how far behind the newest sample in the database a
	// sample may still be appended. The head block range is twice this, so
	// the head never reaches the size at which it would be compacted.
	appendWindow = 100 * 365 * 24 * time.Hour

	// batchSize is how many samples are committed at once.
	batchSize = 10_000
)

// Options configures the engine. Zero fields take the defaults above.
type Options struct {
	// MaxSamples is the engine's limit on samples loaded into memory by one
	// query (Prometheus's --query.max-samples). Default 50,000,000.
	MaxSamples int
	// Timeout bounds every query (Prometheus's --query.timeout). Default 2m.
	Timeout time.Duration
	// LookbackDelta is how far an instant selector looks back for a sample
	// (Prometheus's --query.lookback-delta). Default 5m.
	LookbackDelta time.Duration
	// Logger receives the TSDB's and the engine's logs. Default: discarded.
	Logger *slog.Logger
}

// Prometheus is an in-process TSDB plus PromQL engine. It is safe for
// concurrent use; Close waits for running calls to finish.
type Prometheus struct {
	db      *tsdb.DB
	engine  *promql.Engine
	parser  parser.Parser
	dir     string
	tempDir bool // dir was made by OpenTemp and is removed by Close

	mu     sync.RWMutex // held for reading by every call, for writing by Close
	closed bool
}

// Open starts an embedded Prometheus whose TSDB lives in dir. The caller owns
// dir: Close leaves it (and the TSDB's files in it) in place. dir is created
// if it does not exist. Only one Prometheus may use a directory at a time.
func Open(dir string, opts Options) (*Prometheus, error) {
	if dir == "" {
		return nil, errors.New("embedded: empty directory")
	}
	if opts.MaxSamples < 0 || opts.Timeout < 0 || opts.LookbackDelta < 0 {
		return nil, errors.New("embedded: negative option")
	}
	if opts.MaxSamples == 0 {
		opts.MaxSamples = DefaultMaxSamples
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.LookbackDelta == 0 {
		opts.LookbackDelta = DefaultLookbackDelta
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	window := appendWindow.Milliseconds()
	dbOpts := tsdb.DefaultOptions()
	dbOpts.WALSegmentSize = -1 // no WAL: nothing needs to survive Close
	dbOpts.MinBlockDuration = 2 * window
	dbOpts.MaxBlockDuration = 2 * window
	dbOpts.RetentionDuration = 0
	dbOpts.OutOfOrderTimeWindow = window

	db, err := tsdb.Open(dir, logger, nil, dbOpts, nil)
	if err != nil {
		return nil, fmt.Errorf("embedded: open tsdb in %s: %w", dir, err)
	}
	db.DisableCompactions()

	p := parser.NewParser(parser.Options{})
	engine := promql.NewEngine(promql.EngineOpts{
		Logger:                   logger,
		MaxSamples:               opts.MaxSamples,
		Timeout:                  opts.Timeout,
		LookbackDelta:            opts.LookbackDelta,
		NoStepSubqueryIntervalFn: func(int64) int64 { return defaultSubqueryStep },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		Parser:                   p,
	})
	return &Prometheus{db: db, engine: engine, parser: p, dir: dir}, nil
}

// OpenTemp is Open on a new temporary directory that Close removes. At most
// one Options may be given.
func OpenTemp(opts ...Options) (*Prometheus, error) {
	if len(opts) > 1 {
		return nil, errors.New("embedded: OpenTemp takes at most one Options")
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	dir, err := os.MkdirTemp("", "embedded-prometheus-")
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	p, err := Open(dir, o)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	p.tempDir = true
	return p, nil
}

// Dir is the TSDB's directory.
func (p *Prometheus) Dir() string { return p.dir }

// Close stops the engine and the TSDB, and removes the directory if OpenTemp
// made it. It waits for running calls; later calls fail. Closing twice is a
// no-op.
func (p *Prometheus) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	err := errors.Join(p.engine.Close(), p.db.Close())
	if p.tempDir {
		err = errors.Join(err, os.RemoveAll(p.dir))
	}
	if err != nil {
		return fmt.Errorf("embedded: close: %w", err)
	}
	return nil
}

var errClosed = errors.New("embedded: closed")

// acquire takes the read lock, or fails if Close has run. Callers must
// p.mu.RUnlock() after a nil error.
func (p *Prometheus) acquire() error {
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return errClosed
	}
	return nil
}

// ---------------------------------------------------------------- appending

// Append adds the samples of one series. lset is the series' labels, the
// metric name under "__name__"; labels with an empty value are dropped, as
// Prometheus does. ts must be strictly increasing and as long as values.
// Timestamps are truncated to milliseconds.
//
// Samples are committed in batches: if an error occurs after the first
// batch, the earlier batches stay stored.
func (p *Prometheus) Append(lset map[string]string, ts []time.Time, values []float64) error {
	if len(ts) != len(values) {
		return fmt.Errorf("embedded: append: %d timestamps but %d values", len(ts), len(values))
	}
	ms := make([]int64, len(ts))
	for i, t := range ts {
		ms[i] = t.UnixMilli()
	}
	return p.AppendMillis(labels.FromMap(lset), ms, values)
}

// AppendEvery adds len(values) samples of one series, the first at start and
// then every step: the shape of a scrape. See Append.
func (p *Prometheus) AppendEvery(lset map[string]string, start time.Time, step time.Duration, values []float64) error {
	if step.Milliseconds() <= 0 && len(values) > 1 {
		return fmt.Errorf("embedded: append: step %s is under 1ms", step)
	}
	ms := make([]int64, len(values))
	t0, st := start.UnixMilli(), step.Milliseconds()
	for i := range ms {
		ms[i] = t0 + int64(i)*st
	}
	return p.AppendMillis(labels.FromMap(lset), ms, values)
}

// AppendMillis adds the samples of one series at millisecond Unix
// timestamps. See Append.
func (p *Prometheus) AppendMillis(lset labels.Labels, ts []int64, values []float64) error {
	if len(ts) != len(values) {
		return fmt.Errorf("embedded: append: %d timestamps but %d values", len(ts), len(values))
	}
	lset, err := cleanLabels(lset)
	if err != nil {
		return fmt.Errorf("embedded: append: %w", err)
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			return fmt.Errorf("embedded: append %s: timestamps not strictly increasing at index %d (%d after %d)", lset, i, ts[i], ts[i-1])
		}
	}
	if err := p.acquire(); err != nil {
		return err
	}
	defer p.mu.RUnlock()

	ctx := context.Background()
	var ref storage.SeriesRef
	for lo := 0; lo < len(ts); lo += batchSize {
		hi := min(lo+batchSize, len(ts))
		app := p.db.AppenderV2(ctx)
		for i := lo; i < hi; i++ {
			ref, err = app.Append(ref, lset, 0, ts[i], values[i], nil, nil, storage.AppendV2Options{})
			if err != nil {
				return errors.Join(
					fmt.Errorf("embedded: append %s at %s: %w", lset, time.UnixMilli(ts[i]).UTC().Format(time.RFC3339Nano), err),
					app.Rollback())
			}
		}
		if err := app.Commit(); err != nil {
			return fmt.Errorf("embedded: append %s: commit: %w", lset, err)
		}
	}
	return nil
}

// cleanLabels drops empty values and checks names and values.
func cleanLabels(lset labels.Labels) (labels.Labels, error) {
	b := labels.NewScratchBuilder(lset.Len())
	var err error
	lset.Range(func(l labels.Label) {
		switch {
		case err != nil, l.Value == "":
		case !model.UTF8Validation.IsValidLabelName(l.Name):
			err = fmt.Errorf("invalid label name %q", l.Name)
		case !utf8.ValidString(l.Value):
			err = fmt.Errorf("label %s: value is not valid UTF-8", l.Name)
		default:
			b.Add(l.Name, l.Value)
		}
	})
	if err != nil {
		return labels.EmptyLabels(), err
	}
	b.Sort()
	out := b.Labels()
	if out.IsEmpty() {
		return out, errors.New("empty label set")
	}
	if name, dup := out.HasDuplicateLabelNames(); dup {
		return out, fmt.Errorf("duplicate label name %q", name)
	}
	return out, nil
}

// ------------------------------------------------------------------ errors

// Error is the error type of Query, QueryRange and Series. Type classifies
// it as the HTTP API does. errors.As(err, &apiErr) with apiErr a *v1.Error
// succeeds on it, so code written against the real client handles both.
// Err is the underlying error (for example a promql.ErrTooManySamples) and
// is reachable with errors.Is / errors.As, as is the context's error when
// the call failed because ctx was done.
type Error struct {
	Type v1.ErrorType
	Err  error
	ctx  error // ctx.Err() when ctx was done, else nil
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Type, e.Err) }

// Unwrap returns the underlying error and, if the context was done, its
// error.
func (e *Error) Unwrap() []error {
	if e.ctx != nil {
		return []error{e.Err, e.ctx}
	}
	return []error{e.Err}
}

// As makes errors.As(err, **v1.Error) work, with the same Type and Msg the
// real client would report.
func (e *Error) As(target any) bool {
	if t, ok := target.(**v1.Error); ok {
		*t = &v1.Error{Type: e.Type, Msg: e.Err.Error()}
		return true
	}
	return false
}

func badData(param string, err error) *Error {
	return &Error{Type: v1.ErrBadData, Err: fmt.Errorf("invalid parameter %q: %w", param, err)}
}

// execError classifies an error from running a query or reading storage,
// like the server's returnAPIError.
func execError(ctx context.Context, err error) *Error {
	e := &Error{Type: v1.ErrExec, Err: err, ctx: ctx.Err()}
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		storErr  promql.ErrStorage
	)
	switch {
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		e.Type = v1.ErrCanceled
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		e.Type = v1.ErrTimeout
	case errors.As(err, &storErr):
		e.Type = v1.ErrServer
	}
	return e
}

// constructionError classifies an error from NewInstantQuery/NewRangeQuery,
// like the server's queryConstructionError: a bad query unless the context
// ended.
func constructionError(ctx context.Context, err error) *Error {
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
	)
	if errors.As(err, &canceled) || errors.As(err, &timeout) || ctx.Err() != nil {
		return execError(ctx, err)
	}
	return badData("query", err)
}

// ------------------------------------------------------------------ queries

// Query evaluates an instant query at ts (now if ts is zero). opts are
// ignored.
func (p *Prometheus) Query(ctx context.Context, query string, ts time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	if ts.IsZero() {
		ts = time.Now()
	}
	if _, err := p.parser.ParseExpr(query); err != nil {
		return nil, nil, nil, badData("query", err)
	}
	if err := p.acquire(); err != nil {
		return nil, nil, nil, &Error{Type: v1.ErrClient, Err: err}
	}
	defer p.mu.RUnlock()
	qry, err := p.engine.NewInstantQuery(ctx, p.db, nil, query, ts)
	if err != nil {
		return nil, nil, nil, constructionError(ctx, err)
	}
	return p.exec(ctx, qry, query)
}

// QueryRange evaluates a range query over r. Like the server it rejects an
// end before the start, a step that is not positive and more than 11,000
// points per series. opts are ignored.
func (p *Prometheus) QueryRange(ctx context.Context, query string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	switch {
	case r.End.Before(r.Start):
		return nil, nil, nil, badData("end", errors.New("end timestamp must not be before start time"))
	case r.Step <= 0:
		return nil, nil, nil, badData("step", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"))
	case r.End.Sub(r.Start)/r.Step > maxResolution:
		return nil, nil, nil, &Error{Type: v1.ErrBadData, Err: errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")}
	}
	if _, err := p.parser.ParseExpr(query); err != nil {
		return nil, nil, nil, badData("query", err)
	}
	if err := p.acquire(); err != nil {
		return nil, nil, nil, &Error{Type: v1.ErrClient, Err: err}
	}
	defer p.mu.RUnlock()
	qry, err := p.engine.NewRangeQuery(ctx, p.db, nil, query, r.Start, r.End, r.Step)
	if err != nil {
		return nil, nil, nil, constructionError(ctx, err)
	}
	return p.exec(ctx, qry, query)
}

func (p *Prometheus) exec(ctx context.Context, qry promql.Query, query string) (model.Value, v1.Warnings, v1.Infos, error) {
	defer qry.Close()
	res := qry.Exec(ctx)
	warnings, infos := splitAnnotations(res.Warnings, query)
	if res.Err != nil {
		return nil, warnings, infos, execError(ctx, res.Err)
	}
	val, err := convertValue(res.Value)
	if err != nil {
		return nil, warnings, infos, &Error{Type: v1.ErrExec, Err: err}
	}
	return val, warnings, infos, nil
}

// splitAnnotations turns the engine's annotations into the warnings and
// infos the HTTP API reports; nil when there are none, as the client
// returns.
func splitAnnotations(a annotations.Annotations, query string) (v1.Warnings, v1.Infos) {
	if len(a) == 0 {
		return nil, nil
	}
	w, i := a.AsStrings(query, 0, 0)
	var warnings v1.Warnings
	var infos v1.Infos
	if len(w) > 0 {
		warnings = w
	}
	if len(i) > 0 {
		infos = i
	}
	return warnings, infos
}

// Series returns the distinct label sets of the series that match any of
// the selectors and have samples in [startTime, endTime]. A zero startTime
// or endTime means unbounded, as with the client. opts are ignored.
func (p *Prometheus) Series(ctx context.Context, matches []string, startTime, endTime time.Time, _ ...v1.Option) ([]model.LabelSet, v1.Warnings, v1.Infos, error) {
	if len(matches) == 0 {
		return nil, nil, nil, &Error{Type: v1.ErrBadData, Err: errors.New("no match[] parameter provided")}
	}
	start, end := int64(math.MinInt64), int64(math.MaxInt64)
	if !startTime.IsZero() {
		start = startTime.UnixMilli()
	}
	if !endTime.IsZero() {
		end = endTime.UnixMilli()
	}
	if end < start {
		return nil, nil, nil, badData("end", errors.New("end timestamp must not be before start time"))
	}
	matcherSets := make([][]*labels.Matcher, 0, len(matches))
	for _, m := range matches {
		ms, err := p.parser.ParseMetricSelector(m)
		if err != nil {
			return nil, nil, nil, badData("match[]", err)
		}
		if !hasNonEmptyMatcher(ms) {
			return nil, nil, nil, badData("match[]", errors.New("match[] must contain at least one non-empty matcher"))
		}
		matcherSets = append(matcherSets, ms)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, execError(ctx, err)
	}
	if err := p.acquire(); err != nil {
		return nil, nil, nil, &Error{Type: v1.ErrClient, Err: err}
	}
	defer p.mu.RUnlock()

	q, err := p.db.Querier(start, end)
	if err != nil {
		return nil, nil, nil, execError(ctx, err)
	}
	defer q.Close()
	hints := &storage.SelectHints{Start: start, End: end, Func: "series"}
	var set storage.SeriesSet
	if len(matcherSets) == 1 {
		set = q.Select(ctx, false, hints, matcherSets[0]...)
	} else {
		sets := make([]storage.SeriesSet, 0, len(matcherSets))
		for _, ms := range matcherSets {
			sets = append(sets, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
	}

	out := []model.LabelSet{}
	seen := map[uint64][]labels.Labels{} // hash -> label sets, for distinctness
	for n := 0; set.Next(); n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, nil, execError(ctx, err)
			}
		}
		ls := set.At().Labels()
		h := ls.Hash()
		dup := false
		for _, o := range seen[h] {
			if labels.Equal(o, ls) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		seen[h] = append(seen[h], ls)
		out = append(out, model.LabelSet(toMetric(ls)))
	}
	warnings, infos := splitAnnotations(set.Warnings(), "")
	if err := set.Err(); err != nil {
		return nil, warnings, infos, execError(ctx, err)
	}
	return out, warnings, infos, nil
}

func hasNonEmptyMatcher(ms []*labels.Matcher) bool {
	for _, m := range ms {
		if m != nil && !m.Matches("") {
			return true
		}
	}
	return false
}

// --------------------------------------------------------------- conversion

// convertValue turns an engine result into what client_golang decodes from
// the HTTP API.
func convertValue(v parser.Value) (model.Value, error) {
	switch v := v.(type) {
	case promql.Matrix:
		out := make(model.Matrix, 0, len(v))
		for _, s := range v {
			ss := &model.SampleStream{Metric: toMetric(s.Metric)}
			if len(s.Floats) > 0 {
				ss.Values = make([]model.SamplePair, len(s.Floats))
				for i, f := range s.Floats {
					ss.Values[i] = model.SamplePair{Timestamp: model.Time(f.T), Value: model.SampleValue(f.F)}
				}
			}
			if len(s.Histograms) > 0 {
				ss.Histograms = make([]model.SampleHistogramPair, len(s.Histograms))
				for i, h := range s.Histograms {
					ss.Histograms[i] = model.SampleHistogramPair{Timestamp: model.Time(h.T), Histogram: toHistogram(h.H)}
				}
			}
			out = append(out, ss)
		}
		return out, nil
	case promql.Vector:
		out := make(model.Vector, 0, len(v))
		for _, s := range v {
			ms := &model.Sample{Metric: toMetric(s.Metric), Timestamp: model.Time(s.T)}
			if s.H != nil {
				ms.Histogram = toHistogram(s.H)
			} else {
				ms.Value = model.SampleValue(s.F)
			}
			out = append(out, ms)
		}
		return out, nil
	case promql.Scalar:
		return &model.Scalar{Value: model.SampleValue(v.V), Timestamp: model.Time(v.T)}, nil
	case promql.String:
		return &model.String{Value: v.V, Timestamp: model.Time(v.T)}, nil
	default:
		return nil, fmt.Errorf("embedded: unexpected result type %T", v)
	}
}

func toMetric(ls labels.Labels) model.Metric {
	m := make(model.Metric, ls.Len())
	ls.Range(func(l labels.Label) {
		m[model.LabelName(l.Name)] = model.LabelValue(l.Value)
	})
	return m
}

// toHistogram converts a native histogram the way the HTTP API's JSON does:
// count, sum and the non-empty buckets with their boundary rule.
func toHistogram(h *histogram.FloatHistogram) *model.SampleHistogram {
	out := &model.SampleHistogram{Count: model.FloatString(h.Count), Sum: model.FloatString(h.Sum)}
	it := h.AllBucketIterator()
	for it.Next() {
		b := it.At()
		if b.Count == 0 {
			continue
		}
		var boundaries int32
		switch {
		case b.LowerInclusive && b.UpperInclusive:
			boundaries = 3
		case b.LowerInclusive:
			boundaries = 1
		case b.UpperInclusive:
			boundaries = 0
		default:
			boundaries = 2
		}
		out.Buckets = append(out.Buckets, &model.HistogramBucket{
			Boundaries: boundaries,
			Lower:      model.FloatString(b.Lower),
			Upper:      model.FloatString(b.Upper),
			Count:      model.FloatString(b.Count),
		})
	}
	return out
}
