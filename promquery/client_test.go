package promquery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// The connection settings reach the server: bearer token from a file (re-read
// on rotation), extra headers such as X-Scope-OrgID.
func TestClientSendsCredentialsAndHeaders(t *testing.T) {
	var gotAuth, gotOrg string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotOrg = r.Header.Get("Authorization"), r.Header.Get("X-Scope-OrgID")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["partial response"]}`))
	}))
	defer srv.Close()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api, err := NewClient(Connection{URL: srv.URL, BearerTokenFile: token, Headers: map[string]string{"X-Scope-OrgID": "tenant-1"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, warnings, _, err := api.Query(context.Background(), "up", time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer s3cret" || gotOrg != "tenant-1" {
		t.Fatalf("server saw Authorization=%q X-Scope-OrgID=%q", gotAuth, gotOrg)
	}
	if len(warnings) != 1 || warnings[0] != "partial response" {
		t.Fatalf("warnings %v", warnings)
	}
	if err := os.WriteFile(token, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.Query(context.Background(), "up", time.Unix(1700000000, 0)); err != nil || gotAuth != "Bearer rotated" {
		t.Fatalf("after rotation: %v, Authorization=%q", err, gotAuth)
	}
}

func TestConnectionValidate(t *testing.T) {
	for _, c := range []Connection{
		{},
		{URL: "ftp://x"},
		{URL: "http://x", BearerTokenFile: "t", Username: "u"},
		{URL: "http://x", Timeout: -1},
	} {
		if _, err := NewClient(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// Every query asks for nocache=1 (VictoriaMetrics: no step alignment, no
// latency offset), the query itself intact; series listings do not.
func TestClientAsksNoCacheOnQueries(t *testing.T) {
	got := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		got[r.URL.Path] = r.Form.Get("nocache") + " " + r.Form.Get("query")
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/series":
			_, _ = w.Write([]byte(`{"status":"success","data":[]}`))
		case "/api/v1/query_range":
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
		default:
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
		}
	}))
	defer srv.Close()
	api, err := NewClient(Connection{URL: srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, at := context.Background(), time.Unix(1700000000, 0)
	if _, _, _, err := api.Query(ctx, "up", at); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.QueryRange(ctx, "up", v1.Range{Start: at, End: at.Add(time.Hour), Step: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.Series(ctx, []string{"up"}, at, at); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/api/v1/query": "1 up", "/api/v1/query_range": "1 up", "/api/v1/series": " "}
	for path, w := range want {
		if got[path] != w {
			t.Errorf("%s: nocache, query = %q, want %q", path, got[path], w)
		}
	}
}
