package benchscale

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Query is the "query" object of `scan --output json`.
type Query struct {
	Semantics   string `json:"range_semantics"`
	Series      int    `json:"series"`
	Queries     int    `json:"queries"`
	PeakSamples int64  `json:"peak_samples"`
	Rereads     int    `json:"rereads"`
}

// Cycle is one measured `scan`.
type Cycle struct {
	Wall        time.Duration
	MaxRSSBytes int64         // the subprocess's peak resident set (getrusage ru_maxrss)
	CPU         time.Duration // the subprocess's user + system CPU time
	OutputBytes int64
	Received    int64 // response bytes from Prometheus, through the proxy
	Responses   int64 // HTTP responses through the proxy
	Query       Query
	Err         error
	Stderr      string // the last lines of its log
}

// Tuning is how the detector is run, beyond the case's window and signals.
type Tuning struct {
	// Concurrency, when positive, is its query.concurrency.
	Concurrency int
	// GoMemLimit, when set, is its GOMEMLIMIT (e.g. 180MiB).
	GoMemLimit string
	// KeepOutput, when set, is a file the JSON output is copied to.
	KeepOutput string
}

// RunCycle runs `detector scan` once against promURL over the window ending
// at at, as JSON, with readProfiling set as asked and tuned by t, in
// workDir (config, output). The output is streamed to a file and only its "query" object
// decoded.
func RunCycle(ctx context.Context, detector, workDir, promURL string, window time.Duration, at time.Time, readProfiling bool, t Tuning) Cycle {
	var c Cycle
	cfg := fmt.Sprintf("prometheus:\n  url: %s\n  timeout: 10m\nquery:\n  readProfiling: %t\n", promURL, readProfiling)
	if t.Concurrency > 0 {
		cfg += fmt.Sprintf("  concurrency: %d\n", t.Concurrency)
	}
	cfg += fmt.Sprintf("window: %s\n", promDuration(window))
	cfgFile := filepath.Join(workDir, "detector.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		c.Err = err
		return c
	}
	outFile := filepath.Join(workDir, "scan.json")
	out, err := os.Create(outFile)
	if err != nil {
		c.Err = err
		return c
	}
	defer os.Remove(outFile)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, detector, "scan", "--config", cfgFile, "--prometheus-url", promURL,
		"--window", promDuration(window), "--at", strconv.FormatInt(at.Unix(), 10),
		"--output", "json", "--kubeconfig", "", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	if t.GoMemLimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+t.GoMemLimit)
	}
	cmd.Stdout, cmd.Stderr = out, &tail{buf: &stderr, max: 8 << 10}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	start := time.Now()
	runErr := cmd.Run()
	c.Wall = time.Since(start)
	if err := out.Close(); err != nil && runErr == nil {
		runErr = err
	}
	c.Stderr = stderr.String()
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			c.MaxRSSBytes = ru.Maxrss * 1024 // kilobytes on Linux
			c.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if fi, err := os.Stat(outFile); err == nil {
		c.OutputBytes = fi.Size()
	}
	if t.KeepOutput != "" {
		if err := os.Link(outFile, t.KeepOutput); err != nil && runErr == nil {
			runErr = fmt.Errorf("keep output: %w", err)
		}
	}
	if runErr != nil {
		c.Err = fmt.Errorf("scan: %w", runErr)
	}
	f, err := os.Open(outFile)
	if err != nil {
		if c.Err == nil {
			c.Err = err
		}
		return c
	}
	defer f.Close()
	q, err := decodeQuery(bufio.NewReaderSize(f, 1<<20))
	if err != nil && c.Err == nil {
		c.Err = fmt.Errorf("scan output: %w", err)
	}
	c.Query = q
	return c
}

// decodeQuery streams a scan JSON document and decodes only its top-level
// "query" object, skipping the rest token by token (the document can be
// hundreds of MB).
func decodeQuery(r io.Reader) (Query, error) {
	var q Query
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return q, fmt.Errorf("not a JSON object (%v)", err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return q, err
		}
		if key, _ := t.(string); key == "query" {
			err := dec.Decode(&q)
			return q, err
		}
		if err := skipValue(dec); err != nil {
			return q, err
		}
	}
	return q, errNoQuery
}

// skipValue consumes the next value of dec. An array or object is skipped
// element by element (each element decoded whole, which is fast), so memory
// stays at one element's size.
func skipValue(dec *json.Decoder) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != json.Delim('[') && t != json.Delim('{') {
		return nil
	}
	var raw json.RawMessage
	for dec.More() {
		if t == json.Delim('{') {
			if _, err := dec.Token(); err != nil { // the key
				return err
			}
		}
		if err := dec.Decode(&raw); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// tail keeps the last max bytes written to it.
type tail struct {
	buf *bytes.Buffer
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if extra := t.buf.Len() - t.max; extra > 0 {
		t.buf.Next(extra)
	}
	return len(p), nil
}
