package promtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The backfilled history is queryable, and Prometheus 2.x range selectors
// are closed on both ends: [t-60s, t] holds 5 samples 15 s apart.
func TestStartBackfillsAndServes(t *testing.T) {
	const t0 = 1767614400 // 2026-01-05T12:00:00Z
	var om strings.Builder
	om.WriteString("# TYPE m gauge\n")
	for i := 0; i <= 240; i++ {
		fmt.Fprintf(&om, "m{pod=\"we\\\"ird\"} %d %d\n", i%7, t0-3600+15*i)
	}
	om.WriteString("# EOF\n")
	s := Start(t, []byte(om.String()), Options{})
	if !strings.HasPrefix(s.Version, "2.") {
		t.Logf("note: %s is not Prometheus 2.x", s)
	}
	for q, want := range map[string]string{
		// 241 samples lie in [t-1h, t], both ends included.
		`count_over_time(m[1h])`:                "241",
		`count_over_time(m[60s])`:               "5",
		`count_over_time(m{pod="we\"ird"}[1h])`: "241",
	} {
		if got := instant(t, s.URL, q, t0); got != want {
			t.Errorf("%s at %d = %s, want %s", q, t0, got, want)
		}
	}
}

func instant(t *testing.T, base, q string, at int64) string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q) + fmt.Sprintf("&time=%d", at))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Data.Result) != 1 {
		t.Fatalf("%s: %d results", q, len(body.Data.Result))
	}
	return fmt.Sprint(body.Data.Result[0].Value[1])
}
