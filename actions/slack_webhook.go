package actions

import (
	"context"
	"fmt"
	"net/http"

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
	// (never http.DefaultClient, which waits forever).
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
		return "", fmt.Errorf("slack webhook: post %s finding for pod %s: %w", f.Kind, f.Pod, err)
	}
	return webhookThread, nil
}
