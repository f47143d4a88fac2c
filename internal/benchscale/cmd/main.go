// Command bench-scale is `make bench-scale`: it measures one detector cycle
// against the floor (every sample read once) on simulated 1k and 10k GPU
// fleets served by Debian's Prometheus, and prints a table and a closing
// line. See package benchscale and the README's Performance section.
//
//	go run ./internal/benchscale/cmd -gpus 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miner-detector/miner-detector/internal/benchscale"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		os.Exit(1)
	}
}

func run() error {
	cacheDir, err := benchscale.DefaultCacheDir()
	if err != nil {
		return err
	}
	gpusFlag := flag.String("gpus", "1000,10000", "fleet sizes to measure, comma-separated multiples of 8")
	flag.StringVar(&cacheDir, "cache", cacheDir, "where generated TSDB blocks are kept between runs")
	prometheus := flag.String("prometheus", "/usr/bin/prometheus", "the Prometheus server binary")
	detector := flag.String("detector", "", "a miner-detector binary (default: go build ./cmd/miner-detector)")
	floorRuns := flag.Int("floor-runs", 2, "measure the floor this many times, keep the fastest")
	cases := flag.String("cases", "", "only the cases whose name contains one of these, comma-separated (e.g. 24h)")
	var tuning benchscale.Tuning
	flag.IntVar(&tuning.Concurrency, "concurrency", 0, "the detector's query.concurrency (0: its default)")
	flag.StringVar(&tuning.GoMemLimit, "gomemlimit", "", "the detector's GOMEMLIMIT (e.g. 180MiB; empty: none)")
	flag.StringVar(&tuning.KeepOutput, "keep-output", "", "keep the last cycle's JSON output at this path")
	flag.Parse()

	var gpus []int
	for _, s := range strings.Split(*gpusFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || n%benchscale.GPUsPerNode != 0 {
			return fmt.Errorf("-gpus: %q is not a positive multiple of %d", s, benchscale.GPUsPerNode)
		}
		gpus = append(gpus, n)
	}
	if _, err := os.Stat(*prometheus); err != nil {
		return fmt.Errorf("%v: run ./scripts/install-test-deps.sh (Debian's prometheus package)", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	work, err := os.MkdirTemp("", "bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if *detector == "" {
		*detector = filepath.Join(work, "miner-detector")
		build := exec.CommandContext(ctx, "go", "build", "-o", *detector, "./cmd/miner-detector")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/miner-detector: %w", err)
		}
	}

	start := time.Now()
	opts := benchscale.Options{GPUs: gpus, CacheDir: cacheDir, Prometheus: *prometheus,
		Detector: *detector, WorkDir: work, FloorRuns: *floorRuns, Log: os.Stderr, Tuning: tuning}
	if *cases != "" {
		opts.Cases = strings.Split(*cases, ",")
	}
	rows, runErr := benchscale.Run(ctx, opts)
	fmt.Fprintf(os.Stderr, "bench-scale: done in %s\n", time.Since(start).Round(time.Second))
	if len(rows) > 0 {
		fmt.Printf("\nbench-scale %s, %d CPUs, Prometheus %s, window ending %s\n\n", time.Now().UTC().Format("2006-01-02"),
			runtime.NumCPU(), *prometheus, benchscale.DefaultEnd.Format(time.RFC3339))
		if err := benchscale.WriteTable(os.Stdout, rows); err != nil {
			return err
		}
		fmt.Println()
		fmt.Println(benchscale.ClosingLine(rows))
	}
	if runErr != nil {
		return runErr
	}
	return benchscale.AnyCycleFailed(rows)
}
