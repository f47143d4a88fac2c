package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/miner-detector/miner-detector/internal/config"
)

// common are the flags every cycle-running command shares. A flag set on the
// command line overrides the config file; defaults come from the file.
type common struct {
	fs         *flag.FlagSet
	configPath string
	promURL    string
	window     string
	at         string
	enforce    bool
	kubeconfig string
	logLevel   string
	logFormat  string
}

func newCommon(name string, stderr io.Writer, logFormat string) *common {
	c := &common{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(stderr)
	c.fs.StringVar(&c.configPath, "config", "", "YAML config file (see README: Configuration)")
	c.fs.StringVar(&c.promURL, "prometheus-url", "", "Prometheus HTTP API base URL, e.g. http://prometheus-operated.monitoring:9090 (overrides prometheus.url)")
	c.fs.StringVar(&c.window, "window", "", "history judged per cycle, 5m..7d (overrides window; default 1h)")
	c.fs.BoolVar(&c.enforce, "enforce", false, "delete miner pods (overrides actions.enforce; default dry-run)")
	c.fs.StringVar(&c.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file; in-cluster config when empty and running in a pod")
	c.fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	c.fs.StringVar(&c.logFormat, "log-format", logFormat, "json or text")
	return c
}

// load parses the flags and returns the validated configuration.
func (c *common) load(args []string) (config.Config, error) {
	if err := c.fs.Parse(args); err != nil {
		return config.Config{}, err
	}
	if c.fs.NArg() > 0 {
		return config.Config{}, &configError{fmt.Errorf("unexpected argument %q", c.fs.Arg(0))}
	}
	cfg, err := config.Load(c.configPath)
	if err != nil {
		return cfg, &configError{err}
	}
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["prometheus-url"] {
		cfg.Prometheus.URL = c.promURL
	}
	if set["window"] {
		d, err := config.ParseDuration(c.window)
		if err != nil {
			return cfg, &configError{fmt.Errorf("--window: %w", err)}
		}
		cfg.Window = config.Duration(d)
	}
	if set["enforce"] {
		cfg.Actions.Enforce = c.enforce
	}
	if err := cfg.ResolveSecrets(os.Getenv); err != nil {
		return cfg, &configError{err}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, &configError{err}
	}
	return cfg, nil
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	return newLogger(w, c.logLevel, c.logFormat)
}

// parseAt reads --at: RFC 3339 or Unix seconds; empty means now.
func parseAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "eE") {
		return time.UnixMilli(int64(secs * 1000)).UTC(), nil
	}
	return time.Time{}, &configError{fmt.Errorf("--at: want RFC 3339 (2026-01-05T12:00:00Z) or Unix seconds, got %q", s)}
}
