package cycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/miner-detector/miner-detector/promquery"
	"github.com/slack-go/slack"
	"k8s.io/client-go/kubernetes"
)

// Deps are the clients a cycle uses. API nil: a client for the config's
// Prometheus connection. Kube nil: no cluster access (dry-run only, no Events,
// state in memory). Metrics may be nil.
type Deps struct {
	API     promquery.API
	Kube    kubernetes.Interface
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// ConfigError is a configuration the cycle cannot be built from.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// New wires a cycle from a validated configuration: the one place that
// turns configuration into clients, for run, scan and demo alike.
func New(cfg config.Config, d Deps) (*Cycle, error) {
	api, kube, m, log := d.API, d.Kube, d.Metrics, d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if api == nil {
		var err error
		if api, err = promquery.NewClient(cfg.Connection()); err != nil {
			return nil, &ConfigError{err}
		}
	}
	ac := cfg.Analyzer()
	reader, err := promquery.NewReader(api, cfg.PromQuery(), ac.ValidMin, ac.ValidMax)
	if err != nil {
		return nil, &ConfigError{err}
	}
	policy := cfg.Policy()
	if policy.Enforce && kube == nil {
		return nil, &ConfigError{errors.New("actions.enforce: enforcing needs cluster access (in-cluster config or --kubeconfig), none found")}
	}
	exec := actions.Executor{Log: log}
	var store actions.StateStore = &actions.MemoryStore{}
	var nodes NodeRecorder
	var forgeries UntrustedRecorder
	if kube != nil {
		exec.Events = actions.KubeEvents{Client: kube}
		nodes = actions.KubeEvents{Client: kube}
		forgeries = actions.KubeEvents{Client: kube}
		exec.Deleter = actions.KubeDeleter{Client: kube}
		exec.OwnerEvents = actions.KubeEvents{Client: kube}
		exec.Stopper = actions.KubeOwnerStopper{Client: kube}
		if cfg.State.Namespace != "" && cfg.State.ConfigMap != "" {
			store = actions.ConfigMapStore{Client: kube, Namespace: cfg.State.Namespace, Name: cfg.State.ConfigMap}
		}
	}
	if _, ok := store.(*actions.MemoryStore); ok {
		log.Warn("action state is kept in memory only: strikes and notifications restart from zero after a restart (set state.namespace or POD_NAMESPACE)")
	}
	slackHTTP := &http.Client{Timeout: cfg.Slack.Timeout.D()}
	if slackHTTP.Timeout <= 0 {
		slackHTTP.Timeout = actions.DefaultHTTPTimeout
	}
	if cfg.Slack.Token != "" {
		opts := []slack.Option{slack.OptionHTTPClient(slackHTTP)}
		if cfg.Slack.APIURL != "" {
			opts = append(opts, slack.OptionAPIURL(cfg.Slack.APIURL))
		}
		n, err := actions.NewSlackNotifier(cfg.Slack.Token, cfg.Slack.Channel, opts...)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("slack: %w", err)}
		}
		n.GrafanaURL = cfg.Slack.GrafanaURL
		exec.Notifier = n
	}
	if cfg.Slack.WebhookURL != "" {
		exec.Notifier = &actions.WebhookNotifier{URL: cfg.Slack.WebhookURL, GrafanaURL: cfg.Slack.GrafanaURL, Client: slackHTTP}
	}
	deadline, err := cfg.CycleDeadline()
	if err != nil {
		return nil, &ConfigError{err}
	}
	budget, err := cfg.CycleBudgetDuration()
	if err != nil {
		return nil, &ConfigError{err}
	}
	c := &Cycle{
		Timeout: deadline, Budget: budget,
		Reader: reader, Analyzer: ac, Window: cfg.Window.D(), Policy: policy,
		Executor: exec, State: store, Metrics: m, Log: log, Nodes: nodes, Forgeries: forgeries,
		MaxResolves: cfg.Actions.Owners.MaxResolvesPerCycle,
	}
	if kube != nil {
		c.Owners = actions.KubeOwners{Client: kube}
	}
	if am := cfg.Actions.AlertmanagerSilences; am.SuppressEnforcement {
		client := &http.Client{Timeout: cmp.Or(am.Timeout.D(), 10*time.Second)}
		c.Silences = func(ctx context.Context) *actions.SilenceSet {
			return actions.FetchSilences(ctx, client, am.URL)
		}
	}
	return c, nil
}
