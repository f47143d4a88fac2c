package benchscale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// MaxSamples is the server's --query.max-samples: Prometheus's default.
const MaxSamples = 50_000_000

// Server is a running Prometheus over a data set.
type Server struct {
	URL     string
	Version string
	cmd     *exec.Cmd
	exited  chan struct{}
	log     string
}

// StartPrometheus serves the TSDB in dataDir with binary on a free
// 127.0.0.1 port, with the flags the integration tests use (internal/promtest)
// plus 2 h block durations (no compaction of the written blocks while
// measuring) and a 10 m query timeout; it waits until /-/ready answers.
// workDir holds its config and log.
func StartPrometheus(ctx context.Context, binary, dataDir, workDir string) (*Server, error) {
	configFile := filepath.Join(workDir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte("global:\n  evaluation_interval: 1m\n"), 0o644); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := range 3 {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		logFile := filepath.Join(workDir, fmt.Sprintf("prometheus-%d.log", attempt))
		s, err := startPrometheus(ctx, binary, logFile, addr,
			"--config.file="+configFile,
			"--storage.tsdb.path="+dataDir,
			"--storage.tsdb.retention.time=100y",
			"--storage.tsdb.min-block-duration=2h",
			"--storage.tsdb.max-block-duration=2h",
			"--web.listen-address="+addr,
			"--query.max-samples="+strconv.Itoa(MaxSamples),
			"--query.timeout=10m",
		)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startPrometheus(ctx context.Context, binary, logFile, addr string, args ...string) (*Server, error) {
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	s := &Server{URL: "http://" + addr, cmd: cmd, exited: make(chan struct{}), log: logFile}
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(s.exited)
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		select {
		case <-s.exited:
			b, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("prometheus exited before it was ready; its log:\n%s", b)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		default:
		}
		if resp, err := client.Get(s.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("prometheus not ready after 5m; log in %s", logFile)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var info struct {
		Data struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := getJSON(client, s.URL+"/api/v1/status/buildinfo", &info); err != nil {
		s.Stop()
		return nil, err
	}
	s.Version = info.Data.Version
	return s, nil
}

// Stop sends SIGTERM and waits (SIGKILL after 30 s).
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func getJSON(client *http.Client, u string, v any) error {
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<12))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// CountingProxy is a reverse proxy that counts the bytes of the response
// bodies it passes on, as they came over the wire (gzip-compressed when the
// client asked for it).
type CountingProxy struct {
	URL       string
	bytes     atomic.Int64
	responses atomic.Int64
	gzipped   atomic.Int64
	waitNanos atomic.Int64
	srv       *http.Server
}

// StartProxy serves a counting reverse proxy to target on a free
// 127.0.0.1 port.
func StartProxy(target string) (*CountingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &CountingProxy{URL: "http://" + ln.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(u)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		*r = *r.WithContext(context.WithValue(r.Context(), sentAt{}, time.Now()))
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		if t, ok := resp.Request.Context().Value(sentAt{}).(time.Time); ok {
			p.waitNanos.Add(int64(time.Since(t)))
		}
		p.responses.Add(1)
		if resp.Header.Get("Content-Encoding") == "gzip" {
			p.gzipped.Add(1)
		}
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &p.bytes}
		return nil
	}
	p.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Reset zeroes the counters.
func (p *CountingProxy) Reset() {
	p.bytes.Store(0)
	p.responses.Store(0)
	p.gzipped.Store(0)
	p.waitNanos.Store(0)
}

// ServerWait is the time from sending each request to Prometheus until its
// response headers came back, summed over the requests since the last
// Reset. Prometheus 2.x evaluates a query and encodes its whole answer
// before it writes the headers, so this is the server's share of a
// sequential cycle; the rest is transfer and the detector's own work.
func (p *CountingProxy) ServerWait() time.Duration { return time.Duration(p.waitNanos.Load()) }

type sentAt struct{}

// Gzipped is how many of those responses came gzip-compressed.
func (p *CountingProxy) Gzipped() int64 { return p.gzipped.Load() }

// Bytes is the body bytes passed on since the last Reset.
func (p *CountingProxy) Bytes() int64 { return p.bytes.Load() }

// Responses is the number of responses passed on since the last Reset.
func (p *CountingProxy) Responses() int64 { return p.responses.Load() }

// Close stops the proxy.
func (p *CountingProxy) Close() error { return p.srv.Close() }

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// Floor is the cost of reading every sample of the window once.
type Floor struct {
	Wall    time.Duration // summed over the families
	Samples int64         // sum of the counts returned
	Queries int
}

// MeasureFloor runs one instant query `count_over_time(<m>[<window>])` per
// family at `at` against the server and sums the wall times.
func MeasureFloor(ctx context.Context, serverURL string, metrics []string, window time.Duration, at time.Time) (Floor, error) {
	var f Floor
	client := &http.Client{Timeout: 10 * time.Minute}
	for _, m := range metrics {
		q := fmt.Sprintf("count_over_time(%s[%s])", m, promDuration(window))
		u := serverURL + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode()
		var body struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []struct {
					Value [2]json.RawMessage `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return f, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return f, fmt.Errorf("floor %s: %w", q, err)
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		f.Wall += time.Since(start)
		f.Queries++
		if err != nil {
			return f, fmt.Errorf("floor %s: %w", q, err)
		}
		if body.Status != "success" {
			return f, fmt.Errorf("floor %s: %s", q, body.Error)
		}
		if len(body.Data.Result) == 0 {
			return f, fmt.Errorf("floor %s: no series", q)
		}
		for _, r := range body.Data.Result {
			var s string
			if err := json.Unmarshal(r.Value[1], &s); err != nil {
				return f, fmt.Errorf("floor %s: %w", q, err)
			}
			n, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return f, fmt.Errorf("floor %s: %w", q, err)
			}
			f.Samples += int64(n)
		}
	}
	return f, nil
}

// promDuration renders d as PromQL does: whole hours, minutes or seconds.
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return fmt.Sprintf("%ds", d/time.Second)
	}
}

var errNoQuery = errors.New(`no "query" object in the output`)
