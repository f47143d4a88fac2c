package benchscale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/miner-detector/miner-detector/internal/fleet"
)

// DefaultEnd is the end of every case's window: fixed, so cached data stays
// valid.
var DefaultEnd = time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC)

// Case is one kind of measurement.
type Case struct {
	Name          string
	Window        time.Duration
	Metrics       []string
	ReadProfiling bool
}

// Cases are issue 13's: the default cycle (1 h, every family the fleet
// exports, profiling read) and a day of utilization alone.
func Cases() []Case {
	return []Case{
		{Name: "1h all families", Window: time.Hour, Metrics: fleet.ReportedOn(fleet.DefaultModel, fleet.AllMetrics()), ReadProfiling: true},
		{Name: "24h util", Window: 24 * time.Hour, Metrics: []string{fleet.MetricGPUUtil}, ReadProfiling: false},
	}
}

// selected reports whether the case's name contains one of names (all
// cases when names is empty).
func (c Case) selected(names []string) bool {
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if strings.Contains(c.Name, n) {
			return true
		}
	}
	return false
}

// Options configure Run.
type Options struct {
	GPUs       []int
	CacheDir   string
	Prometheus string // the server binary
	Detector   string // the miner-detector binary
	WorkDir    string // scratch: run directories, configs, logs
	End        time.Time
	FloorRuns  int // the floor is the fastest of this many passes (default 2)
	// Cases, when set, keeps only the cases whose name contains one of
	// them ("24h").
	Cases []string
	// Tuning is how the detector is run.
	Tuning Tuning
	Log    io.Writer // progress
}

// Run measures every case for every fleet size in opts.GPUs, smallest
// first. It returns the rows measured so far and an error when something
// other than a cycle failed; failed cycles are in their row's Cycle.Err.
func Run(ctx context.Context, opts Options) ([]Row, error) {
	if opts.End.IsZero() {
		opts.End = DefaultEnd
	}
	if opts.FloorRuns <= 0 {
		opts.FloorRuns = 2
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "bench-scale: "+format+"\n", args...)
		}
	}
	var rows []Row
	for _, gpus := range opts.GPUs {
		for _, c := range Cases() {
			if !c.selected(opts.Cases) {
				continue
			}
			row, err := runCase(ctx, opts, gpus, c, logf)
			if err != nil {
				return rows, fmt.Errorf("%d GPUs, %s: %w", gpus, c.Name, err)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

func runCase(ctx context.Context, opts Options, gpus int, c Case, logf func(string, ...any)) (Row, error) {
	row := Row{Case: c.Name, GPUs: gpus, Window: c.Window, Families: len(c.Metrics),
		Util: len(c.Metrics) == 1 && c.Metrics[0] == fleet.MetricGPUUtil}
	caseStart := time.Now()
	p := NewParams(gpus, c.Window, opts.End, c.Metrics)
	logf("%d GPUs, %s: data %s", gpus, c.Name, filepath.Join(opts.CacheDir, p.Hash()))
	ds, err := Ensure(ctx, opts.CacheDir, p)
	if err != nil {
		return row, fmt.Errorf("generate: %w", err)
	}
	if ds.Generated > 0 {
		logf("  generated %d blocks, %d series, %d samples in %s (%+v)", ds.Stats.Blocks, ds.Stats.Series, ds.Stats.Samples,
			ds.Generated.Round(time.Millisecond), ds.Fleet)
	} else {
		logf("  cached: %d blocks, %d series, %d samples", ds.Stats.Blocks, ds.Stats.Series, ds.Stats.Samples)
	}

	work, err := os.MkdirTemp(opts.WorkDir, fmt.Sprintf("%d-%s-", gpus, strings.ReplaceAll(c.Name, " ", "-")))
	if err != nil {
		return row, err
	}
	defer os.RemoveAll(work)
	data := filepath.Join(work, "data")
	if err := ds.LinkBlocks(data); err != nil {
		return row, fmt.Errorf("link blocks: %w", err)
	}
	srv, err := StartPrometheus(ctx, opts.Prometheus, data, work)
	if err != nil {
		return row, err
	}
	defer srv.Stop()
	proxy, err := StartProxy(srv.URL)
	if err != nil {
		return row, err
	}
	defer proxy.Close()
	logf("  prometheus %s at %s (proxy %s)", srv.Version, srv.URL, proxy.URL)

	for i := range opts.FloorRuns {
		f, err := MeasureFloor(ctx, srv.URL, c.Metrics, c.Window, opts.End)
		if err != nil {
			return row, err
		}
		logf("  floor pass %d: %s for %d samples in %d queries", i+1, f.Wall.Round(time.Millisecond), f.Samples, f.Queries)
		if i == 0 || f.Wall < row.Floor.Wall {
			row.Floor = f
		}
	}

	proxy.Reset()
	row.Cycle = RunCycle(ctx, opts.Detector, work, proxy.URL, c.Window, opts.End, c.ReadProfiling, opts.Tuning)
	row.Cycle.Received, row.Cycle.Responses = proxy.Bytes(), proxy.Responses()
	wait := proxy.ServerWait()
	q := row.Cycle.Query
	logf("  cycle: %s, %d queries (%d responses, %d gzip), peak samples %d, %d series, semantics %s, rereads %d, %.1f MB received, RSS %d MiB, output %.1f MB; prometheus peak RSS %d MiB; "+
		"waiting for Prometheus's answers %s (summed), detector CPU %s",
		row.Cycle.Wall.Round(time.Millisecond), q.Queries, row.Cycle.Responses, proxy.Gzipped(), q.PeakSamples, q.Series, q.Semantics, q.Rereads,
		float64(row.Cycle.Received)/1e6, row.RSSMiB(), float64(row.Cycle.OutputBytes)/1e6, srv.PeakRSS()>>20,
		wait.Round(time.Millisecond), row.Cycle.CPU.Round(time.Millisecond))
	if row.Cycle.Err != nil {
		logf("  cycle FAILED: %v; the detector's log ends:\n%s", row.Cycle.Err, lastLines(strings.TrimSpace(row.Cycle.Stderr), 20))
	}
	if ctx.Err() != nil {
		return row, ctx.Err()
	}
	logf("  case done in %s", time.Since(caseStart).Round(time.Millisecond))
	return row, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// PeakRSS is the server's peak resident set so far (VmHWM), 0 when
// unknown.
func (s *Server) PeakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// AnyCycleFailed reports whether a row's cycle errored.
func AnyCycleFailed(rows []Row) error {
	var errs []error
	for _, r := range rows {
		if r.Cycle.Err != nil {
			errs = append(errs, fmt.Errorf("%d GPUs, %s: %w", r.GPUs, r.Case, r.Cycle.Err))
		}
	}
	return errors.Join(errs...)
}
