package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	c.Prometheus.URL = "http://prometheus:9090"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	body := `
prometheus:
  url: https://mimir.example/prometheus
  headers: {X-Scope-OrgID: gpu-team}
window: 6h
scrapeInterval: 30s
rule: {meanAbove: 90, stddevBelow: 3}
query:
  selector: '{cluster="prod"}'
  chunk: 10m
actions:
  enforce: true
  exemptions:
    - {namespace: research, pod: "long-train-*"}
slack: {channel: "#gpu-abuse"}
`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Window.D() != 6*time.Hour || c.Analyzer().ScrapeInterval != 30*time.Second || c.Analyzer().FlatHighUtil.MeanAbove != 90 {
		t.Fatalf("window %v interval %v rule %+v", c.Window, c.ScrapeInterval, c.Rule)
	}
	if !c.Policy().Enforce || c.Policy().StrikesToEnforce != 2 || len(c.Policy().Exemptions) != 1 {
		t.Fatalf("policy %+v", c.Policy())
	}
	if q := c.PromQuery(); q.Chunk != 10*time.Minute || q.Metric != "DCGM_FI_DEV_GPU_UTIL" || q.Selector != `{cluster="prod"}` {
		t.Fatalf("query %+v", q)
	}
	if c.Connection().Headers["X-Scope-OrgID"] != "gpu-team" {
		t.Fatalf("headers %v", c.Connection().Headers)
	}
}

// A bad config stops start-up with the field and the reason.
func TestBadConfigNamesFieldAndReason(t *testing.T) {
	cases := map[string]string{
		"window: 3s":                     "window: must be between 5m and 7d, got 3s",
		"window: 7m\nquery: {chunk: 5m}": "window: window 7m0s is not a multiple of the chunk 5m0s",
		"window: banana":                 `window: not a duration: "banana"`,
		"query: {chunk: soon}":           `query.chunk: not a duration`,
		"schedule: every day":            "schedule:",
		"minCoverage: 2":                 "minCoverage: must be in (0, 1]",
		"rule: {meanAbove: 120}":         "rule.meanAbove",
		"actions: {strikesToEnforce: 0}": "strikesToEnforce: must be >= 1",
		"query: {rangeSemantics: open}":  "rangeSemantics",
		"query: {segments: -1}":          "segments: must not be negative, got -1",
		"windw: 1h":                      `unknown field "windw"`,
		"minCoverage: lots":              "minCoverage: expected float64",
		"leaderElection: {enabled: true, leaseDuration: 5s}": "leaderElection.leaseDuration: must be longer than renewDeadline",
		"leaderElection: {enabled: true, retryPeriod: 0s}":   "leaderElection.retryPeriod: must be positive",
		"leaderElection: {enabled: true, leaseName: \"\"}":   "leaderElection.leaseName: must be set",
		"cycleTimeout: 5m":                          `cycleTimeout: must be shorter than the schedule's interval (5m0s for "*/5 * * * *"), got 5m0s`,
		"cycleTimeout: -1s":                         "cycleTimeout: must be positive",
		"schedule: \"@every 1m\"\ncycleTimeout: 4m": "cycleTimeout: must be shorter than the schedule's interval (1m0s",
		"cycleTimeout: soon":                        `cycleTimeout: not a duration`,
		"slack: {timeout: 0s}":                      "slack.timeout: must be positive",
		"kubernetes: {timeout: 0s}":                 "kubernetes.timeout: must be positive",
		"kubernetes: {timeot: 1s}":                  `unknown field "timeot"`,
		// The rules beyond utilization: ratios while active are in [0, 1].
		"rules: {trainingVeto: {memoryAbove: 1}}":                "rules.trainingVeto.memoryAbove: must be in [0, 1), got 1",
		"rules: {trainingVeto: {memoryAbove: -0.1}}":             "rules.trainingVeto.memoryAbove: must be in [0, 1), got -0.1",
		"rules: {computeSignature: {minActive: 1.5}}":            "rules.computeSignature.minActive: must be in [0, 1), got 1.5",
		"rules: {pipeSaturation: {minActive: 0}}":                "rules.pipeSaturation.minActive: must be in (0, 1), got 0",
		"rules: {pipeSaturation: {integerAbove: 1}}":             "rules.pipeSaturation.integerAbove: must be in (0, 1), got 1",
		"rules: {pipeSaturation: {integerOverFloat: 0.5}}":       "rules.pipeSaturation.integerOverFloat: must be at least 1, got 0.5",
		"rules: {pipeSaturation: {immaAbove: 2}}":                "rules.pipeSaturation.immaAbove: must be in (0, 1), got 2",
		"rules: {pipeSaturation: {floatBelow: -0.05}}":           "rules.pipeSaturation.floatBelow: must be in (0, 1), got -0.05",
		"rules: {pipeSaturation: {memoryAbove: 1.2}}":            "rules.pipeSaturation.memoryAbove: must be in (0, 1), got 1.2",
		"rules: {pipeSaturation: {idleBelow: 0}}":                "rules.pipeSaturation.idleBelow: must be in (0, 1), got 0",
		"rules: {pipeSaturation: {integerAbove: high}}":          "rules.pipeSaturation.integerAbove: expected float64",
		"rules: {pipeSaturation: {enabled: true, integerAb: 1}}": `unknown field "integerAb"`,
	}
	for body, want := range cases {
		c := Default()
		c.Prometheus.URL = "http://p:9090"
		err := Parse([]byte(body), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", body, err, want)
		}
	}
}

// The file's defaults are the analyzer's, every threshold: a field the file
// does not map would silently run at its zero value in production while
// the tests that start from analyzer.DefaultConfig() run the default.
func TestDefaultAnalyzerIsTheAnalyzerDefault(t *testing.T) {
	if got, want := Default().Analyzer(), analyzer.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("Default().Analyzer() differs from analyzer.DefaultConfig():\n got %+v\nwant %+v", got, want)
	}
}

// Every threshold of the rules beyond utilization reaches the analyzer.
func TestRulesReachTheAnalyzer(t *testing.T) {
	c := Default()
	c.Prometheus.URL = "http://p:9090"
	body := `
rules:
  trainingVeto: {enabled: true, pipeActiveAbove: 0.15, memoryAbove: 0.2}
  computeSignature: {minActive: 0.4}
  pipeSaturation: {enabled: true, minActive: 0.3, integerAbove: 0.7, integerOverFloat: 4,
                   immaAbove: 0.6, floatBelow: 0.04, memoryAbove: 0.85, idleBelow: 0.03}
`
	if err := Parse([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a := c.Analyzer()
	if a.TrainingVeto.PipeActiveAbove != 0.15 || a.TrainingVeto.MemoryAbove != 0.2 || a.TrainingVeto.Disabled {
		t.Errorf("training veto %+v", a.TrainingVeto)
	}
	if a.ComputeSignature.MinActive != 0.4 || a.ComputeSignature.BusyAbove != 0.5 {
		t.Errorf("compute signature %+v", a.ComputeSignature)
	}
	want := analyzer.PipeSaturation{MinActive: 0.3, IntegerAbove: 0.7, IntegerOverFloat: 4, IMMAAbove: 0.6, FloatBelow: 0.04, MemoryAbove: 0.85, IdleBelow: 0.03}
	if a.PipeSaturation != want {
		t.Errorf("pipe saturation %+v, want %+v", a.PipeSaturation, want)
	}

	// Off, the rule's thresholds are not checked (as the veto's are not).
	c = Default()
	c.Prometheus.URL = "http://p:9090"
	if err := Parse([]byte("rules: {pipeSaturation: {enabled: false, minActive: 0}}"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("disabled pipeSaturation: %v", err)
	}
	if !c.Analyzer().PipeSaturation.Disabled {
		t.Error("pipeSaturation.enabled: false did not disable the rule")
	}
}

// The cycle deadline defaults to 4/5 of the schedule's shortest interval.
func TestCycleDeadline(t *testing.T) {
	cases := []struct {
		schedule string
		timeout  time.Duration
		want     time.Duration
	}{
		{"*/5 * * * *", 0, 4 * time.Minute},
		{"@every 1m", 0, 48 * time.Second},
		{"0 9,10 * * *", 0, 48 * time.Minute}, // shortest gap 1h
		{"*/5 * * * *", 90 * time.Second, 90 * time.Second},
	}
	for _, c := range cases {
		cfg := Default()
		cfg.Schedule, cfg.CycleTimeout = c.schedule, Duration(c.timeout)
		if got, err := cfg.CycleDeadline(); err != nil || got != c.want {
			t.Errorf("schedule %q cycleTimeout %v: got %v, %v; want %v", c.schedule, c.timeout, got, err, c.want)
		}
	}
}

func TestSecretsFromFileOrEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("xoxb-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-env", "POD_NAMESPACE": "miner-detector", "POD_NAME": "miner-detector-7d9-abc"}
	c := Default()
	if err := c.ResolveSecrets(func(k string) string { return env[k] }); err != nil || c.Slack.Token != "xoxb-env" || c.State.Namespace != "miner-detector" {
		t.Fatalf("env: %v %q %q", err, c.Slack.Token, c.State.Namespace)
	}
	if le := c.LeaderElection; le.Namespace != "miner-detector" || le.Identity != "miner-detector-7d9-abc" {
		t.Fatalf("leader election from the downward API: namespace %q identity %q", le.Namespace, le.Identity)
	}
	c = Default()
	c.Slack.TokenFile = file
	if err := c.ResolveSecrets(func(k string) string { return env[k] }); err != nil || c.Slack.Token != "xoxb-file" {
		t.Fatalf("file: %v %q", err, c.Slack.Token)
	}
	c.Slack.TokenFile = file + ".missing"
	if err := c.ResolveSecrets(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "slack.tokenFile") {
		t.Fatalf("missing token file: %v", err)
	}
}

func TestAlertmanagerSilencesConfig(t *testing.T) {
	c := Default()
	c.Prometheus.URL = "http://p:9090"
	body := "actions:\n  alertmanagerSilences: {url: \"http://am:9093\", suppressEnforcement: true, timeout: 5s}\n"
	if err := Parse([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	am := c.Actions.AlertmanagerSilences
	if am.URL != "http://am:9093" || !am.SuppressEnforcement || am.Timeout.D() != 5*time.Second {
		t.Fatalf("parsed %+v", am)
	}
	if Default().Actions.AlertmanagerSilences.SuppressEnforcement {
		t.Fatal("silences suppress enforcement by default")
	}
}

func TestAlertmanagerSilencesNeedURL(t *testing.T) {
	for _, body := range []string{
		"actions: {alertmanagerSilences: {suppressEnforcement: true}}",
		"actions: {alertmanagerSilences: {suppressEnforcement: true, url: \"am:9093\"}}",
	} {
		c := Default()
		c.Prometheus.URL = "http://p:9090"
		err := Parse([]byte(body), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "actions.alertmanagerSilences.url") {
			t.Errorf("%q: got %v, want an error naming actions.alertmanagerSilences.url", body, err)
		}
	}
}

func TestSlackWebhookAndGrafanaURL(t *testing.T) {
	file := filepath.Join(t.TempDir(), "webhook")
	if err := os.WriteFile(file, []byte("https://hooks.slack.example/T/B/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Prometheus.URL = "http://p:9090"
	c.Slack.WebhookURLFile = file
	c.Slack.GrafanaURL = "https://grafana.example.com"
	if err := c.ResolveSecrets(func(string) string { return "" }); err != nil || c.Slack.WebhookURL != "https://hooks.slack.example/T/B/x" {
		t.Fatalf("webhook from file: %v %q", err, c.Slack.WebhookURL)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("webhook config invalid: %v", err)
	}
	c.Slack.Token = "xoxb-x"
	c.Slack.Channel = "#c"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("token and webhook together: %v", err)
	}
	c = Default()
	c.Prometheus.URL = "http://p:9090"
	c.Slack.GrafanaURL = "grafana.local"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "slack.grafanaURL") {
		t.Fatalf("bad grafanaURL: %v", err)
	}
	env := map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.example/env"}
	c = Default()
	if err := c.ResolveSecrets(func(k string) string { return env[k] }); err != nil || c.Slack.WebhookURL != env["SLACK_WEBHOOK_URL"] {
		t.Fatalf("webhook from env: %v %q", err, c.Slack.WebhookURL)
	}
}
