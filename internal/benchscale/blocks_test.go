package benchscale

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/miner-detector/miner-detector/internal/fleet"
)

// TestWriteBlocksRoundTrip writes a small fleet across a block boundary and
// reads every series back with tsdb.OpenDBReadOnly: same series, same
// samples, one block per 2 h slice.
func TestWriteBlocksRoundTrip(t *testing.T) {
	pods, _, err := Fleet(16)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 1, 5, 4, 30, 0, 0, time.UTC)
	from := end.Add(-4 * time.Hour) // 00:30 .. 04:30: three blocks, one of them whole
	s := scrape([]string{fleet.MetricGPUUtil, fleet.MetricTensorActive})
	dir := t.TempDir()
	st, err := WriteBlocks(context.Background(), dir, pods, from, end, s)
	if err != nil {
		t.Fatal(err)
	}
	want := fleet.FleetSeries(pods, fleet.Honor, from, end, s)
	var wantSamples int64
	for _, w := range want {
		wantSamples += int64(len(w.Times))
	}
	if st.Blocks != 3 || st.Series != len(want) || st.Samples != wantSamples {
		t.Fatalf("stats %+v, want 3 blocks, %d series, %d samples", st, len(want), wantSamples)
	}

	// OpenDBReadOnly also replays a WAL, which a directory of blocks alone has not.
	if err := os.Mkdir(filepath.Join(dir, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := tsdb.OpenDBReadOnly(dir, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blocks, err := db.Blocks()
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 {
		t.Fatalf("%d blocks, want 3", len(blocks))
	}
	for _, b := range blocks {
		m := b.Meta()
		if m.MaxTime-m.MinTime > BlockDuration.Milliseconds() {
			t.Errorf("block %s spans %d ms", m.ULID, m.MaxTime-m.MinTime)
		}
	}
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got := map[string][]float64{}
	gotTimes := map[string][]int64{}
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	for set.Next() {
		ser := set.At()
		key := ser.Labels().String()
		it := ser.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			got[key] = append(got[key], v)
			gotTimes[key] = append(gotTimes[key], ts)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d series, wrote %d", len(got), len(want))
	}
	for _, w := range want {
		key := labels.FromMap(w.Labels).String()
		if len(got[key]) != len(w.Values) {
			t.Fatalf("%s: read %d samples, wrote %d", key, len(got[key]), len(w.Values))
		}
		for i := range w.Values {
			if got[key][i] != w.Values[i] || gotTimes[key][i] != w.Times[i].UnixMilli() {
				t.Fatalf("%s sample %d: read (%d, %v), wrote (%d, %v)", key, i,
					gotTimes[key][i], got[key][i], w.Times[i].UnixMilli(), w.Values[i])
			}
		}
	}
}

func TestFleetComposition(t *testing.T) {
	pods, c, err := Fleet(1000)
	if err != nil {
		t.Fatal(err)
	}
	if c.Nodes != 125 || c.Miners != 10 || c.Training != 600 {
		t.Errorf("composition %+v: want 125 nodes, 10 miners, 600 training GPUs", c)
	}
	if sum := c.Miners + c.Training + c.Inference + c.IdleInPod + c.IdleWithoutPod; sum != 1000 {
		t.Errorf("composition %+v sums to %d GPUs", c, sum)
	}
	gpus, miners := 0, 0
	for _, p := range pods {
		gpus += len(p.GPUs)
		if p.ExpectMiner {
			miners++
		}
	}
	if gpus != 1000 || miners != 10 {
		t.Errorf("pods hold %d GPUs, %d miners", gpus, miners)
	}
	if _, _, err := Fleet(1001); err == nil {
		t.Error("Fleet(1001): no error")
	}
}
