package promquery

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

func TestChunkExprEscapesValues(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Selector = `{cluster="prod \"eu\"", team=~"a|b"}`
	base, err := cfg.baseMatchers()
	if err != nil {
		t.Fatal(err)
	}
	node, err := oneOf("Hostname", []string{`gpu-1.example`, `evil"}or vector(1)`, ""})
	if err != nil {
		t.Fatal(err)
	}
	q := chunkExpr(statAvg, rangeOver(selector(cfg.Metric, append(base, node)), 5*time.Minute, LeftOpen))
	// The query must parse back to the same matchers: nothing injected.
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		t.Fatalf("built query does not parse: %v\n%s", err, q)
	}
	if !strings.HasPrefix(q, "avg_over_time(DCGM_FI_DEV_GPU_UTIL{") || !strings.HasSuffix(q, "[5m])") {
		t.Fatalf("unexpected query %s", q)
	}
	if _, ok := expr.(*parser.Call); !ok {
		t.Fatalf("a label value turned the query into a %T: %s", expr, q)
	}
	sel, err := promqlParser.ParseMetricSelector(strings.TrimSuffix(strings.TrimPrefix(q, "avg_over_time("), "[5m])"))
	if err != nil {
		t.Fatal(err)
	}
	var hostname *labels.Matcher
	for _, m := range sel {
		if m.Name == "Hostname" {
			hostname = m
		}
	}
	if hostname == nil || !hostname.Matches(`evil"}or vector(1)`) || !hostname.Matches("") || hostname.Matches("gpu-1Xexample") {
		t.Fatalf("Hostname matcher %v does not match exactly the given values", hostname)
	}
}

func TestClosedRangeIsOneMillisecondShorter(t *testing.T) {
	vs := selector("m", []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "m")})
	if got := rangeOver(vs, 5*time.Minute, Closed).String(); got != "m[4m59s999ms]" {
		t.Fatalf("closed: %s", got)
	}
	if got := rangeOver(vs, 5*time.Minute, LeftOpen).String(); got != "m[5m]" {
		t.Fatalf("left-open: %s", got)
	}
}

func TestExactlySelectsOneSeries(t *testing.T) {
	m := model.Metric{"pod": `a"b\c`, "gpu": "0", "__name__": "ignored"}
	q := selector("DCGM_FI_DEV_GPU_UTIL", exactly("DCGM_FI_DEV_GPU_UTIL", m)).String()
	ms, err := promqlParser.ParseMetricSelector(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	got := map[string]string{}
	for _, x := range ms {
		got[x.Name] = x.Value
	}
	if got["pod"] != `a"b\c` || got["gpu"] != "0" || got["__name__"] != "DCGM_FI_DEV_GPU_UTIL" || len(got) != 3 {
		t.Fatalf("round trip %s -> %v", q, got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Config){
		"metric":         func(c *Config) { c.Metric = "bad metric" },
		"selector":       func(c *Config) { c.Selector = "{cluster=}" },
		"exporterPods":   func(c *Config) { c.ExporterPods = "(" },
		"maxSamples":     func(c *Config) { c.MaxSamples = 10 },
		"chunk":          func(c *Config) { c.Chunk = time.Second },
		"rangeSemantics": func(c *Config) { c.RangeSemantics = "open" },
		"workloadLabels": func(c *Config) { c.Workload.Pod = "pod" },
		"nodeLabel":      func(c *Config) { c.NodeLabel = "" },
	}
	for field, mutate := range cases {
		c := DefaultConfig()
		mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v, want an error naming the field", field, err)
		}
	}
}

func TestChunkFor(t *testing.T) {
	c := DefaultConfig()
	for window, want := range map[time.Duration]time.Duration{
		time.Hour: 5 * time.Minute, 7 * time.Minute: time.Minute, 6 * time.Hour: 5 * time.Minute,
		12 * time.Hour: 10 * time.Minute, 24 * time.Hour: 20 * time.Minute, 7 * 24 * time.Hour: 3 * time.Hour,
		65 * time.Minute: 5 * time.Minute, 6*time.Hour + 5*time.Minute: 5 * time.Minute, // not a multiple of a longer one
	} {
		if got, err := c.ChunkFor(window); err != nil || got != want {
			t.Errorf("ChunkFor(%v) = %v, %v; want %v", window, got, err, want)
		}
	}
	if _, err := c.ChunkFor(90 * time.Second); err == nil {
		t.Error("90s window accepted")
	}
	c.Chunk = 5 * time.Minute
	if got, err := c.ChunkFor(24 * time.Hour); err != nil || got != 5*time.Minute {
		t.Errorf("configured chunk: ChunkFor(24h) = %v, %v; want 5m", got, err)
	}
}
