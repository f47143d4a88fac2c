// Package vmtest starts a real VictoriaMetrics single-node server on
// 127.0.0.1 for tests, its history imported from the same OpenMetrics text
// the Prometheus harness (promtest) backfills.
//
// The binary is built from the Go module pinned in tools/victoria-metrics by
// scripts/build-victoria-metrics.sh and cached; a binary that cannot be built
// fails the test, it never skips: these tests prove the reader against the
// backend users move to when one Prometheus is not enough.
package vmtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/testserver"
)

// Server is a running VictoriaMetrics, stopped when the test ends.
type Server struct {
	URL     string // "http://127.0.0.1:<port>"
	Version string // from /api/v1/status/buildinfo, e.g. "1.151.0"
	Samples int    // samples stored (NaN samples are dropped on import)
}

type config struct {
	maxSamples int
	args       []string
}

// Option tunes the server.
type Option func(*config)

// WithMaxSamplesPerQuery sets -search.maxSamplesPerQuery (VictoriaMetrics's
// default: 1e9), to prove that queries stay under a server's sample limit.
func WithMaxSamplesPerQuery(n int) Option { return func(c *config) { c.maxSamples = n } }

// WithArgs appends raw flags to the command line, e.g. "-search.disableCache".
func WithArgs(args ...string) Option { return func(c *config) { c.args = append(c.args, args...) } }

// Start imports openMetrics (as fleet.WriteOpenMetrics writes it) into a new
// VictoriaMetrics and serves it on a free loopback port until the test ends,
// every sample queryable. Any failure is fatal to the test.
func Start(t testing.TB, openMetrics []byte, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	binary, err := Binary()
	if err != nil {
		t.Fatalf("vmtest: %v", err)
	}
	body, samples, err := toPrometheusText(openMetrics)
	if err != nil {
		t.Fatalf("vmtest: %v", err)
	}
	dir := t.TempDir() // removed after the server is stopped: cleanups run last-in first-out
	u, err := testserver.Run(t, "victoria-metrics", binary, dir, func(addr string) []string {
		args := []string{
			"-httpListenAddr=" + addr,
			"-storageDataPath=" + filepath.Join(dir, "data"),
			// Imported history lies in the past: never let retention drop it.
			"-retentionPeriod=100y",
			// Serve the newest samples at once: the default (30s) hides the
			// last 30 s before now from queries.
			"-search.latencyOffset=0s",
			"-loggerLevel=WARN",
		}
		if cfg.maxSamples > 0 {
			args = append(args, "-search.maxSamplesPerQuery="+strconv.Itoa(cfg.maxSamples))
		}
		return append(args, cfg.args...)
	})
	if err != nil {
		t.Fatalf("vmtest: %v", err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if err := load(client, u, body, samples, cfg.maxSamples == 0); err != nil {
		t.Fatalf("vmtest: %v", err)
	}
	version, err := buildVersion(client, u)
	if err != nil {
		t.Fatalf("vmtest: %v", err)
	}
	return &Server{URL: u, Version: version, Samples: samples}
}

// toPrometheusText turns OpenMetrics text into the Prometheus text format
// /api/v1/import/prometheus reads: timestamps in integer milliseconds
// (VictoriaMetrics reads small timestamps as seconds, but multiplies them as
// floats, which may land a millisecond off), comments and "# EOF" dropped.
// It returns the body and the number of samples the server will store.
func toPrometheusText(om []byte) ([]byte, int, error) {
	var out bytes.Buffer
	n, nan := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(om))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, 0, fmt.Errorf("OpenMetrics line without a timestamp: %q", line)
		}
		ms, err := secondsToMillis(line[i+1:])
		if err != nil {
			return nil, 0, fmt.Errorf("line %q: %w", line, err)
		}
		if v := line[:i]; strings.HasSuffix(v, " NaN") {
			// VictoriaMetrics drops NaN samples on ingestion (all but
			// Prometheus's staleness markers: "the underlying encoding
			// doesn't know how to work with them", lib/storage): send
			// it, but do not expect it stored.
			nan++
		}
		out.WriteString(line[:i+1])
		out.WriteString(strconv.FormatInt(ms, 10))
		out.WriteByte('\n')
		n++
	}
	return out.Bytes(), n - nan, sc.Err()
}

// secondsToMillis parses "1767614400" or "1767614400.015" exactly.
func secondsToMillis(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	if len(frac) > 3 {
		return 0, fmt.Errorf("timestamp %q finer than a millisecond", s)
	}
	ms, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: %w", s, err)
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt((frac + "00")[:3], 10, 64); err != nil {
			return 0, fmt.Errorf("timestamp %q: %w", s, err)
		}
	}
	if strings.HasPrefix(sec, "-") {
		f = -f
	}
	return ms*1000 + f, nil
}

// load imports the samples, flushes them to searchable parts
// (/internal/force_flush) and waits until the server has stored all of them
// (vm_rows_added_to_storage_total, nothing pending) and, when no sample
// limit would refuse it, until an export over all time returns all of them.
func load(client *http.Client, base string, body []byte, samples int, verifyExport bool) error {
	resp, err := client.Post(base+"/api/v1/import/prometheus", "text/plain", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("import: %s: %s", resp.Status, msg)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := get(client, base+"/internal/force_flush", nil); err != nil {
			return fmt.Errorf("force_flush: %w", err)
		}
		stored, pending, err := storageRows(client, base)
		if err != nil {
			return err
		}
		got := -1
		if stored == samples && pending == 0 {
			got = stored
			if verifyExport {
				if got, err = exported(client, base); err != nil {
					return err
				}
			}
		}
		if got == samples {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after 30 s: %d of %d imported samples stored (%d pending), %d exported", stored, samples, pending, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// storageRows reads from /metrics the rows added to storage and the rows
// (and index items) still pending in memory.
func storageRows(client *http.Client, base string) (stored, pending int, err error) {
	var buf bytes.Buffer
	if err := get(client, base+"/metrics", &buf); err != nil {
		return 0, 0, fmt.Errorf("metrics: %w", err)
	}
	found := false
	for line := range strings.Lines(buf.String()) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		switch name {
		case "vm_rows_added_to_storage_total":
			found = true
			stored, err = strconv.Atoi(value)
		case `vm_pending_rows{type="storage"}`, `vm_pending_rows{type="indexdb"}`:
			var n int
			n, err = strconv.Atoi(value)
			pending += n
		}
		if err != nil {
			return 0, 0, fmt.Errorf("metrics: %q: %w", line, err)
		}
	}
	if !found {
		return 0, 0, errors.New("metrics: no vm_rows_added_to_storage_total")
	}
	return stored, pending, nil
}

// exported counts the samples /api/v1/export returns over all time.
func exported(client *http.Client, base string) (int, error) {
	q := url.Values{"match[]": {`{__name__!=""}`}, "start": {"0"}}
	var buf bytes.Buffer
	if err := get(client, base+"/api/v1/export?"+q.Encode(), &buf); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	n := 0
	dec := json.NewDecoder(&buf)
	for {
		var line struct {
			Timestamps []int64 `json:"timestamps"`
		}
		if err := dec.Decode(&line); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return 0, fmt.Errorf("export: %w", err)
		}
		n += len(line.Timestamps)
	}
}

func get(client *http.Client, u string, into io.Writer) error {
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s", resp.Status, msg)
	}
	if into == nil {
		into = io.Discard
	}
	_, err = io.Copy(into, resp.Body)
	return err
}

func buildVersion(client *http.Client, base string) (string, error) {
	var buf bytes.Buffer
	if err := get(client, base+"/api/v1/status/buildinfo", &buf); err != nil {
		return "", fmt.Errorf("buildinfo: %w", err)
	}
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := json.Unmarshal(buf.Bytes(), &body); err != nil {
		return "", fmt.Errorf("buildinfo: %w", err)
	}
	if body.Status != "success" || body.Data.Version == "" {
		return "", fmt.Errorf("buildinfo: status %q, version %q", body.Status, body.Data.Version)
	}
	return body.Data.Version, nil
}

// Binary returns the path of the victoria-metrics binary, building it on
// first use with scripts/build-victoria-metrics.sh (cached).
func Binary() (string, error) {
	return testserver.BuildScript("scripts/build-victoria-metrics.sh", "the tests against a real VictoriaMetrics need its binary")
}
