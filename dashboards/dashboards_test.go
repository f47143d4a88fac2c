package dashboards_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

var update = flag.Bool("update", false, "rewrite deploy/grafana/dashboards-configmap.yaml from the dashboard JSON files")

const configMapPath = "../deploy/grafana/dashboards-configmap.yaml"

// wantUIDs are the stable uids: links between dashboards and bookmarks
// depend on them.
var wantUIDs = map[string]string{
	"detector-health.json": "miner-detector-health",
	"evidence.json":        "miner-detector-evidence",
	"fleet-overview.json":  "miner-detector-fleet",
	"suspects.json":        "miner-detector-suspects",
}

// dcgmMetrics are the dcgm-exporter metrics the dashboards may use.
var dcgmMetrics = []string{
	"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED",
	"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_PIPE_FP32_ACTIVE", "DCGM_FI_PROF_PIPE_FP16_ACTIVE",
	"DCGM_FI_PROF_DRAM_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE",
}

// dashboard is the part of Grafana's JSON model the tests read.
type dashboard struct {
	File          string          `json:"-"`
	Raw           []byte          `json:"-"`
	Inputs        json.RawMessage `json:"__inputs"`
	UID           string          `json:"uid"`
	Title         string          `json:"title"`
	SchemaVersion int             `json:"schemaVersion"`
	Tags          []string        `json:"tags"`
	Panels        []panel         `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Instant    bool           `json:"instant"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // collapsed rows
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Regex      string          `json:"regex"`
	Datasource *datasourceRef  `json:"datasource"`
	Options    []struct {
		Value string `json:"value"`
	} `json:"options"`
}

// queryText is a variable's query: a string, or {"query": "..."} as newer
// Grafana versions store it.
func (v variable) queryText(t *testing.T) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &o); err != nil {
		t.Fatalf("variable %s: query is neither a string nor an object: %s", v.Name, v.Query)
	}
	return o.Query
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var out []dashboard
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: invalid JSON: %v", f, err)
		}
		if dec.More() {
			t.Fatalf("%s: trailing data after the JSON object", f)
		}
		d.File, d.Raw = f, raw
		out = append(out, d)
	}
	got := make([]string, 0, len(out))
	for _, d := range out {
		got = append(got, d.File)
	}
	want := make([]string, 0, len(wantUIDs))
	for f := range wantUIDs {
		want = append(want, f)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("dashboard files = %v, want %v", got, want)
	}
	return out
}

// allPanels flattens rows' nested panels.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// query is one PromQL expression of a dashboard, where it came from and
// how Grafana runs it.
type query struct {
	Where   string // "evidence.json: panel 3 \"Power\" A"
	Expr    string // as written, with template variables
	Instant bool
	// Variable is set for a templating query: its regex extracts the values.
	Variable *variable
}

var (
	queryResultRE = regexp.MustCompile(`^query_result\((.*)\)$`)
	labelValuesRE = regexp.MustCompile(`^label_values\((?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
)

// templateExpr returns the PromQL inside a Prometheus variable query.
func templateExpr(q string) (string, error) {
	q = strings.TrimSpace(q)
	if m := queryResultRE.FindStringSubmatch(q); m != nil {
		return m[1], nil
	}
	if m := labelValuesRE.FindStringSubmatch(q); m != nil {
		if m[1] == "" {
			return "", fmt.Errorf("label_values(%s) without a metric cannot be checked", m[2])
		}
		return m[1], nil
	}
	return "", fmt.Errorf("unsupported variable query %q: use query_result(...) or label_values(metric, label)", q)
}

func queries(t *testing.T, d dashboard) []query {
	t.Helper()
	var out []query
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: panel %d %q target %s has no expression", d.File, p.ID, p.Title, tg.RefID)
				continue
			}
			out = append(out, query{Where: fmt.Sprintf("%s: panel %d %q %s", d.File, p.ID, p.Title, tg.RefID),
				Expr: tg.Expr, Instant: tg.Instant})
		}
	}
	for i := range d.Templating.List {
		v := &d.Templating.List[i]
		if v.Type != "query" {
			continue
		}
		e, err := templateExpr(v.queryText(t))
		if err != nil {
			t.Errorf("%s: variable %s: %v", d.File, v.Name, err)
			continue
		}
		out = append(out, query{Where: fmt.Sprintf("%s: variable %s", d.File, v.Name), Expr: e, Instant: true, Variable: v})
	}
	return out
}

// Every dashboard has a stable uid, a title, a recent schema, panels with
// unique ids, a Prometheus datasource variable that every panel and query
// uses, and no __inputs (the sidecar loads files as they are).
func TestDashboardsWellFormed(t *testing.T) {
	for _, d := range loadDashboards(t) {
		t.Run(d.File, func(t *testing.T) {
			if d.UID != wantUIDs[d.File] {
				t.Errorf("uid = %q, want %q", d.UID, wantUIDs[d.File])
			}
			if !strings.HasPrefix(d.Title, "Miner Detector / ") {
				t.Errorf("title = %q, want it to start with %q", d.Title, "Miner Detector / ")
			}
			if d.SchemaVersion < 36 {
				t.Errorf("schemaVersion = %d, want >= 36", d.SchemaVersion)
			}
			if d.Inputs != nil {
				t.Errorf("has __inputs: the sidecar cannot fill them; use the ${datasource} variable")
			}
			if strings.Contains(string(d.Raw), "${DS_") {
				t.Errorf("refers to an exported-dashboard input ${DS_...}")
			}
			if !slices.Contains(d.Tags, "miner-detector") {
				t.Errorf("tags = %v: the dashboards link to each other by the tag miner-detector", d.Tags)
			}
			var ds *variable
			for i, v := range d.Templating.List {
				if v.Name == "datasource" {
					ds = &d.Templating.List[i]
				}
			}
			if ds == nil || ds.Type != "datasource" || ds.queryText(t) != "prometheus" {
				t.Fatalf("no datasource variable of type datasource querying prometheus: %+v", ds)
			}
			usesDS := func(r *datasourceRef) bool { return r != nil && r.Type == "prometheus" && r.UID == "${datasource}" }
			ids := map[int]string{}
			ps := allPanels(d.Panels)
			if len(ps) < 4 {
				t.Errorf("only %d panels", len(ps))
			}
			for _, p := range ps {
				if p.ID <= 0 {
					t.Errorf("panel %q has id %d", p.Title, p.ID)
				}
				if prev, dup := ids[p.ID]; dup {
					t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
				}
				ids[p.ID] = p.Title
				if p.Title == "" {
					t.Errorf("panel %d has no title", p.ID)
				}
				if p.Type == "row" {
					continue
				}
				if !usesDS(p.Datasource) {
					t.Errorf("panel %d %q datasource = %+v, want ${datasource}", p.ID, p.Title, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %d %q has no queries", p.ID, p.Title)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					if !usesDS(tg.Datasource) {
						t.Errorf("panel %d %q target %s datasource = %+v, want ${datasource}", p.ID, p.Title, tg.RefID, tg.Datasource)
					}
					if tg.RefID == "" || refs[tg.RefID] {
						t.Errorf("panel %d %q: empty or repeated refId %q", p.ID, p.Title, tg.RefID)
					}
					refs[tg.RefID] = true
				}
			}
			for _, v := range d.Templating.List {
				if v.Type == "query" && !usesDS(v.Datasource) {
					t.Errorf("variable %s datasource = %+v, want ${datasource}", v.Name, v.Datasource)
				}
			}
		})
	}
}

// The evidence dashboard has the variables the suspects table links with,
// and the window choices of the detector's usual settings.
func TestEvidenceVariables(t *testing.T) {
	var ev dashboard
	for _, d := range loadDashboards(t) {
		if d.UID == "miner-detector-evidence" {
			ev = d
		}
	}
	vars := map[string]variable{}
	for _, v := range ev.Templating.List {
		vars[v.Name] = v
	}
	for _, name := range []string{"datasource", "namespace", "pod", "window"} {
		if _, ok := vars[name]; !ok {
			t.Errorf("evidence dashboard lacks variable %s", name)
		}
	}
	w := vars["window"]
	if w.Type != "custom" || w.queryText(t) != "1h,6h,24h,7d" {
		t.Errorf("window variable = %s %s, want custom 1h,6h,24h,7d", w.Type, w.queryText(t))
	}
	var opts []string
	for _, o := range w.Options {
		opts = append(opts, o.Value)
	}
	if !slices.Equal(opts, []string{"1h", "6h", "24h", "7d"}) {
		t.Errorf("window options = %v", opts)
	}
	// Every panel query on DCGM metrics must match the workload in both
	// label layouts.
	for _, q := range queries(t, ev) {
		if q.Variable != nil || !strings.Contains(q.Expr, "DCGM_") {
			continue
		}
		for _, m := range []string{`pod="$pod"`, `namespace="$namespace"`, `exported_pod="$pod"`, `exported_namespace="$namespace"`} {
			if !strings.Contains(q.Expr, m) {
				t.Errorf("%s: %s lacks %s: it must match both label layouts", q.Where, q.Expr, m)
			}
		}
	}
	// The suspects table links to the evidence dashboard by uid with the
	// variables it defines.
	raw, err := os.ReadFile("suspects.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/d/miner-detector-evidence/", "var-namespace=${__data.fields.namespace}", "var-pod=${__value.raw}"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("suspects.json has no link containing %q", want)
		}
	}
}

// vars are the concrete values a template variable takes in the tests.
type vars map[string]string

var grafanaVarRE = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-zA-Z]+)?\}|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]|\$([a-zA-Z_][a-zA-Z0-9_]*)`)

// substitute replaces Grafana's template variables ($name, ${name},
// ${name:fmt}, [[name]]) with v's values. A variable that v lacks is an
// error; "$1" (label_replace's replacement) is left alone.
func substitute(expr string, v vars) (string, error) {
	var missing []string
	out := grafanaVarRE.ReplaceAllStringFunc(expr, func(m string) string {
		sm := grafanaVarRE.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[3]
		val, ok := v[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("unknown template variables %v", missing)
	}
	return out, nil
}

// baseVars are Grafana's built-in interval variables.
func baseVars() vars {
	return vars{
		"__interval": "1m", "__interval_ms": "60000", "__rate_interval": "1m",
		"__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
		"namespace": "team-a", "pod": "batch-worker-5c7d9f8b6-x2k4q", "window": "1h",
	}
}

func TestSubstitute(t *testing.T) {
	got, err := substitute(`a{pod="$pod", ns="${namespace}", x="[[window]]"}[$__rate_interval] "$1"`, baseVars())
	if err != nil {
		t.Fatal(err)
	}
	if want := `a{pod="batch-worker-5c7d9f8b6-x2k4q", ns="team-a", x="1h"}[1m] "$1"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := substitute(`a[$nope]`, baseVars()); err == nil {
		t.Error("an unknown variable was accepted")
	}
}

var promqlParser = parser.NewParser(parser.Options{})

// metricNames returns the metric names an expression selects; a selector
// without one is an error (it would scan every series).
func metricNames(e parser.Expr) ([]string, error) {
	var names []string
	var err error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			err = fmt.Errorf("selector %s has no metric name", vs)
			return nil
		}
		names = append(names, name)
		return nil
	})
	return names, err
}

// allowedMetrics are the series the detector publishes (from its registry)
// and the dcgm-exporter metrics above.
func allowedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	mfs, err := metrics.New().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		ok[name] = true
		switch mf.GetType().String() {
		case "HISTOGRAM":
			ok[name+"_bucket"], ok[name+"_sum"], ok[name+"_count"] = true, true, true
		case "SUMMARY":
			ok[name+"_sum"], ok[name+"_count"] = true, true
		}
	}
	// Vector families with no child yet are not gathered: name them here
	// so a panel on them is still checked against a real name.
	for _, n := range []string{"miner_detector_pods", "miner_detector_suspect_pod", "miner_detector_suspect_pod_gpu_utilization_mean",
		"miner_detector_suspect_pod_gpu_utilization_stddev", "miner_detector_suspect_pod_coverage",
		"miner_detector_suspect_pod_strikes", "miner_detector_actions_total", "miner_detector_suspect_pod_rule",
		"miner_detector_busy_gpu_without_pod", "miner_detector_repeat_offender", "miner_detector_owner_deletions",
		"miner_detector_suspect_pod_owner"} {
		ok[n] = true
	}
	for _, n := range dcgmMetrics {
		ok[n] = true
	}
	return ok
}

// Every expression parses after substitution (for every window choice),
// and names only metrics the detector or dcgm-exporter publish.
func TestExpressionsParseAndUseKnownMetrics(t *testing.T) {
	allowed := allowedMetrics(t)
	if !allowed["miner_detector_cycle_duration_seconds_bucket"] || !allowed["miner_detector_cycles_total"] {
		t.Fatalf("allowlist lacks the detector's own metrics: %v", allowed)
	}
	used := map[string]bool{}
	n := 0
	for _, d := range loadDashboards(t) {
		for _, q := range queries(t, d) {
			for _, w := range []string{"1h", "6h", "24h", "7d"} {
				v := baseVars()
				v["window"] = w
				e, err := substitute(q.Expr, v)
				if err != nil {
					t.Errorf("%s: %v", q.Where, err)
					continue
				}
				expr, err := promqlParser.ParseExpr(e)
				if err != nil {
					t.Errorf("%s: %s does not parse: %v", q.Where, e, err)
					continue
				}
				n++
				if q.Instant || q.Variable != nil {
					if expr.Type() != parser.ValueTypeVector && expr.Type() != parser.ValueTypeScalar {
						t.Errorf("%s: instant query of type %s", q.Where, expr.Type())
					}
				} else if expr.Type() != parser.ValueTypeVector && expr.Type() != parser.ValueTypeScalar {
					t.Errorf("%s: range query must be an instant vector, is %s", q.Where, expr.Type())
				}
				if w != "1h" {
					continue // the names do not depend on the window
				}
				names, err := metricNames(expr)
				if err != nil {
					t.Errorf("%s: %v", q.Where, err)
				}
				if len(names) == 0 {
					t.Errorf("%s: %s reads no metric", q.Where, e)
				}
				for _, name := range names {
					used[name] = true
					if !allowed[name] {
						t.Errorf("%s: metric %s is published neither by the detector nor by dcgm-exporter", q.Where, name)
					}
				}
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d expressions checked", n)
	}
	// The dashboards show every dcgm metric they were built for.
	for _, m := range dcgmMetrics {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}
