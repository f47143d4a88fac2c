package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/backtest"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/promquery"
)

// backtestCommand replays history: one window ending at each tick from
// --from to --to, judged as a cycle would (no action), scored against a
// labels file.
func backtestCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommon("backtest", stderr, "text")
	from := c.fs.String("from", "", "first window end: RFC 3339 or Unix seconds (required unless --demo)")
	to := c.fs.String("to", "", "last window end: RFC 3339 or Unix seconds (default now)")
	every := c.fs.String("every", "30m", "time between window ends")
	labelsPath := c.fs.String("labels", "", "labels file: which pods and GPUs were miners, and when (required unless --demo)")
	output := c.fs.String("output", "table", "table or json")
	demo := c.fs.Bool("demo", false, "replay the embedded labelled fleet (6 hours) instead of a Prometheus")
	counterSet := c.fs.String("counters", fleet.HopperCounters.Name, "with --demo: the dcgm-exporter counter set every node exports ("+
		fleet.HopperCounters.Name+": every DCP field, and fields 1013-1016 on the H100s that report them): "+counterSetNames())
	cfg, err := c.load(args)
	if err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return &configError{fmt.Errorf("--output: must be table or json, got %q", *output)}
	}
	step, err := config.ParseDuration(*every)
	if err != nil {
		return &configError{fmt.Errorf("--every: %w", err)}
	}
	end, err := parseAt(*to, time.Now())
	if err != nil {
		return &configError{fmt.Errorf("--to: %w", err)}
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}

	var api promquery.API
	var labels backtest.Labels
	var start time.Time
	if *demo {
		end = end.Truncate(time.Hour)
		start = end.Add(-6 * time.Hour)
		if *from != "" {
			if start, err = parseAt(*from, end); err != nil {
				return &configError{fmt.Errorf("--from: %w", err)}
			}
		}
		set, ok := counterSetNamed(*counterSet)
		if !ok {
			return &configError{fmt.Errorf("--counters: must be one of %s, got %q", counterSetNames(), *counterSet)}
		}
		prom, lbl, err := labelledFleet(start.Add(-cfg.Window.D()), end, set)
		if err != nil {
			return err
		}
		defer prom.Close()
		api, labels = prom, lbl
	} else {
		if *from == "" || *labelsPath == "" {
			return &configError{fmt.Errorf("--from and --labels are required (or --demo)")}
		}
		if start, err = parseAt(*from, end); err != nil {
			return &configError{fmt.Errorf("--from: %w", err)}
		}
		f, err := os.Open(*labelsPath)
		if err != nil {
			return &configError{fmt.Errorf("--labels: %w", err)}
		}
		labels, err = backtest.ParseLabels(f)
		f.Close()
		if err != nil {
			return &configError{fmt.Errorf("--labels %s: %w", *labelsPath, err)}
		}
	}
	ticks, err := backtest.Ticks(start, end, step)
	if err != nil {
		return &configError{err}
	}
	cyc, err := cycle.New(cfg, cycle.Deps{API: api, Log: log})
	if err != nil {
		return err
	}
	res, err := backtest.Run(ctx, ticks, judge(cyc), labels, backtest.Options{Window: cfg.Window.D(), Strikes: cfg.Actions.StrikesToEnforce})
	if err != nil {
		return fmt.Errorf("backtest: %w", err)
	}
	if *output == "json" {
		return backtest.WriteJSON(stdout, res)
	}
	return backtest.WriteTable(stdout, res)
}

// judge reads and judges the window ending at each tick, as a cycle does,
// without acting. Partial data is an error: a backtest on it would mislead.
func judge(cyc *cycle.Cycle) backtest.Judge {
	return func(ctx context.Context, at time.Time) (analyzer.Report, error) {
		read, err := cyc.Reader.Read(ctx, at, cyc.Window)
		if err != nil {
			return analyzer.Report{}, err
		}
		if len(read.Warnings) > 0 {
			return analyzer.Report{}, fmt.Errorf("prometheus answered with warnings (data may be partial): %v", read.Warnings)
		}
		return analyzer.Analyze(read.Input, cyc.Analyzer), nil
	}
}

// labelledFleet loads fleet.LabelledFleet, the metrics of set, from..to
// into an embedded Prometheus and returns it with the fleet's ground truth.
func labelledFleet(from, to time.Time, set fleet.CounterSet) (*embedded.Prometheus, backtest.Labels, error) {
	prom, err := embedded.OpenTemp()
	if err != nil {
		return nil, backtest.Labels{}, fmt.Errorf("embedded prometheus: %w", err)
	}
	pods := fleet.LabelledFleet(to)
	for _, s := range fleet.FleetSeries(pods, fleet.Honor, from, to, fleet.Scrape{Metrics: set.Metrics}) {
		if err := prom.Append(s.Labels, s.Times, s.Values); err != nil {
			prom.Close()
			return nil, backtest.Labels{}, fmt.Errorf("load labelled fleet: %w", err)
		}
	}
	return prom, fleetLabels(pods), nil
}

// counterSetNamed finds a counter set by name.
func counterSetNamed(name string) (fleet.CounterSet, bool) {
	for _, s := range fleet.CounterSets() {
		if s.Name == name {
			return s, true
		}
	}
	return fleet.CounterSet{}, false
}

func counterSetNames() string {
	var names []string
	for _, s := range fleet.CounterSets() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// fleetLabels is the labelled fleet's ground truth as a labels file: its
// miners, and its benign pods and podless GPUs, each with its class (a pod
// without GPUs, such as a forger, has no verdict to score).
func fleetLabels(pods []fleet.Pod) backtest.Labels {
	var l backtest.Labels
	for _, p := range pods {
		switch {
		case len(p.GPUs) == 0:
			// A forger without a GPU: nothing of its own to judge.
		case p.ExpectMiner && p.Name != "":
			l.Miners = append(l.Miners, backtest.Miner{Namespace: p.Namespace, Pod: p.Name, From: p.Start, To: p.End, Class: p.Class, Note: p.Scenario})
		case p.ExpectMiner:
			for _, g := range p.GPUs {
				l.Miners = append(l.Miners, backtest.Miner{Node: p.Node, GPU: g.Index, From: p.Start, To: p.End, Class: p.Class, Note: p.Scenario})
			}
		case p.Name != "":
			l.Benign = append(l.Benign, backtest.Benign{Namespace: p.Namespace, Pod: p.Name, Class: p.Class, Note: p.Scenario})
		default:
			for _, g := range p.GPUs {
				l.Benign = append(l.Benign, backtest.Benign{Node: p.Node, GPU: g.Index, Class: p.Class, Note: p.Scenario})
			}
		}
	}
	return l
}
