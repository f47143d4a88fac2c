package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/miner-detector/miner-detector/internal/demo"
)

func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cycles := fs.Int("cycles", 6, "cycles to run, one schedule period apart")
	logLevel := fs.String("log-level", "error", "level of the pipeline's own log lines on stderr: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cycles < 1 {
		return &configError{fmt.Errorf("--cycles: must be at least 1, got %d", *cycles)}
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return err
	}
	_, err = demo.Run(ctx, demo.Options{Cycles: *cycles, Out: stdout, Log: log})
	return err
}
