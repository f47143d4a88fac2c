package actions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/slack-go/slack"
)

// webhookThread stands for the thread of a finding posted by webhook:
// incoming webhooks cannot thread, but a later event (the deletion) is still
// posted, as a new message naming the pod.
const webhookThread = "webhook"

// WebhookNotifier posts findings to a Slack incoming webhook (no bot token):
// the same blocks and text as SlackNotifier, without threads.
type WebhookNotifier struct {
	URL string
	// GrafanaURL, when set, adds a link to the pod's evidence dashboard.
	GrafanaURL string
	// Client is the HTTP client; when nil, one with DefaultHTTPTimeout
	// (never the default client, which waits forever).
	Client *http.Client
}

// Notify posts the finding. A reply (f.ThreadTS set) becomes a new message
// prefixed with the pod.
func (w *WebhookNotifier) Notify(ctx context.Context, f Finding) (string, error) {
	text := slackText(f)
	if f.ThreadTS != "" {
		text = fmt.Sprintf("Update on %s: %s", f.Pod, text)
	}
	msg := &slack.WebhookMessage{Text: esc(text), Blocks: &slack.Blocks{BlockSet: slackBlocks(f, w.GrafanaURL)}}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if err := slack.PostWebhookCustomHTTPContext(ctx, w.URL, client, msg); err != nil {
		return "", fmt.Errorf("slack webhook: post %s finding for pod %s: %w", f.Kind, f.Pod, redactURL(err))
	}
	return webhookThread, nil
}

// redactURL removes the webhook URL's path, which is its secret, from an
// HTTP client error (Go's *url.Error prints the whole URL, and slack-go's
// wrapping has already copied that text), so that a failed post never logs
// the webhook. The *url.Error stays in the chain (timeouts).
func redactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	redacted := *ue
	redacted.URL = "REDACTED"
	if u, perr := url.Parse(ue.URL); perr == nil {
		redacted.URL = u.Scheme + "://" + u.Host + "/REDACTED"
	}
	return fmt.Errorf("post webhook: %w", &redacted)
}
