package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/counters"
	"github.com/miner-detector/miner-detector/internal/cycle"
)

// signalsCommand reads and judges one window, as scan does, without acting,
// and prints what the cluster's dcgm-exporter lets the detector see: GPUs
// per signal and role, the rules each can run, and the counters-CSV lines to
// enable for what is missing. --csv prints the recommended counters file.
func signalsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommon("signals", stderr, "text")
	c.fs.StringVar(&c.at, "at", "", "evaluate the window ending at this time: RFC 3339 or Unix seconds (default now)")
	output := c.fs.String("output", "table", "table or json")
	csv := c.fs.Bool("csv", false, "print the recommended dcgm-exporter counters file and exit (reads nothing)")
	if err := c.fs.Parse(args); err != nil {
		return err
	}
	if *csv {
		_, err := io.WriteString(stdout, counters.CSV())
		return err
	}
	cfg, err := c.load(args)
	if err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return &configError{fmt.Errorf("--output: must be table or json, got %q", *output)}
	}
	at, err := parseAt(c.at, time.Now())
	if err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	cyc, err := cycle.New(cfg, cycle.Deps{Log: log})
	if err != nil {
		return err
	}
	read, err := cyc.Reader.Read(ctx, at, cyc.Window)
	if err != nil {
		return err
	}
	if len(read.Warnings) > 0 {
		return fmt.Errorf("prometheus answered with warnings (data may be partial): %v", read.Warnings)
	}
	rep := analyzer.Analyze(read.Input, cyc.Analyzer)
	trust := read.TrustWarnings()
	if *output == "json" {
		// The document stays the inventory; the trust warnings go to stderr.
		for _, w := range trust {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep.Inventory)
	}
	if err := counters.WriteInventory(stdout, rep.Inventory); err != nil {
		return err
	}
	for _, w := range trust {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return nil
}
