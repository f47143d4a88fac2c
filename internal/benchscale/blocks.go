package benchscale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/miner-detector/miner-detector/internal/fleet"
)

// BlockDuration is the span of each written block: Prometheus's own head
// block size.
const BlockDuration = 2 * time.Hour

// WriteStats says what WriteBlocks wrote.
type WriteStats struct {
	Blocks  int
	Series  int // distinct series
	Samples int64
}

// WriteBlocks writes the series fleet.FleetSeries gives for pods (labelled
// as with honorLabels) at every scrape of s in [from, to] into TSDB blocks
// in dir, one block per BlockDuration slice aligned on the Unix epoch, as a
// Prometheus head would cut them. Each block is built by its own
// tsdb.BlockWriter, node by node, every series' samples in time order, so
// memory stays at one block's worth.
func WriteBlocks(ctx context.Context, dir string, pods []fleet.Pod, from, to time.Time, s fleet.Scrape) (WriteStats, error) {
	var st WriteStats
	if to.Before(from) {
		return st, fmt.Errorf("benchscale: write blocks: to %s before from %s", to, from)
	}
	nodes := byNode(pods)
	size := BlockDuration.Milliseconds()
	series := map[string]struct{}{}
	for lo := from.UnixMilli() / size * size; lo <= to.UnixMilli(); lo += size {
		bFrom := time.UnixMilli(max(lo, from.UnixMilli())).UTC()
		bTo := time.UnixMilli(min(lo+size-1, to.UnixMilli())).UTC() // FleetSeries' range is closed
		n, err := writeBlock(ctx, dir, nodes, bFrom, bTo, s, series)
		if err != nil {
			return st, err
		}
		if n > 0 {
			st.Blocks++
			st.Samples += n
		}
	}
	st.Series = len(series)
	return st, nil
}

// writeBlock writes one block holding [from, to]; it returns the number of
// samples written (0: no block).
func writeBlock(ctx context.Context, dir string, nodes [][]fleet.Pod, from, to time.Time, s fleet.Scrape, seen map[string]struct{}) (n int64, err error) {
	// The head accepts samples no older than half its chunk range behind its
	// newest: pretend the block is twice as large, as promtool's backfill
	// does, so every node can start again at the block's beginning.
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), dir, 2*BlockDuration.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("benchscale: block writer: %w", err)
	}
	defer func() { err = errors.Join(err, w.Close()) }()
	for _, pods := range nodes {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		app := w.AppenderV2(ctx)
		for _, ser := range fleet.FleetSeries(pods, fleet.Honor, from, to, s) {
			lset := labels.FromMap(ser.Labels)
			seen[lset.String()] = struct{}{}
			var ref storage.SeriesRef
			for i, t := range ser.Times {
				ref, err = app.Append(ref, lset, 0, t.UnixMilli(), ser.Values[i], nil, nil, storage.AppendV2Options{})
				if err != nil {
					return 0, errors.Join(fmt.Errorf("benchscale: append %s: %w", lset, err), app.Rollback())
				}
				n++
			}
		}
		if err := app.Commit(); err != nil {
			return 0, fmt.Errorf("benchscale: commit: %w", err)
		}
	}
	if n == 0 {
		return 0, nil
	}
	if _, err := w.Flush(ctx); err != nil {
		return 0, fmt.Errorf("benchscale: flush block [%s, %s]: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return n, nil
}
