// Package config is Miner Detector's one configuration loader: the YAML file
// schema, its defaults, validation that names the field and the reason, and
// secrets from the environment or files. It maps the file onto the configs of
// promquery, analyzer and actions; it must not know how they work.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/promquery"
	"github.com/robfig/cron/v3"
	"sigs.k8s.io/yaml"
)

// Window bounds: long enough to separate training from mining, at most a week.
const (
	MinWindow = 5 * time.Minute
	MaxWindow = 7 * 24 * time.Hour
)

// Config is the whole configuration, as the YAML file spells it.
type Config struct {
	Prometheus Prometheus `json:"prometheus"`
	Query      Query      `json:"query"`
	// Window is how much history each cycle judges.
	Window Duration `json:"window"`
	// Schedule is the cron schedule of `run` (robfig/cron, 5 fields or a
	// descriptor such as @every 5m).
	Schedule string `json:"schedule"`
	// CycleTimeout is the deadline of one whole cycle (read, judge, act,
	// save): a hung dependency ends the cycle, not the schedule. 0 means
	// 4/5 of the schedule's shortest interval (4m for every 5 minutes); set,
	// it must be shorter than that interval.
	CycleTimeout Duration `json:"cycleTimeout"`
	// CycleBudget is the share of the schedule's interval a cycle is meant
	// to take; a longer one is counted (miner_detector_cycles_over_budget_total)
	// and logged, long before it would hit cycleTimeout. 0 means 0.5.
	CycleBudget float64 `json:"cycleBudget"`
	Rule        Rule    `json:"rule"`
	Rules       Rules   `json:"rules"`
	// MinCoverage is the share of expected samples a GPU needs to be judged.
	MinCoverage float64 `json:"minCoverage"`
	// MinSpanStrong is how much of its own life a young pod must have shown
	// to be judged over it, on strong evidence only; 0 turns it off.
	MinSpanStrong Duration `json:"minSpanStrong"`
	// ScrapeInterval is the dcgm-exporter scrape interval; 0 detects it.
	ScrapeInterval Duration   `json:"scrapeInterval"`
	Actions        Actions    `json:"actions"`
	Slack          Slack      `json:"slack"`
	Kubernetes     Kubernetes `json:"kubernetes"`
	State          State      `json:"state"`
	// LeaderElection lets several replicas run with one acting at a time.
	LeaderElection LeaderElection `json:"leaderElection"`
	// Listen is the address of /metrics, /healthz and /readyz.
	Listen string `json:"listen"`
}

// Prometheus is how to reach the server.
type Prometheus struct {
	URL                string            `json:"url"`
	BearerTokenFile    string            `json:"bearerTokenFile"`
	Username           string            `json:"username"`
	PasswordFile       string            `json:"passwordFile"`
	CAFile             string            `json:"caFile"`
	CertFile           string            `json:"certFile"`
	KeyFile            string            `json:"keyFile"`
	InsecureSkipVerify bool              `json:"insecureSkipVerify"`
	Headers            map[string]string `json:"headers"`
	Timeout            Duration          `json:"timeout"`
}

// Query is what to read.
type Query struct {
	Metric         string                 `json:"metric"`
	WorkloadLabels promquery.LabelMapping `json:"workloadLabels"`
	NodeLabel      string                 `json:"nodeLabel"`
	GPULabel       string                 `json:"gpuLabel"`
	UUIDLabel      string                 `json:"uuidLabel"`
	ModelLabel     string                 `json:"modelLabel"`
	ExporterPods   string                 `json:"exporterPods"`
	// ExporterNamespaces are where dcgm-exporter runs: only there does a
	// pod named like it count as the exporter.
	ExporterNamespaces []string `json:"exporterNamespaces"`
	Selector           string   `json:"selector"`
	Namespaces         []string `json:"namespaces"`
	ExcludeNamespaces  []string `json:"excludeNamespaces"`
	MaxSamples         int64    `json:"maxSamples"`
	Chunk              Duration `json:"chunk"`
	RangeSemantics     string   `json:"rangeSemantics"`
	SampleLimit        string   `json:"sampleLimit"`
	// Concurrency is how many queries a cycle keeps in flight (the server
	// evaluates each on one core).
	Concurrency int `json:"concurrency"`
	// Segments is how many parts of the window the profiling metrics are
	// read and judged in (see promquery.Config.Segments); 1: the window only.
	Segments int `json:"segments"`
	// ReadProfiling reads dcgm-exporter's profiling metrics (tensor and FP
	// pipes, SM and DRAM activity, PCIe/NVLink, power) for the rules beyond
	// utilization. Without them those rules step aside, and say so.
	ReadProfiling bool `json:"readProfiling"`
	// ProfilingMetrics overrides a signal's metric name, e.g.
	// {sm_active: MY_SM_ACTIVE}.
	ProfilingMetrics map[string]string `json:"profilingMetrics"`
	// TrustedTargets are the scrape targets believed to be dcgm-exporter;
	// DCGM series from any other are forged telemetry (a finding, never
	// evidence). See promquery.TrustedTargets.
	TrustedTargets promquery.TrustedTargets `json:"trustedTargets"`
}

// Rule holds the flat-high-utilization thresholds (strict comparisons).
type Rule struct {
	MeanAbove   float64 `json:"meanAbove"`
	StdDevBelow float64 `json:"stddevBelow"`
}

// Rules are the rules beyond utilization (they need profiling metrics).
type Rules struct {
	TrainingVeto     TrainingVeto     `json:"trainingVeto"`
	ComputeSignature ComputeSignature `json:"computeSignature"`
	PipeSaturation   PipeSaturation   `json:"pipeSaturation"`
	BusyWithoutPod   BusyWithoutPod   `json:"busyWithoutPod"`
}

// TrainingVeto spares flat-high-utilization GPUs whose mix looks like ML or
// HPC work. Intensities are ratios while a kernel ran (0..1), strict.
type TrainingVeto struct {
	Enabled bool `json:"enabled"`
	// PipeActiveAbove: the busiest float pipe must be above it.
	PipeActiveAbove float64 `json:"pipeActiveAbove"`
	// MemoryAbove: a busy tensor pipe also needs device memory above it
	// (a token tensor kernel is cheap; tensor work streams from HBM).
	MemoryAbove float64 `json:"memoryAbove"`
}

// ComputeSignature catches throttled miners (all thresholds must hold).
type ComputeSignature struct {
	BusyAbove         float64 `json:"busyAbove"`
	BusyStdDevBelow   float64 `json:"busyStddevBelow"`
	PipeActiveBelow   float64 `json:"pipeActiveBelow"`
	InterconnectBelow float64 `json:"interconnectBelowBytesPerSecond"`
	MinCoverage       float64 `json:"minCoverage"`
	// MinActive: the share of the window a kernel must have run (0..1).
	MinActive float64 `json:"minActive"`
}

// PipeSaturation catches a GPU saturated on what proof of work scales with
// (the integer pipe, int8 tensor cores, device memory), whatever its
// utilization curve. Intensities are ratios while a kernel ran (0..1).
type PipeSaturation struct {
	Enabled bool `json:"enabled"`
	// MinActive: the share of the window a kernel must have run (0..1).
	MinActive float64 `json:"minActive"`
	// IntegerAbove and IntegerOverFloat: integer_hash fires when the
	// integer pipe is above IntegerAbove and more than IntegerOverFloat
	// times the busiest FP16/FP32/FP64 pipe.
	IntegerAbove     float64 `json:"integerAbove"`
	IntegerOverFloat float64 `json:"integerOverFloat"`
	// IMMAAbove and FloatBelow: int8_gemm fires when the int8 tensor pipe
	// is above IMMAAbove with HMMA, FP16 and FP32 below FloatBelow.
	IMMAAbove  float64 `json:"immaAbove"`
	FloatBelow float64 `json:"floatBelow"`
	// MemoryAbove and IdleBelow: memory_dag fires when device memory is
	// above MemoryAbove with the float pipes below IdleBelow.
	MemoryAbove float64 `json:"memoryAbove"`
	IdleBelow   float64 `json:"idleBelow"`
}

// BusyWithoutPod reports busy GPUs no pod holds (node findings).
type BusyWithoutPod struct {
	MeanAbove float64 `json:"meanAbove"`
}

// Actions is the enforcement policy.
type Actions struct {
	Enforce              bool                `json:"enforce"`
	StrikesToEnforce     int                 `json:"strikesToEnforce"`
	MaxDeletionsPerCycle int                 `json:"maxDeletionsPerCycle"`
	ProtectedNamespaces  []string            `json:"protectedNamespaces"`
	Exemptions           []actions.Exemption `json:"exemptions"`
	// DeleteWithoutProfiling allows deletion on utilization-only evidence
	// (GPUs without dcgm profiling metrics). Off: such findings are
	// recorded and notified, not deleted, since flat training looks alike.
	DeleteWithoutProfiling bool `json:"deleteWithoutProfiling"`
	// DeleteOnPartialEvidence allows deletion when only some math pipes were
	// exported (the GPU Operator's default counters).
	DeleteOnPartialEvidence bool `json:"deleteOnPartialEvidence"`
	// DeleteForgersOnWeakEvidence lets a pod that served forged GPU
	// telemetry be deleted on partial or utilization-only miner evidence of
	// its own GPUs. Off: forging is reported, never acted on by itself.
	DeleteForgersOnWeakEvidence bool `json:"deleteForgersOnWeakEvidence"`
	// AlertmanagerSilences lets operators' Alertmanager silences on
	// GPUMinerDetected also suppress deletion of the silenced pods.
	AlertmanagerSilences AlertmanagerSilences `json:"alertmanagerSilences"`
	// Owners: repeat offenders, judged and acted on by their controller.
	Owners Owners `json:"owners"`
}

// Owners is how the detector follows a miner across pod restarts: its top
// controller (the owner) keeps the evidence, so a replacement pod is judged
// on the owner's window and deleted once its own samples span MinOwnSpan;
// after EscalateAfter deletions within EscalationPeriod deleting is futile
// and the owner is escalated (an alert, an Event on the owner, Slack) and,
// with StopOwners, scaled to zero or suspended.
type Owners struct {
	// MinOwnSpan is how long a replacement pod's own samples must span
	// before it is judged on its owner's evidence; 0 turns owner evidence off.
	MinOwnSpan Duration `json:"minOwnSpan"`
	// EscalateAfter is the number of deletions of one owner, within
	// EscalationPeriod, after which it is escalated instead of deleted again.
	EscalateAfter int `json:"escalateAfter"`
	// EscalationPeriod is how far back deletions count, and how long an
	// owner's record lasts without a miner verdict.
	EscalationPeriod Duration `json:"escalationPeriod"`
	// StopOwners scales an escalated Deployment/StatefulSet/ReplicaSet to
	// zero or suspends a Job/CronJob (enforce mode only). Off by default;
	// the chart grants the extra RBAC only when it is on.
	StopOwners bool `json:"stopOwners"`
	// MaxResolvesPerCycle bounds the pod reads that resolve owners in one
	// cycle.
	MaxResolvesPerCycle int `json:"maxResolvesPerCycle"`
}

// AlertmanagerSilences: with SuppressEnforcement on, active silences are
// read from URL once per cycle; if Alertmanager cannot be read, the cycle
// deletes nothing.
type AlertmanagerSilences struct {
	URL                 string   `json:"url"`
	SuppressEnforcement bool     `json:"suppressEnforcement"`
	Timeout             Duration `json:"timeout"`
}

// Slack is where findings are posted: with a bot token (TokenFile or the
// SLACK_BOT_TOKEN environment variable; threads per pod) or an incoming
// webhook (WebhookURLFile or SLACK_WEBHOOK_URL; no threads), never with a
// secret in the config file itself.
type Slack struct {
	Channel        string `json:"channel"`
	TokenFile      string `json:"tokenFile"`
	WebhookURLFile string `json:"webhookURLFile"`
	// GrafanaURL, when set, links each message to the pod's evidence
	// dashboard (e.g. https://grafana.example.com).
	GrafanaURL string `json:"grafanaURL"`
	// APIURL overrides Slack's API address (proxies, tests).
	APIURL string `json:"apiURL"`
	// Timeout bounds one call to Slack's API or webhook.
	Timeout Duration `json:"timeout"`
	// Token and WebhookURL are resolved at load time; they are not file fields.
	Token      string `json:"-"`
	WebhookURL string `json:"-"`
}

// Kubernetes is how the API server is called.
type Kubernetes struct {
	// Timeout bounds one API request (Events, deletions, state, Lease).
	Timeout Duration `json:"timeout"`
}

// State is where restart-safe state (strikes, notifications) is kept: a
// ConfigMap in Namespace (default: the pod's own, from POD_NAMESPACE).
type State struct {
	ConfigMap string `json:"configMap"`
	Namespace string `json:"namespace"`
}

// LeaderElection: with Enabled, only the replica holding the Lease
// LeaseName in Namespace (default: the pod's own, from POD_NAMESPACE) runs
// cycles. Identity is POD_NAME, else the host name.
type LeaderElection struct {
	Enabled       bool     `json:"enabled"`
	LeaseName     string   `json:"leaseName"`
	Namespace     string   `json:"namespace"`
	LeaseDuration Duration `json:"leaseDuration"`
	RenewDeadline Duration `json:"renewDeadline"`
	RetryPeriod   Duration `json:"retryPeriod"`
	// Identity is resolved at load time from POD_NAME or the host name.
	Identity string `json:"-"`
}

// Default is the documented default configuration.
func Default() Config {
	q := promquery.DefaultConfig()
	a := analyzer.DefaultConfig()
	p := actions.DefaultPolicy()
	return Config{
		Prometheus: Prometheus{Timeout: Duration(2 * time.Minute)},
		Query: Query{
			Metric: q.Metric, NodeLabel: q.NodeLabel, GPULabel: q.GPULabel, UUIDLabel: q.UUIDLabel,
			ModelLabel: q.ModelLabel, ExporterPods: q.ExporterPods, ExporterNamespaces: q.ExporterNamespaces, MaxSamples: q.MaxSamples,
			RangeSemantics: string(q.RangeSemantics), SampleLimit: string(q.SampleLimit), ReadProfiling: true,
			Concurrency: q.Concurrency, Segments: q.Segments,
			TrustedTargets: q.TrustedTargets,
		},
		Window:   Duration(time.Hour),
		Schedule: "*/5 * * * *",
		Rule:     Rule{MeanAbove: a.FlatHighUtil.MeanAbove, StdDevBelow: a.FlatHighUtil.StdDevBelow},
		Rules: Rules{
			TrainingVeto: TrainingVeto{Enabled: !a.TrainingVeto.Disabled, PipeActiveAbove: a.TrainingVeto.PipeActiveAbove,
				MemoryAbove: a.TrainingVeto.MemoryAbove},
			ComputeSignature: ComputeSignature{
				BusyAbove: a.ComputeSignature.BusyAbove, BusyStdDevBelow: a.ComputeSignature.BusyStdDevBelow,
				PipeActiveBelow: a.ComputeSignature.PipeActiveBelow, InterconnectBelow: a.ComputeSignature.InterconnectBelow,
				MinCoverage: a.ComputeSignature.MinCoverage, MinActive: a.ComputeSignature.MinActive,
			},
			PipeSaturation: pipeSaturationOf(a.PipeSaturation),
			BusyWithoutPod: BusyWithoutPod{MeanAbove: a.BusyWithoutPod.MeanAbove},
		},
		MinCoverage:   a.MinCoverage,
		MinSpanStrong: Duration(a.MinSpanStrong),
		Actions: Actions{
			StrikesToEnforce: p.StrikesToEnforce, MaxDeletionsPerCycle: p.MaxDeletionsPerCycle,
			ProtectedNamespaces:  p.ProtectedNamespaces,
			AlertmanagerSilences: AlertmanagerSilences{Timeout: Duration(10 * time.Second)},
			Owners: Owners{
				MinOwnSpan: Duration(3 * time.Minute), EscalateAfter: 3,
				EscalationPeriod: Duration(24 * time.Hour), MaxResolvesPerCycle: 100,
			},
		},
		Slack:      Slack{Timeout: Duration(actions.DefaultHTTPTimeout)},
		Kubernetes: Kubernetes{Timeout: Duration(30 * time.Second)},
		State:      State{ConfigMap: "miner-detector-state"},
		LeaderElection: LeaderElection{
			LeaseName:     "miner-detector",
			LeaseDuration: Duration(15 * time.Second),
			RenewDeadline: Duration(10 * time.Second),
			RetryPeriod:   Duration(2 * time.Second),
		},
		Listen:      ":8080",
		CycleBudget: 0.5,
	}
}

// Load reads a YAML file over the defaults (unknown fields are errors), then
// resolves secrets from the environment. An empty path means defaults only.
func Load(path string) (Config, error) {
	c := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("read config: %w", err)
		}
		if err := Parse(raw, &c); err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	return c, nil
}

// Parse decodes YAML onto c, rejecting unknown fields.
func Parse(raw []byte, c *Config) error {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fieldError(err, js)
	}
	return nil
}

// ResolveSecrets fills the Slack token and webhook URL from their files or
// SLACK_BOT_TOKEN / SLACK_WEBHOOK_URL.
func (c *Config) ResolveSecrets(getenv func(string) string) error {
	switch {
	case c.Slack.TokenFile != "":
		b, err := os.ReadFile(c.Slack.TokenFile)
		if err != nil {
			return fmt.Errorf("slack.tokenFile: %w", err)
		}
		c.Slack.Token = strings.TrimSpace(string(b))
	case getenv("SLACK_BOT_TOKEN") != "":
		c.Slack.Token = getenv("SLACK_BOT_TOKEN")
	}
	switch {
	case c.Slack.WebhookURLFile != "":
		b, err := os.ReadFile(c.Slack.WebhookURLFile)
		if err != nil {
			return fmt.Errorf("slack.webhookURLFile: %w", err)
		}
		c.Slack.WebhookURL = strings.TrimSpace(string(b))
	case getenv("SLACK_WEBHOOK_URL") != "":
		c.Slack.WebhookURL = getenv("SLACK_WEBHOOK_URL")
	}
	if c.State.Namespace == "" {
		c.State.Namespace = getenv("POD_NAMESPACE")
	}
	if c.LeaderElection.Namespace == "" {
		c.LeaderElection.Namespace = getenv("POD_NAMESPACE")
	}
	if c.LeaderElection.Identity = getenv("POD_NAME"); c.LeaderElection.Identity == "" {
		c.LeaderElection.Identity, _ = os.Hostname()
	}
	return nil
}

// Validate checks every field; each error names its field and the reason.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if w := c.Window.D(); w < MinWindow || w > MaxWindow {
		add(fmt.Errorf("window: must be between 5m and 7d, got %v", w))
	} else if _, err := c.PromQuery().ChunkFor(w); err != nil {
		add(fmt.Errorf("window: %w", err))
	}
	if _, err := c.CycleDeadline(); err != nil {
		add(err)
	}
	if d := c.Slack.Timeout.D(); d <= 0 {
		add(fmt.Errorf("slack.timeout: must be positive, got %v", d))
	}
	if d := c.Kubernetes.Timeout.D(); d <= 0 {
		add(fmt.Errorf("kubernetes.timeout: must be positive, got %v", d))
	}
	add(c.Analyzer().Validate())
	add(c.PromQuery().Validate())
	add(c.Policy().Validate())
	if c.Slack.Token != "" && c.Slack.Channel == "" {
		add(errors.New("slack.channel: must be set when a Slack token is given"))
	}
	if c.Slack.Token != "" && c.Slack.WebhookURL != "" {
		add(errors.New("slack: set a bot token or a webhook URL, not both"))
	}
	if u := c.Slack.GrafanaURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		add(fmt.Errorf("slack.grafanaURL: must be an http(s) URL, got %q", u))
	}
	if c.Listen == "" {
		add(errors.New("listen: must not be empty"))
	}
	add(c.LeaderElection.validate())
	add(c.Actions.Owners.validate())
	if am := c.Actions.AlertmanagerSilences; am.SuppressEnforcement {
		if u, err := url.Parse(am.URL); am.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(fmt.Errorf("actions.alertmanagerSilences.url: must be an http(s) URL when suppressEnforcement is on, got %q", am.URL))
		}
		if am.Timeout.D() < 0 {
			add(fmt.Errorf("actions.alertmanagerSilences.timeout: must not be negative, got %v", am.Timeout.D()))
		}
	}
	return errors.Join(errs...)
}

func (o Owners) validate() error {
	var errs []error
	if d := o.MinOwnSpan.D(); d < 0 {
		errs = append(errs, fmt.Errorf("actions.owners.minOwnSpan: must not be negative (0 turns owner evidence off), got %v", d))
	}
	if o.EscalateAfter < 1 {
		errs = append(errs, fmt.Errorf("actions.owners.escalateAfter: must be >= 1, got %d", o.EscalateAfter))
	}
	if d := o.EscalationPeriod.D(); d < time.Hour {
		errs = append(errs, fmt.Errorf("actions.owners.escalationPeriod: must be at least 1h, got %v", d))
	}
	if o.MaxResolvesPerCycle < 1 {
		errs = append(errs, fmt.Errorf("actions.owners.maxResolvesPerCycle: must be >= 1, got %d", o.MaxResolvesPerCycle))
	}
	return errors.Join(errs...)
}

// CycleDeadline is how long one cycle may run: CycleTimeout, or 4/5 of the
// schedule's shortest interval when it is 0. It must be shorter than that
// interval, so a hung cycle never delays the next tick.
func (c Config) CycleDeadline() (time.Duration, error) {
	sched, err := cron.ParseStandard(c.Schedule)
	if err != nil {
		return 0, fmt.Errorf("schedule: %w", err)
	}
	interval := ShortestInterval(sched, time.Now())
	d := c.CycleTimeout.D()
	switch {
	case d == 0:
		return interval * 4 / 5, nil
	case d < 0:
		return 0, fmt.Errorf("cycleTimeout: must be positive (or 0 for 4/5 of the schedule's interval), got %v", d)
	case d >= interval:
		return 0, fmt.Errorf("cycleTimeout: must be shorter than the schedule's interval (%v for %q), got %v", interval, c.Schedule, d)
	}
	return d, nil
}

// CycleBudgetDuration is how long a cycle is meant to take: cycleBudget (0.5
// when 0) of the schedule's shortest interval.
func (c Config) CycleBudgetDuration() (time.Duration, error) {
	sched, err := cron.ParseStandard(c.Schedule)
	if err != nil {
		return 0, fmt.Errorf("schedule: %w", err)
	}
	share := c.CycleBudget
	switch {
	case share == 0:
		share = 0.5
	case share < 0 || share > 1:
		return 0, fmt.Errorf("cycleBudget: must be in (0, 1] (a share of the schedule's interval), got %v", share)
	}
	return time.Duration(share * float64(ShortestInterval(sched, time.Now()))), nil
}

// ShortestInterval is the shortest time between two of the schedule's next
// 200 ticks after now (a weekday schedule has short and long gaps).
func ShortestInterval(s cron.Schedule, now time.Time) time.Duration {
	var shortest time.Duration
	t := s.Next(now)
	for range 200 {
		next := s.Next(t)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(t); shortest == 0 || gap < shortest {
			shortest = gap
		}
		t = next
	}
	return shortest
}

// Connection is the Prometheus connection.
func (c Config) Connection() promquery.Connection {
	p := c.Prometheus
	return promquery.Connection{
		URL: p.URL, BearerTokenFile: p.BearerTokenFile, Username: p.Username, PasswordFile: p.PasswordFile,
		CAFile: p.CAFile, CertFile: p.CertFile, KeyFile: p.KeyFile, InsecureSkipVerify: p.InsecureSkipVerify,
		Headers: p.Headers, Timeout: p.Timeout.D(),
	}
}

// PromQuery is the query configuration.
func (c Config) PromQuery() promquery.Config {
	q := promquery.DefaultConfig()
	q.Metric, q.Workload = c.Query.Metric, c.Query.WorkloadLabels
	q.NodeLabel, q.GPULabel, q.UUIDLabel, q.ModelLabel = c.Query.NodeLabel, c.Query.GPULabel, c.Query.UUIDLabel, c.Query.ModelLabel
	q.ExporterPods, q.Selector = c.Query.ExporterPods, c.Query.Selector
	q.ExporterNamespaces = c.Query.ExporterNamespaces
	q.Namespaces, q.ExcludeNamespaces = c.Query.Namespaces, c.Query.ExcludeNamespaces
	q.MaxSamples, q.Chunk = c.Query.MaxSamples, c.Query.Chunk.D()
	q.Concurrency, q.Segments = c.Query.Concurrency, c.Query.Segments
	q.TrustedTargets = c.Query.TrustedTargets
	q.RangeSemantics = promquery.Semantics(c.Query.RangeSemantics)
	if c.Query.SampleLimit != "" {
		q.SampleLimit = promquery.SampleLimit(c.Query.SampleLimit)
	}
	if !c.Query.ReadProfiling {
		q.Profiling = nil
	}
	for sig, metric := range c.Query.ProfilingMetrics {
		if q.Profiling == nil {
			q.Profiling = map[analyzer.Signal]string{}
		}
		q.Profiling[analyzer.Signal(sig)] = metric
	}
	return q
}

// Analyzer is the analyzer configuration.
func (c Config) Analyzer() analyzer.Config {
	a := analyzer.DefaultConfig()
	a.FlatHighUtil = analyzer.FlatHighUtil{MeanAbove: c.Rule.MeanAbove, StdDevBelow: c.Rule.StdDevBelow}
	a.MinCoverage = c.MinCoverage
	a.MinSpanStrong = c.MinSpanStrong.D()
	a.MinOwnSpan = c.Actions.Owners.MinOwnSpan.D()
	a.ScrapeInterval = c.ScrapeInterval.D()
	r := c.Rules
	a.TrainingVeto = analyzer.TrainingVeto{Disabled: !r.TrainingVeto.Enabled, PipeActiveAbove: r.TrainingVeto.PipeActiveAbove,
		MemoryAbove: r.TrainingVeto.MemoryAbove}
	a.ComputeSignature = analyzer.ComputeSignature{
		BusyAbove: r.ComputeSignature.BusyAbove, BusyStdDevBelow: r.ComputeSignature.BusyStdDevBelow,
		PipeActiveBelow: r.ComputeSignature.PipeActiveBelow, InterconnectBelow: r.ComputeSignature.InterconnectBelow,
		MinCoverage: r.ComputeSignature.MinCoverage, MinActive: r.ComputeSignature.MinActive,
	}
	p := r.PipeSaturation
	a.PipeSaturation = analyzer.PipeSaturation{Disabled: !p.Enabled, MinActive: p.MinActive,
		IntegerAbove: p.IntegerAbove, IntegerOverFloat: p.IntegerOverFloat,
		IMMAAbove: p.IMMAAbove, FloatBelow: p.FloatBelow, MemoryAbove: p.MemoryAbove, IdleBelow: p.IdleBelow}
	a.BusyWithoutPod = analyzer.BusyWithoutPod{MeanAbove: r.BusyWithoutPod.MeanAbove}
	return a
}

// pipeSaturationOf is the file's form of the analyzer's thresholds.
func pipeSaturationOf(p analyzer.PipeSaturation) PipeSaturation {
	return PipeSaturation{Enabled: !p.Disabled, MinActive: p.MinActive,
		IntegerAbove: p.IntegerAbove, IntegerOverFloat: p.IntegerOverFloat,
		IMMAAbove: p.IMMAAbove, FloatBelow: p.FloatBelow, MemoryAbove: p.MemoryAbove, IdleBelow: p.IdleBelow}
}

// Policy is the actions policy.
func (c Config) Policy() actions.Policy {
	return actions.Policy{
		Enforce:              c.Actions.Enforce,
		StrikesToEnforce:     c.Actions.StrikesToEnforce,
		MaxDeletionsPerCycle: c.Actions.MaxDeletionsPerCycle,
		ProtectedNamespaces:  c.Actions.ProtectedNamespaces,
		Exemptions:           c.Actions.Exemptions,

		DeleteWithoutProfiling:  c.Actions.DeleteWithoutProfiling,
		DeleteOnPartialEvidence: c.Actions.DeleteOnPartialEvidence,

		DeleteForgersOnWeakEvidence: c.Actions.DeleteForgersOnWeakEvidence,

		EscalateAfter:    c.Actions.Owners.EscalateAfter,
		EscalationPeriod: c.Actions.Owners.EscalationPeriod.D(),
		StopOwners:       c.Actions.Owners.StopOwners,
	}
}

// fieldError turns a JSON decoding error into one that names the field.
func fieldError(err error, js []byte) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: expected %s, got %s", te.Field, te.Type, te.Value)
	}
	var de *durationError
	if errors.As(err, &de) {
		var doc any
		if json.Unmarshal(js, &doc) == nil {
			if path := findValue(doc, de.value, ""); path != "" {
				return fmt.Errorf("%s: %w", path, de)
			}
		}
		return de
	}
	return err
}

// findValue returns the dotted path of the first string equal to v.
func findValue(doc any, v, path string) string {
	switch d := doc.(type) {
	case string:
		if d == v {
			return path
		}
	case map[string]any:
		for k, x := range d {
			if p := findValue(x, v, strings.TrimPrefix(path+"."+k, ".")); p != "" {
				return p
			}
		}
	case []any:
		for i, x := range d {
			if p := findValue(x, v, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

func (l LeaderElection) validate() error {
	if !l.Enabled {
		return nil
	}
	lease, renew, retry := l.LeaseDuration.D(), l.RenewDeadline.D(), l.RetryPeriod.D()
	switch {
	case l.LeaseName == "":
		return errors.New("leaderElection.leaseName: must be set when leader election is enabled")
	case retry <= 0:
		return fmt.Errorf("leaderElection.retryPeriod: must be positive, got %v", retry)
	case renew <= retry:
		return fmt.Errorf("leaderElection.renewDeadline: must be longer than retryPeriod (%v), got %v", retry, renew)
	case lease <= renew:
		return fmt.Errorf("leaderElection.leaseDuration: must be longer than renewDeadline (%v), got %v", renew, lease)
	}
	return nil
}
