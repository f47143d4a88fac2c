package promquery

import (
	"fmt"
	"slices"
	"time"
)

// maxPointsPerSeries is Prometheus's limit on the points one range query may
// return per series ("exceeded maximum resolution of 11,000 points").
const maxPointsPerSeries = 11_000

// QueryPlan is how one cycle's window is cut into queries that each stay
// under the server's sample limit.
type QueryPlan struct {
	Chunk  time.Duration
	Steps  int     // chunks in the window
	Series int     // series of the metric in the window
	Shards []Shard // partitions of the fleet by node
	Slices []Slice // partitions of the window in time
	// PeakSamples is the estimated most samples one query holds at once:
	// series × points returned + the samples of one chunk, as Prometheus's
	// engine keeps every output point but evaluates a *_over_time function
	// one series at a time, holding only that series' range (its own
	// stats=all peakSamples say so: TestPlanMatchesPrometheusPeakSamples).
	PeakSamples int64
}

// Queries is how many range queries the plan runs.
func (p QueryPlan) Queries() int { return len(p.Shards) * len(p.Slices) * len(stats) }

// Shard is a set of nodes queried together; nil Nodes means the whole fleet.
type Shard struct {
	Nodes  []string
	Series int
}

// Slice is a run of consecutive chunk ends [First, Last], each evaluated as
// one step of a range query.
type Slice struct {
	First, Last time.Time
}

// planQueries cuts the window (end-window, end] into chunk-long steps and
// picks the fewest queries whose estimated peak stays under half maxSamples:
// the whole fleet at once, or time slices, or node shards, whichever needs
// fewer queries. seriesPerNode counts the metric's series per node label
// value ("" for series without one).
//
// limit says how the server counts: the peak a query holds (Prometheus), or
// every raw sample it selects over its range (VictoriaMetrics), which only
// fewer steps or fewer series per query reduce.
func planQueries(seriesPerNode map[string]int, end time.Time, window, chunk, minInterval time.Duration, maxSamples int64, limit SampleLimit) (QueryPlan, error) {
	steps := int(window / chunk)
	p := QueryPlan{Chunk: chunk, Steps: steps}
	budget := maxSamples / 2
	perChunk := int64(chunk/minInterval) + 1 // a closed range holds both ends
	nodes := make([]string, 0, len(seriesPerNode))
	largest := 0
	for n, c := range seriesPerNode {
		nodes = append(nodes, n)
		p.Series += c
		largest = max(largest, c)
	}
	slices.Sort(nodes)
	cost := func(series, steps int) int64 { return int64(series)*int64(steps) + perChunk }
	maxSteps := func(series int) int { // most steps per query for this many series
		if series == 0 {
			return steps
		}
		return int(min(int64(maxPointsPerSeries), (budget-perChunk)/int64(series)))
	}
	if limit == SelectedSamples {
		// The samples of steps chunks, and as many again for the look-behind
		// VictoriaMetrics fetches before the first (its rollups may need
		// the sample before a window).
		cost = func(series, steps int) int64 { return int64(series) * (int64(steps) + 1) * perChunk }
		maxSteps = func(series int) int {
			if series == 0 {
				return steps
			}
			return int(min(int64(maxPointsPerSeries), budget/int64(series)/perChunk-1))
		}
	}

	// Option A: the whole fleet, sliced in time.
	sliceSteps := min(steps, maxSteps(p.Series))
	shards := []Shard{{Series: p.Series}}
	if sliceSteps < 1 || ceilDiv(steps, max(sliceSteps, 1)) > 1 {
		// Option B: node shards, sliced only as much as the largest node needs.
		bSteps := min(steps, maxSteps(largest))
		if bSteps < 1 {
			return p, fmt.Errorf("one chunk of the largest node (%d series) would load %d samples, over half of maxSamples %d: raise maxSamples or shorten the chunk",
				largest, cost(largest, 1), maxSamples)
		}
		var packed []Shard
		for _, n := range nodes {
			c := seriesPerNode[n]
			if len(packed) == 0 || cost(packed[len(packed)-1].Series+c, bSteps) > budget {
				packed = append(packed, Shard{})
			}
			last := &packed[len(packed)-1]
			last.Nodes = append(last.Nodes, n)
			last.Series += c
		}
		if sliceSteps < 1 || len(packed)*ceilDiv(steps, bSteps) < ceilDiv(steps, sliceSteps) {
			shards, sliceSteps = packed, bSteps
		}
	}
	p.Shards = shards
	p.Slices = sliceWindow(end.Add(-window), chunk, steps, sliceSteps)
	for _, s := range p.Shards {
		p.PeakSamples = max(p.PeakSamples, cost(s.Series, sliceSteps))
	}
	return p, nil
}

// sliceWindow cuts steps chunks after start into slices of per chunks (the
// last one shorter).
func sliceWindow(start time.Time, chunk time.Duration, steps, per int) []Slice {
	var out []Slice
	for first := 1; first <= steps; first += per {
		last := min(steps, first+per-1)
		out = append(out, Slice{
			First: start.Add(time.Duration(first) * chunk),
			Last:  start.Add(time.Duration(last) * chunk),
		})
	}
	return out
}

// evenRounds cuts the window into more slices when that makes the plan's
// queries (shards × slices × stats) a multiple of the slots: read alone,
// utilization's five statistics in two slots would leave the last round
// one query and an idle core (on 2 cores, ten half-window queries read 24h
// of 10,000 GPUs 13 % faster than five whole ones). Smaller slices only
// lower each query's samples: PeakSamples stays an upper bound.
func (p QueryPlan) evenRounds(slots, stats int, end time.Time, window time.Duration) QueryPlan {
	if slots <= 1 || len(p.Slices) == 0 {
		return p
	}
	for k := len(p.Slices); k <= p.Steps; k++ {
		per := ceilDiv(p.Steps, k)
		n := ceilDiv(p.Steps, per)
		if n >= len(p.Slices) && len(p.Shards)*n*stats%slots == 0 {
			if n > len(p.Slices) {
				p.Slices = sliceWindow(end.Add(-window), p.Chunk, p.Steps, per)
			}
			return p
		}
	}
	return p
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
