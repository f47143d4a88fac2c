package actions

import (
	"context"
	"errors"
	"fmt"
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
}

// NewSlackNotifier posts with a bot token to channel (an ID or #name). Options
// go to slack.New: slack.OptionAPIURL points it at a test server.
func NewSlackNotifier(token, channel string, opts ...slack.Option) (*SlackNotifier, error) {
	switch {
	case token == "":
		return nil, errors.New("slack: token must not be empty")
	case channel == "":
		return nil, errors.New("slack: channel must not be empty")
	}
	return &SlackNotifier{
		client:       slack.New(token, opts...),
		channel:      channel,
		maxRetries:   3,
		maxRetryWait: 30 * time.Second,
	}, nil
}

// Notify posts the finding; when f.ThreadTS is set it replies in that thread
// and returns it. A rate-limited post is retried after the wait Slack asks
// for, up to three times and 30 s a wait.
func (s *SlackNotifier) Notify(ctx context.Context, f Finding) (string, error) {
	opts := []slack.MsgOption{
		slack.MsgOptionText(slackText(f), true),
		slack.MsgOptionDisableLinkUnfurl(),
	}
	if f.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(f.ThreadTS))
	}
	for attempt := 0; ; attempt++ {
		_, ts, err := s.client.PostMessageContext(ctx, s.channel, opts...)
		if err == nil {
			return or(f.ThreadTS, ts), nil
		}
		var limited *slack.RateLimitedError
		if !errors.As(err, &limited) || attempt >= s.maxRetries || limited.RetryAfter > s.maxRetryWait {
			return "", fmt.Errorf("slack: post %s finding for pod %s to %s: %w", f.Kind, f.Pod, s.channel, err)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("slack: post %s finding for pod %s to %s: %w (while rate limited: %w)", f.Kind, f.Pod, s.channel, ctx.Err(), err)
		case <-time.After(limited.RetryAfter):
		}
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
	fmt.Fprintf(&b, "GPU miner suspected: pod %s in namespace %s on node %s\n", f.Pod.Pod, f.Pod.Namespace, f.Node)
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
