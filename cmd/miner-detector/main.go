// Command miner-detector finds cryptocurrency miners on Kubernetes GPUs from
// dcgm-exporter telemetry in Prometheus and acts on them.
//
//	miner-detector run     long-running Deployment entrypoint (cron schedule)
//	miner-detector scan    one cycle now, printed as a table or JSON
//	miner-detector demo    the whole pipeline on an embedded simulated fleet
//	miner-detector backtest  replay history against a labels file: precision, recall
//	miner-detector signals   signal inventory and the dcgm-exporter counters to enable
//	miner-detector version
//
// This package only parses configuration, builds clients and calls the
// cycle: no statistics, no PromQL text, no Kubernetes calls.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `miner-detector finds cryptocurrency miners on Kubernetes GPUs.

Usage:
  miner-detector run     [flags]   run cycles on a schedule (the Deployment)
  miner-detector scan    [flags]   run one cycle now and print it
  miner-detector demo    [flags]   run the pipeline on an embedded simulated fleet
  miner-detector backtest [flags]  replay history against a labels file (--demo: the labelled fleet)
  miner-detector signals [flags]   what the cluster's dcgm-exporter lets the detector see, and what to enable (--csv: the recommended counters file)
  miner-detector version           print the version

Run "miner-detector <command> -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "miner-detector:", err)
		}
		os.Exit(exitCode(err))
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:], stdout, stderr)
	case "scan":
		return scanCommand(ctx, args[1:], stdout, stderr)
	case "demo":
		return demoCommand(ctx, args[1:], stdout, stderr)
	case "backtest":
		return backtestCommand(ctx, args[1:], stdout, stderr)
	case "signals":
		return signalsCommand(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "miner-detector", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// exitCode: 2 for usage and configuration errors, 1 for anything else.
func exitCode(err error) int {
	var ce *configError
	if errors.As(err, &ce) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// configError marks an error in flags or the config file.
type configError struct{ err error }

func (e *configError) Error() string { return "invalid configuration: " + e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, &configError{fmt.Errorf("--log-level: %w", err)}
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, &configError{fmt.Errorf("--log-format: must be json or text, got %q", format)}
	}
}
