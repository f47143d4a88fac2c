package promquery_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/promquery"
)

// cutter stands between the detector and a real Prometheus, as a proxy or
// load balancer that drops connections does: the answers it is told to cut
// end halfway, their connection closed after a Content-Length that
// promised the whole body.
type cutter struct {
	upstream string
	cut      func(path, query string, attempt int) bool // which answers to cut
	status   func(path, query string, attempt int) int  // a status to answer instead, or 0

	mu       sync.Mutex
	attempts map[string]int // per path and query (and form)
	cuts     int
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := r.URL.Path + "?" + r.PostForm.Encode()
	c.mu.Lock()
	c.attempts[key]++
	attempt := c.attempts[key]
	c.mu.Unlock()
	q := r.PostForm.Get("query") + r.PostForm.Get("match[]")
	if c.status != nil {
		if code := c.status(r.URL.Path, q, attempt); code != 0 {
			http.Error(w, `{"status":"error","errorType":"unavailable","error":"injected"}`, code)
			return
		}
	}
	resp, err := http.PostForm(c.upstream+r.URL.Path, r.PostForm)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	if c.cut == nil || !c.cut(r.URL.Path, q, attempt) {
		_, _ = w.Write(body)
		return
	}
	c.mu.Lock()
	c.cuts++
	c.mu.Unlock()
	_, _ = w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func startCutter(t *testing.T, upstream string, cut, status func(path, query string, attempt int) bool) (*cutter, promquery.API) {
	t.Helper()
	c := &cutter{upstream: upstream, attempts: map[string]int{}}
	c.cut = cut
	if status != nil {
		c.status = func(path, query string, attempt int) int {
			if status(path, query, attempt) {
				return http.StatusServiceUnavailable
			}
			return 0
		}
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, client(t, srv.URL)
}

func (c *cutter) attemptsOf(path, query string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for key, n := range c.attempts {
		p, form, _ := strings.Cut(key, "?")
		v, _ := url.ParseQuery(form)
		if p == path && v.Get("query") == query {
			out = append(out, n)
		}
	}
	return out
}

// An answer cut short (a connection dropped mid-body) is read again once;
// the numbers are those of an uncut read. Every query and series listing
// cut on its first attempt still gives an exact window.
func TestReadAgainWhenAnswerCutShort(t *testing.T) {
	data := testFleet(time.Hour, 15*time.Second, "honor")
	srv := startRealServer(t, data)
	first := func(path, _ string, attempt int) bool {
		return attempt == 1 && (strings.HasSuffix(path, "/query") || strings.HasSuffix(path, "/query_range") || strings.HasSuffix(path, "/series"))
	}
	c, api := startCutter(t, srv.URL, first, nil)
	cfg := promquery.DefaultConfig()
	// Set, so that no probe is asked (the probe and the raw re-reads go
	// through client_golang and are not read again).
	cfg.Profiling, cfg.RangeSemantics = nil, promquery.Closed
	res := checkRead(t, api, cfg, data, time.Hour)
	if c.cuts < res.Queries() {
		t.Fatalf("%d answers cut, want at least the %d queries' first answers", c.cuts, res.Queries())
	}
}

// A second cut is not retried (the cycle fails and acts on nothing), nor
// is an answer the server sent with an error status.
func TestReadCutTwiceOrErrorStatusFails(t *testing.T) {
	data := testFleet(time.Hour, 15*time.Second, "honor")
	srv := startRealServer(t, data)
	const avg = "avg_over_time(DCGM_FI_DEV_GPU_UTIL[4m59s999ms])"
	cfg := promquery.DefaultConfig()
	// One query at a time, one per statistic: the cut query is the one
	// that fails the read, and it is counted whole.
	cfg.Profiling, cfg.RangeSemantics, cfg.Concurrency = nil, promquery.Closed, 1

	always := func(_, q string, _ int) bool { return q == avg }
	c, api := startCutter(t, srv.URL, always, nil)
	r, err := promquery.NewReader(api, cfg, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(t.Context(), readEnd, time.Hour); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("every answer to %s cut: error %v, want unexpected EOF", avg, err)
	}
	if got := c.attemptsOf("/api/v1/query_range", avg); len(got) != 1 || got[0] != 2 {
		t.Fatalf("attempts of %s: %v, want one query read twice", avg, got)
	}

	c, api = startCutter(t, srv.URL, nil, always)
	if r, err = promquery.NewReader(api, cfg, 0, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(t.Context(), readEnd, time.Hour); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("%s answered 503: error %v, want the status", avg, err)
	}
	if got := c.attemptsOf("/api/v1/query_range", avg); len(got) != 1 || got[0] != 1 {
		t.Fatalf("attempts of %s answered 503: %v, want one, not retried", avg, got)
	}
}
