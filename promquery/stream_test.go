package promquery

import (
	"bytes"
	"compress/gzip"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

type decoded struct {
	metric string
	pts    []model.SamplePair
}

func collect(into *[]decoded) sampleSink {
	return func(l seriesLabels, pts []model.SamplePair) error {
		m, err := l.decode()
		if err != nil {
			return err
		}
		*into = append(*into, decoded{m.String(), append([]model.SamplePair(nil), pts...)})
		return nil
	}
}

// The decoder reads what Prometheus and VictoriaMetrics answer: matrices
// and vectors, NaN and infinite values, warnings, fields it does not know
// (VictoriaMetrics's isPartial and stats, Prometheus's infos), and errors.
func TestDecodeAnswer(t *testing.T) {
	cases := []struct {
		name, body string
		want       []decoded
		warnings   int
		err        string
	}{
		{
			name: "matrix",
			body: `{"status":"success","data":{"resultType":"matrix","result":[` +
				`{"metric":{"gpu":"0","Hostname":"n1"},"values":[[1700000000,"1.5"],[1700000300.5,"NaN"]]},` +
				`{"metric":{},"values":[[1700000000.001,"+Inf"],[1700000300,"-Inf"]]}]},"warnings":["w1"],"infos":["i"]}`,
			want: []decoded{
				{`{Hostname="n1", gpu="0"}`, []model.SamplePair{{Timestamp: 1700000000000, Value: 1.5}, {Timestamp: 1700000300500, Value: model.SampleValue(math.NaN())}}},
				{`{}`, []model.SamplePair{{Timestamp: 1700000000001, Value: model.SampleValue(math.Inf(1))}, {Timestamp: 1700000300000, Value: model.SampleValue(math.Inf(-1))}}},
			},
			warnings: 1,
		},
		{
			name: "vector from VictoriaMetrics",
			body: `{"status":"success","isPartial":false,"data":{"resultType":"vector","result":[` +
				`{"metric":{"__name__":"m","gpu":"1"},"value":[1700000000,"42"]}]},"stats":{"seriesFetched":"1"}}`,
			want: []decoded{{`m{gpu="1"}`, []model.SamplePair{{Timestamp: 1700000000000, Value: 42}}}},
		},
		{
			name: "escaped label values",
			body: `{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"pod":"a\\\"b\u00e9"},"value":[1700000000,"1"]}]}}`,
			want: []decoded{{`{pod="a\\\"bé"}`, []model.SamplePair{{Timestamp: 1700000000000, Value: 1}}}},
		},
		{name: "error", body: `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`, err: "too many samples"},
		{name: "scalar", body: `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}}`, err: "want a vector or a matrix"},
		{name: "truncated", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[17`, err: "decode answer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []decoded
			ws, err := decodeAnswer(strings.NewReader(c.body), resultInto(collect(&got)))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ws) != c.warnings {
				t.Errorf("warnings %v, want %d", ws, c.warnings)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d series, want %d: %v", len(got), len(c.want), got)
			}
			for i, g := range got {
				w := c.want[i]
				if g.metric != w.metric || len(g.pts) != len(w.pts) {
					t.Fatalf("series %d: %v, want %v", i, g, w)
				}
				for k, p := range g.pts {
					q := w.pts[k]
					same := p.Value == q.Value || (math.IsNaN(float64(p.Value)) && math.IsNaN(float64(q.Value)))
					if p.Timestamp != q.Timestamp || !same {
						t.Errorf("series %d point %d: %v, want %v", i, k, p, q)
					}
				}
			}
		})
	}
}

// The client asks for gzip and decodes a compressed answer; an answer that
// is no JSON (a proxy's error page) is an error that says what came back.
func TestClientStreamsGzipAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken/api/v1/query_range" {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>bad gateway</html>"))
			return
		}
		if r.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding %q, want gzip", r.Header.Get("Accept-Encoding"))
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"gpu":"0"},"values":[[1700000000,"7"]]}]}}`))
		_ = zw.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(buf.Bytes())
	}))
	defer srv.Close()
	rng := v1.Range{Start: time.Unix(1700000000, 0), End: time.Unix(1700000000, 0), Step: time.Minute}
	api, err := NewClient(Connection{URL: srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var got []decoded
	if _, err := api.(streamer).queryRangeInto(context.Background(), "up", rng, collect(&got)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].pts[0].Value != 7 {
		t.Fatalf("got %v, want one series with 7", got)
	}
	broken, err := NewClient(Connection{URL: srv.URL + "/broken", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = broken.(streamer).queryRangeInto(context.Background(), "up", rng, collect(&got))
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("error %v, want one naming the 502", err)
	}
}

// A series listing is read label set by label set, with its warnings.
func TestClientStreamsSeriesListing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.URL.Path != "/api/v1/series" || r.Form.Get("match[]") != `up{job="a"}` {
			t.Errorf("got %s %v (%v), want the series listing of up{job=\"a\"}", r.URL.Path, r.Form, err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":[{"__name__":"up","Hostname":"n1"},{"__name__":"up","Hostname":"n1"},{"__name__":"up"}],"warnings":["partial"]}`))
	}))
	defer srv.Close()
	api, err := NewClient(Connection{URL: srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	ws, err := api.(streamer).seriesInto(context.Background(), `up{job="a"}`, time.Unix(1700000000, 0), time.Unix(1700003600, 0),
		"Hostname", func(node string) { perNode[node]++ })
	if err != nil {
		t.Fatal(err)
	}
	if perNode["n1"] != 2 || perNode[""] != 1 || len(ws) != 1 {
		t.Fatalf("per node %v, warnings %v; want n1: 2, none: 1, one warning", perNode, ws)
	}
}
