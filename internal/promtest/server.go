// Package promtest starts a real Prometheus server (Debian's `prometheus`
// package, 2.x) on 127.0.0.1 for tests, its history backfilled from
// OpenMetrics text by `promtool tsdb create-blocks-from openmetrics`.
//
// A missing binary fails the test with the command that installs it; it
// never skips: the tests that need a real server are the ones that prove the
// production query path.
package promtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/miner-detector/miner-detector/internal/testserver"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Server is a running Prometheus, stopped when the test ends.
type Server struct {
	URL     string // "http://127.0.0.1:<port>"
	Version string // from /api/v1/status/buildinfo, e.g. "2.42.0+ds"
}

// DefaultMaxSamples is Prometheus's own --query.max-samples default.
const DefaultMaxSamples = 50_000_000

// maxBlockDuration lets promtool write one block per ~6 months instead of
// one per 2 h: it re-reads the whole input for every block, so a week of
// fleet history takes ~2 s instead of ~1 min.
const maxBlockDuration = "8760h"

// InstallHint says how to get the binaries.
const InstallHint = "install Debian's Prometheus with `apt-get install -y prometheus` " +
	"(it provides both prometheus and promtool), or run `make test`, which installs it"

type config struct {
	maxSamples    int
	lookbackDelta time.Duration
	args          []string
	configYAML    string
}

// Option tunes the server.
type Option func(*config)

// WithMaxSamples sets --query.max-samples (default DefaultMaxSamples), to
// prove that queries stay under a server's sample limit.
func WithMaxSamples(n int) Option { return func(c *config) { c.maxSamples = n } }

// WithLookbackDelta sets --query.lookback-delta (Prometheus's default: 5m).
func WithLookbackDelta(d time.Duration) Option { return func(c *config) { c.lookbackDelta = d } }

// WithArgs appends raw flags to the prometheus command line, e.g.
// "--enable-feature=promql-at-modifier".
func WithArgs(args ...string) Option { return func(c *config) { c.args = append(c.args, args...) } }

// WithConfig replaces the server's configuration file (by default only
// `global.evaluation_interval: 1m`, no scrape configs) with configYAML, e.g.
// to scrape a detector, load rule files (absolute paths) and send alerts to
// an Alertmanager.
func WithConfig(configYAML string) Option { return func(c *config) { c.configYAML = configYAML } }

// Start backfills openMetrics into a new TSDB and serves it on a free
// loopback port until the test ends; nil openMetrics: an empty TSDB (see
// StartScraping). Any failure is fatal to the test.
func Start(t testing.TB, openMetrics []byte, opts ...Option) *Server {
	t.Helper()
	cfg := config{maxSamples: DefaultMaxSamples}
	for _, o := range opts {
		o(&cfg)
	}
	prometheus, promtool, err := findTools(os.Getenv("PATH"), "/usr/bin")
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}

	dir := t.TempDir() // removed after the server is stopped: cleanups run last-in first-out
	data := filepath.Join(dir, "data")
	if openMetrics != nil {
		backfill(t, promtool, dir, data, openMetrics)
	}
	configFile := filepath.Join(dir, "prometheus.yml")
	// By default no scrape configs: the server holds only the backfilled history.
	promConfig := "global:\n  evaluation_interval: 1m\n"
	if cfg.configYAML != "" {
		promConfig = cfg.configYAML
	}
	if err := os.WriteFile(configFile, []byte(promConfig), 0o600); err != nil {
		t.Fatalf("promtest: write config: %v", err)
	}

	url, err := testserver.Run(t, "prometheus", prometheus, dir, func(addr string) []string {
		args := []string{
			"--config.file=" + configFile,
			"--storage.tsdb.path=" + data,
			// Backfilled history lies in the past: never let retention delete it.
			"--storage.tsdb.retention.time=100y",
			"--web.listen-address=" + addr,
			"--query.max-samples=" + strconv.Itoa(cfg.maxSamples),
		}
		if cfg.lookbackDelta > 0 {
			args = append(args, "--query.lookback-delta="+cfg.lookbackDelta.String())
		}
		return append(args, cfg.args...)
	})
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	version, err := buildVersion(&http.Client{Timeout: 5 * time.Second}, url)
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	return &Server{URL: url, Version: version}
}

// StartScraping serves a Prometheus with no history that scrapes as
// configYAML says (e.g. fake exporters on 127.0.0.1 with a 1s
// scrape_interval), until the test ends: real scraping, with its label
// handling (honor_labels, exported_* renames), where Start only backfills.
func StartScraping(t testing.TB, configYAML string, opts ...Option) *Server {
	t.Helper()
	return Start(t, nil, append(opts, WithConfig(configYAML))...)
}

// backfill writes openMetrics into a new TSDB at data.
func backfill(t testing.TB, promtool, dir, data string, openMetrics []byte) {
	t.Helper()
	input := filepath.Join(dir, "input.om")
	if err := os.WriteFile(input, openMetrics, 0o600); err != nil {
		t.Fatalf("promtest: write OpenMetrics: %v", err)
	}
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics",
		"--quiet", "--max-block-duration="+maxBlockDuration, input, data).CombinedOutput()
	if err != nil {
		t.Fatalf("promtest: promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
}

func buildVersion(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url + "/api/v1/status/buildinfo")
	if err != nil {
		return "", fmt.Errorf("buildinfo: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("buildinfo: %w", err)
	}
	if body.Status != "success" || body.Data.Version == "" {
		return "", fmt.Errorf("buildinfo: status %q, version %q", body.Status, body.Data.Version)
	}
	return body.Data.Version, nil
}

// findTools locates prometheus and promtool in path (a PATH value), then in
// the fallback directories.
func findTools(path string, fallback ...string) (prometheus, promtool string, err error) {
	find := func(name string) (string, error) {
		for _, d := range append(filepath.SplitList(path), fallback...) {
			if d == "" {
				continue
			}
			p := filepath.Join(d, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s not found on PATH (%s) nor in %v: the tests against a real Prometheus need it; %s",
			name, path, fallback, InstallHint)
	}
	prometheus, err1 := find("prometheus")
	promtool, err2 := find("promtool")
	return prometheus, promtool, errors.Join(err1, err2)
}
