package actions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/miner-detector/miner-detector/analyzer"
)

// Notifier tells people about a finding. It returns the thread the message
// lives in, so later messages about the same finding can reply there.
type Notifier interface {
	Notify(ctx context.Context, f Finding) (threadTS string, err error)
}

// SlackNotifier posts findings to one Slack channel: a new thread per
// finding, and replies (a deletion) in the finding's thread.
type SlackNotifier struct {
	client  *slack.Client
	channel string
	// maxRetries is how many times a rate-limited post is retried;
	// maxRetryWait bounds the wait Slack asks for.
	maxRetries   int
	maxRetryWait time.Duration
	// serverRetryBase is the first wait after a 5xx answer; it doubles each
	// retry (1s, 2s, 4s). wait sleeps or gives up when ctx ends (tests
	// replace it).
	serverRetryBase time.Duration
	wait            func(ctx context.Context, d time.Duration) error
	// GrafanaURL, when set, adds a link to the pod's evidence dashboard.
	GrafanaURL string
}

// DefaultHTTPTimeout bounds one outbound HTTP call (Slack, webhook,
// Alertmanager) when no other timeout is configured: a server that accepts
// the connection and never answers fails that call, not the whole cycle.
const DefaultHTTPTimeout = 15 * time.Second

// NewSlackNotifier posts with a bot token to channel (an ID or #name). Options
// go to slack.New: slack.OptionAPIURL points it at a test server,
// slack.OptionHTTPClient replaces the default client (DefaultHTTPTimeout per
// call; never one without a timeout).
func NewSlackNotifier(token, channel string, opts ...slack.Option) (*SlackNotifier, error) {
	switch {
	case token == "":
		return nil, errors.New("slack: token must not be empty")
	case channel == "":
		return nil, errors.New("slack: channel must not be empty")
	}
	return &SlackNotifier{
		client:          slack.New(token, append([]slack.Option{slack.OptionHTTPClient(&http.Client{Timeout: DefaultHTTPTimeout})}, opts...)...),
		channel:         channel,
		maxRetries:      3,
		maxRetryWait:    30 * time.Second,
		serverRetryBase: time.Second,
		wait:            sleepCtx,
	}, nil
}

// Notify posts the finding; when f.ThreadTS is set it replies in that thread
// and returns it. A rate-limited post is retried after the wait Slack asks
// for (30 s at most), a 5xx after 1s, 2s, 4s; three retries in all.
func (s *SlackNotifier) Notify(ctx context.Context, f Finding) (string, error) {
	opts := []slack.MsgOption{
		slack.MsgOptionText(slackText(f), true),
		slack.MsgOptionBlocks(slackBlocks(f, s.GrafanaURL)...),
		slack.MsgOptionDisableLinkUnfurl(),
	}
	if f.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(f.ThreadTS))
	}
	for attempt := 0; ; attempt++ {
		_, ts, err := s.client.PostMessageContext(ctx, s.channel, opts...)
		if err == nil {
			return cmp.Or(f.ThreadTS, ts), nil
		}
		wait, retry := s.retryAfter(err, attempt)
		if !retry {
			return "", fmt.Errorf("slack: post %s finding for pod %s to %s: %w", f.Kind, f.Pod, s.channel, err)
		}
		if werr := s.wait(ctx, wait); werr != nil {
			return "", fmt.Errorf("slack: post %s finding for pod %s to %s: %w (while retrying: %w)", f.Kind, f.Pod, s.channel, werr, err)
		}
	}
}

// retryAfter says whether a failed post is retried and after how long: a 429
// after the wait Slack asks for (at most maxRetryWait), a 5xx after an
// exponential backoff; at most maxRetries retries. A 5xx means Slack did not
// accept the message, so retrying it does not post twice; any other error
// (ok:false answers, timeouts) is not retried here but next cycle.
func (s *SlackNotifier) retryAfter(err error, attempt int) (time.Duration, bool) {
	if attempt >= s.maxRetries {
		return 0, false
	}
	var limited *slack.RateLimitedError
	if errors.As(err, &limited) {
		return limited.RetryAfter, limited.RetryAfter <= s.maxRetryWait
	}
	var status slack.StatusCodeError
	if errors.As(err, &status) && status.Code >= 500 {
		return s.serverRetryBase << attempt, true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// slackText is the finding as plain text; Notify escapes it for Slack.
func slackText(f Finding) string {
	var b strings.Builder
	r := f.Report
	if f.Kind == FindingDeleted {
		fmt.Fprintf(&b, "Deleted pod %s on node %s (%s).\n", f.Pod, f.Node, f.Action)
		return b.String()
	}
	if f.Kind == FindingResolved {
		fmt.Fprintf(&b, "Pod %s is no longer judged a miner (%s).\n", f.Pod, f.Action)
		return b.String()
	}
	if f.Kind == FindingEscalated || f.Kind == FindingOwnerStopped {
		return ownerText(f) + "\n"
	}
	fmt.Fprintf(&b, "GPU miner suspected: pod %s in namespace %s on node %s\n", f.Pod.Pod, f.Pod.Namespace, f.Node)
	if f.Owner != nil {
		fmt.Fprintf(&b, "Owner: %s\n", f.Owner)
	}
	fmt.Fprintf(&b, "Verdict: %s, strike %d (%s)\n", r.Verdict, f.Strikes, r.Evidence.Reason)
	fmt.Fprintf(&b, "Rule: %s\n", ruleSummary(r))
	window := "Window: " + formatDuration(f.Window())
	if end := evidenceEnd(r); !end.IsZero() {
		window += ", latest data " + end.UTC().Format(time.RFC3339)
	}
	b.WriteString(window + "\n")
	b.WriteString("GPUs:\n")
	for _, g := range r.GPUs {
		fmt.Fprintf(&b, "- GPU %s (%s%s): %s, mean %.1f%% stddev %.2f min %.1f max %.1f, coverage %.0f%% (%d/%d samples)%s\n",
			g.Index, g.UUID, modelText(g), g.Verdict, g.Mean, g.StdDev(), g.Min, g.Max,
			100*g.Coverage, g.Count, g.ExpectedSamples, sharedText(g))
	}
	fmt.Fprintf(&b, "Action planned: %s\n", f.Action)
	return b.String()
}

// ownerText is an escalation or an owner's stop in one line.
func ownerText(f Finding) string {
	owner := "its owner"
	if f.Owner != nil {
		owner = f.Owner.String()
	}
	if f.Kind == FindingOwnerStopped {
		return fmt.Sprintf("Stopped %s in %s: %s.", owner, f.Pod.Namespace, f.Action)
	}
	return fmt.Sprintf("Repeat offender: %s in %s keeps recreating miner pods (latest %s). %s. Pods are no longer deleted; stop the owner (see the runbook).",
		owner, f.Pod.Namespace, f.Pod.Pod, f.Action)
}

func ruleSummary(r analyzer.PodReport) string {
	t := r.Evidence.Thresholds
	if r.Evidence.Rule == (analyzer.FlatHighUtil{}).Name() {
		return fmt.Sprintf("%s (mean > %g and stddev < %g, coverage >= %.0f%%)", r.Evidence.Rule, t.MeanAbove, t.StdDevBelow, 100*t.MinCoverage)
	}
	return r.Evidence.Rule
}

func modelText(g analyzer.GPUReport) string {
	if g.Model == "" {
		return ""
	}
	return ", " + g.Model
}
