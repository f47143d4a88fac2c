// Package promtest starts a real Prometheus server (Debian's `prometheus`
// package, 2.x) on 127.0.0.1 for tests, with history backfilled from
// OpenMetrics by `promtool tsdb create-blocks-from openmetrics`. A missing
// binary fails the test with the way to install it; it never skips.
package promtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Server is a running Prometheus.
type Server struct {
	URL     string
	Version string
}

// Options tune the server.
type Options struct {
	// MaxSamples is --query.max-samples; 0 keeps Prometheus's 50M default.
	MaxSamples int64
}

const installHint = "install Debian's Prometheus: `apt-get install -y prometheus` (or run `make test`, which installs it)"

// Binary returns the path of a Prometheus binary, failing the test when it
// is missing.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/bin", name); fileExists(p) {
		return p
	}
	t.Fatalf("%s not found on PATH: the real-Prometheus tests need it; %s", name, installHint)
	return ""
}

// Start backfills openMetrics into a new TSDB and serves it on a free
// loopback port until the test ends.
func Start(t testing.TB, openMetrics []byte, opts Options) *Server {
	t.Helper()
	prom, promtool := Binary(t, "prometheus"), Binary(t, "promtool")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	input := filepath.Join(dir, "input.om")
	if err := os.WriteFile(input, openMetrics, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", input, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool backfill: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	args := []string{
		"--config.file=" + cfg, "--storage.tsdb.path=" + data, "--web.listen-address=" + addr,
		// Backfilled history may be old: never let retention delete it.
		"--storage.tsdb.retention.time=100y",
	}
	if opts.MaxSamples > 0 {
		args = append(args, "--query.max-samples="+strconv.FormatInt(opts.MaxSamples, 10))
	}
	var stderr bytes.Buffer
	cmd := exec.Command(prom, args...)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	s := &Server{URL: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v\n%s", err, stderr.String())
		default:
		}
		if resp, err := http.Get(s.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 60s\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Version = buildVersion(t, s.URL)
	return s
}

func buildVersion(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/status/buildinfo")
	if err != nil {
		t.Fatalf("buildinfo: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("buildinfo: %v", err)
	}
	return body.Data.Version
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// String describes the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("prometheus %s at %s", s.Version, s.URL) }
