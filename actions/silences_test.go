package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/amtest"
	"sigs.k8s.io/yaml"
)

func eq(name, value string) Matcher { return Matcher{Name: name, Value: value} }
func re(name, value string) Matcher { return Matcher{Name: name, Value: value, IsRegex: true} }
func not(m Matcher) Matcher {
	f := false
	m.IsEqual = &f
	return m
}

func TestSilenceMatches(t *testing.T) {
	pod := AlertLabels(analyzer.PodReport{PodKey: key("research", "long-train-7"), Node: "gpu-node-3"})
	cases := []struct {
		name     string
		matchers []Matcher
		want     bool
	}{
		{"namespace and pod regex", []Matcher{eq("namespace", "research"), re("pod", "long-train-.*")}, true},
		{"with alertname", []Matcher{eq("alertname", AlertName), eq("namespace", "research"), eq("pod", "long-train-7")}, true},
		{"other alertname", []Matcher{eq("alertname", "GPUIdle"), eq("namespace", "research")}, false},
		{"regex is anchored at the start", []Matcher{eq("namespace", "research"), re("pod", "train-.*")}, false},
		{"regex is anchored at the end", []Matcher{eq("namespace", "research"), re("pod", "long-train")}, false},
		{"alternation is anchored as a whole", []Matcher{re("pod", "x|long-train-7")}, true},
		{"equality is exact", []Matcher{eq("namespace", "research"), eq("pod", "long-train")}, false},
		{"other namespace", []Matcher{eq("namespace", "prod"), re("pod", "long-train-.*")}, false},
		{"not equal, other value", []Matcher{eq("namespace", "research"), not(eq("pod", "other"))}, true},
		{"not equal, same value", []Matcher{eq("namespace", "research"), not(eq("pod", "long-train-7"))}, false},
		{"negative regex", []Matcher{eq("namespace", "research"), not(re("pod", "long-.*"))}, false},
		{"missing label reads as empty", []Matcher{eq("namespace", "research"), eq("team", "")}, true},
		{"label the detector cannot see is taken as matching", []Matcher{eq("namespace", "research"), eq("job", "miner-detector")}, true},
		{"label the detector cannot see, negated, is taken as matching", []Matcher{eq("namespace", "research"), not(re("cluster", ".*"))}, true},
		{"severity of the alert", []Matcher{eq("namespace", "research"), eq("severity", "warning")}, true},
		{"other severity", []Matcher{eq("namespace", "research"), eq("severity", "critical")}, false},
		{"node regex", []Matcher{re("node", "gpu-node-[0-9]+"), eq("pod", "long-train-7")}, true},
		{"other node", []Matcher{eq("namespace", "research"), eq("node", "gpu-node-4")}, false},
		{"not shared", []Matcher{eq("namespace", "research"), eq("shared", "false")}, true},
		{"shared only", []Matcher{eq("namespace", "research"), eq("shared", "true")}, false},
		{"regex on severity does not match a prefix", []Matcher{eq("namespace", "research"), re("severity", "warn")}, false},
		{"bad regex matches nothing", []Matcher{re("pod", "(")}, false},
		{"no matchers match nothing", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := (Silence{Matchers: c.matchers}).Matches(pod); got != c.want {
				t.Errorf("Matches(%v) = %v, want %v", c.matchers, got, c.want)
			}
		})
	}
}

func silencedPolicy(s *SilenceSet) Policy {
	p := DefaultPolicy()
	p.Enforce, p.StrikesToEnforce = true, 1
	p.Silences = s
	return p
}

// lastSteps is each pod's delete or skip_delete step by "ns/pod".
func lastSteps(t *testing.T, plan Plan) map[string]Step {
	t.Helper()
	out := map[string]Step{}
	for _, st := range plan.Steps {
		if st.Kind == StepDelete || st.Kind == StepSkipDelete {
			out[st.Pod.String()] = st
		}
	}
	return out
}

func TestBuildPlanSilenceSuppressesDeletionOnly(t *testing.T) {
	ends := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	set := &SilenceSet{Silences: []Silence{{
		ID: "abc", CreatedBy: "sre@example.com", Comment: "approved training", EndsAt: ends,
		Matchers: []Matcher{eq("namespace", "research"), re("pod", "long-train-.*")},
	}}}
	plan, _ := BuildPlan([]analyzer.PodReport{miner("research", "long-train-1"), miner("research", "other")}, State{}, silencedPolicy(set))
	steps := lastSteps(t, plan)
	s := steps["research/long-train-1"]
	if s.Kind != StepSkipDelete {
		t.Fatalf("silenced pod: %s, want skip_delete", s.Kind)
	}
	for _, want := range []string{"abc", "sre@example.com", "approved training", "2026-06-01T00:00:00Z"} {
		if !strings.Contains(s.Reason, want) {
			t.Errorf("reason %q lacks %q", s.Reason, want)
		}
	}
	if got := steps["research/other"].Kind; got != StepDelete {
		t.Errorf("unsilenced pod: %s, want delete", got)
	}
	if sum := plan.Summary(); sum.Record != 2 {
		t.Errorf("record steps = %d, want 2 (findings still recorded)", sum.Record)
	}
}

func TestBuildPlanSilencesUnavailableDeletesNothing(t *testing.T) {
	set := &SilenceSet{Err: errors.New("connection refused")}
	plan, _ := BuildPlan([]analyzer.PodReport{miner("a", "x"), miner("b", "y")}, State{}, silencedPolicy(set))
	sum := plan.Summary()
	if sum.Delete != 0 || sum.Record != 2 || sum.SkipDelete != 2 {
		t.Fatalf("summary %s, want 2 record, 0 delete, 2 skip_delete", sum)
	}
	for _, st := range lastSteps(t, plan) {
		if !strings.Contains(st.Reason, "alertmanager silences unavailable") || !strings.Contains(st.Reason, "connection refused") {
			t.Errorf("reason %q does not say Alertmanager was unavailable", st.Reason)
		}
	}
}

// postSilence creates a silence through Alertmanager's v2 API and returns its id.
func postSilence(t *testing.T, url string, matchers []Matcher, start, end time.Time) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"matchers": matchers, "startsAt": start, "endsAt": end,
		"createdBy": "oncall@example.com", "comment": "long training run",
	})
	resp, err := http.Post(url+"/api/v2/silences", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST silence: status %s, %v", resp.Status, err)
	}
	return out.SilenceID
}

func TestSilencesFromRealAlertmanager(t *testing.T) {
	am := amtest.Start(t, "route:\n  receiver: none\nreceivers:\n- name: none\n")
	now := time.Now()
	tt := true
	isEq := func(m Matcher) Matcher { m.IsEqual = &tt; return m }
	matchingID := postSilence(t, am.URL, []Matcher{isEq(eq("namespace", "research")), isEq(re("pod", "long-train-.*"))}, now.Add(-time.Minute), now.Add(time.Hour))
	postSilence(t, am.URL, []Matcher{isEq(eq("namespace", "other")), isEq(re("pod", ".*"))}, now.Add(-time.Minute), now.Add(time.Hour))
	expired := postSilence(t, am.URL, []Matcher{isEq(eq("namespace", "research")), isEq(eq("pod", "expired-1"))}, now.Add(-time.Minute), now.Add(time.Hour))
	req, _ := http.NewRequest(http.MethodDelete, am.URL+"/api/v2/silence/"+expired, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("expire silence: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	set := FetchSilences(context.Background(), nil, am.URL)
	if set.Err != nil {
		t.Fatal(set.Err)
	}
	if len(set.Silences) != 2 {
		t.Fatalf("got %d active silences, want 2 (expired one dropped)", len(set.Silences))
	}
	pods := []analyzer.PodReport{miner("research", "long-train-1"), miner("research", "expired-1"), miner("research", "short-1")}
	plan, _ := BuildPlan(pods, State{}, silencedPolicy(set))
	steps := lastSteps(t, plan)
	if s := steps["research/long-train-1"]; s.Kind != StepSkipDelete || !strings.Contains(s.Reason, matchingID) || !strings.Contains(s.Reason, "oncall@example.com") {
		t.Errorf("silenced pod: %s %q, want skip_delete naming silence %s", s.Kind, s.Reason, matchingID)
	}
	for _, p := range []string{"research/expired-1", "research/short-1"} {
		if s := steps[p]; s.Kind != StepDelete {
			t.Errorf("%s: %s %q, want delete (expired or non-matching silence)", p, s.Kind, s.Reason)
		}
	}
}

func TestSilencesAlertmanagerDown(t *testing.T) {
	// Port 1 on loopback: nothing listens there.
	set := FetchSilences(context.Background(), &http.Client{Timeout: 2 * time.Second}, "http://127.0.0.1:1")
	if set.Err == nil {
		t.Fatal("no error from an unreachable Alertmanager")
	}
	plan, _ := BuildPlan([]analyzer.PodReport{miner("research", "x")}, State{}, silencedPolicy(set))
	if sum := plan.Summary(); sum.Delete != 0 || sum.Record != 1 {
		t.Fatalf("summary %s, want 1 record, 0 delete", sum)
	}
	if s := lastSteps(t, plan)["research/x"]; !strings.Contains(s.Reason, "127.0.0.1:1") {
		t.Errorf("reason %q does not name the unreachable Alertmanager", s.Reason)
	}
}

// The detector's silence matching agrees with Alertmanager's own: each
// alert's full GPUMinerDetected label set is posted to a real Alertmanager,
// and the silences Alertmanager says mute it (status.silencedBy) must be
// exactly those Silence.Matches accepts and BuildPlan skips deletion for.
func TestSilencesAgreeWithAlertmanager(t *testing.T) {
	am := amtest.Start(t, "route:\n  receiver: none\nreceivers:\n- name: none\n")
	now := time.Now()
	tt := true
	isEq := func(m Matcher) Matcher { m.IsEqual = &tt; return m }
	silences := map[string][]Matcher{
		"warning severity (extra matcher)":  {isEq(eq("namespace", "research")), isEq(re("pod", "long-train-.*")), isEq(eq("severity", "warning"))},
		"critical severity (extra matcher)": {isEq(eq("namespace", "research")), isEq(eq("severity", "critical"))},
		"node regex":                        {isEq(re("node", "gpu-node-(1|2)")), isEq(eq("alertname", AlertName))},
		"not shared, not team-b":            {isEq(eq("shared", "false")), not(re("namespace", "team-b|research"))},
		"regex anchored":                    {isEq(re("pod", "train"))},
		"not-equal pod":                     {isEq(eq("namespace", "team-b")), not(eq("pod", "web-0"))},
	}
	idName := map[string]string{}
	for name, ms := range silences {
		idName[postSilence(t, am.URL, ms, now.Add(-time.Minute), now.Add(time.Hour))] = name
	}
	reports := []analyzer.PodReport{
		{PodKey: key("research", "long-train-1"), Node: "gpu-node-9"},
		{PodKey: key("research", "train"), Node: "gpu-node-1", Shared: true},
		{PodKey: key("team-a", "miner-x"), Node: "gpu-node-7"},
		{PodKey: key("team-b", "web-0"), Node: "gpu-node-8", Shared: true},
		{PodKey: key("team-b", "worker-1"), Node: "gpu-node-8", Shared: true},
		{PodKey: key("team-c", "x"), Node: "gpu-node-2"},
	}
	var alerts []map[string]any
	for _, r := range reports {
		alerts = append(alerts, map[string]any{"labels": AlertLabels(r), "startsAt": now.Add(-time.Minute), "endsAt": now.Add(time.Hour)})
	}
	body, _ := json.Marshal(alerts)
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST alerts: %v %v", resp, err)
	}
	resp.Body.Close()

	resp, err = http.Get(am.URL + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			SilencedBy []string `json:"silencedBy"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got) != len(reports) {
		t.Fatalf("GET alerts: %d alerts, %v; want %d", len(got), err, len(reports))
	}
	amSays := map[string][]string{}
	for _, a := range got {
		var names []string
		for _, id := range a.Status.SilencedBy {
			names = append(names, idName[id])
		}
		slices.Sort(names)
		amSays[a.Labels["namespace"]+"/"+a.Labels["pod"]] = names
	}

	set := FetchSilences(context.Background(), nil, am.URL)
	if set.Err != nil {
		t.Fatal(set.Err)
	}
	silencedSomewhere := 0
	for _, r := range reports {
		var names []string
		for _, s := range set.Silences {
			if s.Matches(AlertLabels(r)) {
				names = append(names, idName[s.ID])
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, amSays[r.PodKey.String()]) {
			t.Errorf("%s: detector matches silences %q, Alertmanager %q", r.PodKey, names, amSays[r.PodKey.String()])
		}
		protected, _ := silencedPolicy(set).Protected(r)
		if protected != (len(names) > 0) {
			t.Errorf("%s: protected = %t with silences %q", r.PodKey, protected, names)
		}
		if len(names) > 0 {
			silencedSomewhere++
		}
	}
	if silencedSomewhere == 0 || silencedSomewhere == len(reports) {
		t.Fatalf("%d of %d alerts silenced: the table proves nothing", silencedSomewhere, len(reports))
	}
}

// AlertSeverity and AlertName are what deploy/prometheus's rule gives the
// alert, so silences on them are matched against the alert as it is.
func TestAlertLabelsMatchTheAlertRule(t *testing.T) {
	raw, err := os.ReadFile("../deploy/prometheus/miner-detector-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert  string            `json:"alert"`
				Expr   string            `json:"expr"`
				Labels map[string]string `json:"labels"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r.Alert != AlertName {
				continue
			}
			if r.Labels["severity"] != AlertSeverity || len(r.Labels) != 1 || r.Expr != "miner_detector_suspect_pod == 1" {
				t.Fatalf("rule %s: labels %v expr %q; AlertLabels assumes severity=%s only, on miner_detector_suspect_pod{namespace,pod,node,shared}", AlertName, r.Labels, r.Expr, AlertSeverity)
			}
			return
		}
	}
	t.Fatalf("no %s rule in the rules file", AlertName)
}
