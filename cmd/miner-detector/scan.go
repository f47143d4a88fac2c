package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/miner-detector/miner-detector/internal/cycle"
)

func scanCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommon("scan", stderr, "text")
	c.fs.StringVar(&c.at, "at", "", "evaluate the window ending at this time: RFC 3339 or Unix seconds (default now)")
	output := c.fs.String("output", "table", "table or json")
	allPods := c.fs.Bool("all-pods", false, "table: list every pod, benign ones included (default: findings and a summary)")
	curves := c.fs.String("curves", "findings", "json: whose per-chunk evidence curves and per-signal numbers to print, findings or all")
	cfg, err := c.load(args)
	if err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return &configError{fmt.Errorf("--output: must be table or json, got %q", *output)}
	}
	if *curves != "findings" && *curves != "all" {
		return &configError{fmt.Errorf("--curves: must be findings or all, got %q", *curves)}
	}
	view := cycle.View{AllPods: *allPods, AllCurves: *curves == "all"}
	at, err := parseAt(c.at, time.Now())
	if err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	kube, err := kubeClient(c.kubeconfig, cfg.Kubernetes.Timeout.D())
	if err != nil {
		if cfg.Actions.Enforce {
			return err
		}
		log.Warn("no cluster access: findings are printed, not recorded as Events", "err", err)
		kube = nil
	}
	cyc, err := buildCycle(cfg, kube, nil, log)
	if err != nil {
		return err
	}
	cyc.Analyzer.AllCurves = view.AllCurves
	res, runErr := cyc.Run(ctx, at)
	if runErr != nil && !errors.Is(runErr, cycle.ErrPartialData) {
		return runErr
	}
	if *output == "json" {
		err = res.WriteJSON(stdout, view)
	} else {
		err = res.WriteTable(stdout, view)
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return runErr
}
