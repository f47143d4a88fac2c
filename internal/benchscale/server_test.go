package benchscale

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCountingProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "0123456789")
	}))
	defer backend.Close()
	p, err := StartProxy(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 3 {
		resp, err := http.Get(p.URL + "/api/v1/query")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "0123456789" {
			t.Fatalf("body %q", b)
		}
	}
	if p.Bytes() != 30 || p.Responses() != 3 {
		t.Errorf("counted %d bytes in %d responses, want 30 in 3", p.Bytes(), p.Responses())
	}
	p.Reset()
	if p.Bytes() != 0 || p.Responses() != 0 {
		t.Errorf("after Reset: %d bytes, %d responses", p.Bytes(), p.Responses())
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Hour: "1h", 24 * time.Hour: "24h", 90 * time.Minute: "90m", 45 * time.Second: "45s"} {
		if got := promDuration(d); got != want {
			t.Errorf("promDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
