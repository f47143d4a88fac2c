package promquery

import (
	"fmt"
	"testing"
	"time"
)

var planEnd = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func fleet(nodes, gpusPerNode int) map[string]int {
	m := map[string]int{}
	for i := range nodes {
		m[fmt.Sprintf("node-%04d", i)] = gpusPerNode
	}
	return m
}

func TestPlanQueries(t *testing.T) {
	cases := []struct {
		name       string
		perNode    map[string]int
		window     time.Duration
		maxSamples int64
		shards     int
		slices     int
		wantErr    bool
	}{
		{"small fleet, one query per stat", fleet(10, 8), 24 * time.Hour, 50e6, 1, 1, false},
		{"10k GPUs x 24h fit the default limit", fleet(1250, 8), 24 * time.Hour, 50e6, 1, 1, false},
		{"10k GPUs x 7d still fit", fleet(1250, 8), 7 * 24 * time.Hour, 50e6, 1, 1, false},
		{"20k GPUs x 7d are cut in time", fleet(2500, 8), 7 * 24 * time.Hour, 50e6, 1, 2, false},
		{"tight limit cuts time", fleet(1250, 8), 24 * time.Hour, 2e6, 1, 3, false},
		// 800 series do not fit one step under 1000 samples: node shards of
		// 16 series (12 steps × 16 + the 301 samples of one chunk <= 500).
		{"fleet over the limit in one step: node shards", fleet(100, 8), time.Hour, 1000, 50, 1, false},
		{"one node too large for the limit", map[string]int{"huge": 600_000}, time.Hour, 1e6, 0, 0, true},
		{"empty fleet", map[string]int{}, time.Hour, 50e6, 1, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := planQueries(c.perNode, planEnd, c.window, 5*time.Minute, time.Second, c.maxSamples, PeakSamples)
			if c.wantErr {
				if err == nil {
					t.Fatalf("want error, got plan %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.shards > 0 && (len(p.Shards) != c.shards || len(p.Slices) != c.slices) {
				t.Fatalf("%d shards × %d slices, want %d × %d", len(p.Shards), len(p.Slices), c.shards, c.slices)
			}
			checkPlan(t, p, c.perNode, c.window, c.maxSamples)
		})
	}
}

// checkPlan asserts the invariants: every chunk end in exactly one slice, every
// node in exactly one shard, every query under half the limit.
func checkPlan(t *testing.T, p QueryPlan, perNode map[string]int, window time.Duration, maxSamples int64) {
	t.Helper()
	if p.PeakSamples > maxSamples/2 {
		t.Fatalf("peak %d over half of %d", p.PeakSamples, maxSamples)
	}
	seen := map[time.Time]int{}
	for _, s := range p.Slices {
		for ts := s.First; !ts.After(s.Last); ts = ts.Add(p.Chunk) {
			seen[ts]++
		}
		if n := int(s.Last.Sub(s.First)/p.Chunk) + 1; n > maxPointsPerSeries {
			t.Fatalf("slice of %d points", n)
		}
	}
	for k := 1; k <= p.Steps; k++ {
		ts := planEnd.Add(-window).Add(time.Duration(k) * p.Chunk)
		if seen[ts] != 1 {
			t.Fatalf("chunk ending %s evaluated %d times", ts, seen[ts])
		}
	}
	if len(seen) != p.Steps {
		t.Fatalf("%d chunk ends evaluated, want %d", len(seen), p.Steps)
	}
	if len(p.Shards) == 1 && p.Shards[0].Nodes == nil {
		return
	}
	nodes := map[string]int{}
	for _, s := range p.Shards {
		for _, n := range s.Nodes {
			nodes[n]++
		}
	}
	for n := range perNode {
		if nodes[n] != 1 {
			t.Fatalf("node %s in %d shards", n, nodes[n])
		}
	}
}

// Against VictoriaMetrics's -search.maxSamplesPerQuery, which counts every
// raw sample a query selects, 10k GPUs × 24h at 1 s exceed half of its
// default limit (1e9) in one query, though they fit Prometheus's peak count.
func TestPlanQueriesSelectedSamples(t *testing.T) {
	perNode := fleet(1250, 8)
	peak, err := planQueries(perNode, planEnd, 24*time.Hour, 5*time.Minute, time.Second, 1e9, PeakSamples)
	if err != nil || len(peak.Shards)*len(peak.Slices) != 1 {
		t.Fatalf("peak: %v, %d shards × %d slices, want one query", err, len(peak.Shards), len(peak.Slices))
	}
	p, err := planQueries(perNode, planEnd, 24*time.Hour, 5*time.Minute, time.Second, 1e9, SelectedSamples)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Shards)*len(p.Slices) < 2 {
		t.Fatalf("selected: %d shards × %d slices, want the window cut", len(p.Shards), len(p.Slices))
	}
	for _, s := range p.Shards {
		for _, sl := range p.Slices {
			steps := int64(sl.Last.Sub(sl.First)/p.Chunk) + 1
			if selected := int64(s.Series) * (steps + 1) * 300; selected > 5e8 {
				t.Fatalf("query of %d series × %d steps selects %d samples, over half the limit", s.Series, steps, selected)
			}
		}
	}
	checkPlan(t, p, perNode, 24*time.Hour, 1e9)
}

// A lone family's queries come out as a multiple of the slots, each chunk
// end still in exactly one slice and no query larger than planned.
func TestEvenRounds(t *testing.T) {
	for _, c := range []struct {
		window      time.Duration
		slots, want int // slices
		startSlices int
	}{
		{24 * time.Hour, 2, 2, 1}, // 48 chunks of 30m: 10 queries in five rounds of two
		{24 * time.Hour, 5, 1, 1}, // five statistics fill five slots already
		{24 * time.Hour, 4, 4, 1},
		{24 * time.Hour, 3, 3, 1},
		{24 * time.Hour, 1, 1, 1},
		{time.Hour, 4, 4, 1}, // 12 chunks of 5m: 4 slices of 3
	} {
		chunk := 5 * time.Minute
		if c.window == 24*time.Hour {
			chunk = 30 * time.Minute
		}
		perNode := fleet(1250, 8)
		p, err := planQueries(perNode, planEnd, c.window, chunk, time.Second, 50e6, PeakSamples)
		if err != nil || len(p.Slices) != c.startSlices {
			t.Fatalf("plan: %v, %d slices", err, len(p.Slices))
		}
		e := p.evenRounds(c.slots, len(stats), planEnd, c.window)
		if len(e.Slices) != c.want {
			t.Errorf("%v, %d slots: %d slices, want %d", c.window, c.slots, len(e.Slices), c.want)
		}
		if q := e.Queries(); c.slots > 1 && q%c.slots != 0 {
			t.Errorf("%v, %d slots: %d queries, not a multiple", c.window, c.slots, q)
		}
		checkPlan(t, e, perNode, c.window, 50e6)
	}
}
