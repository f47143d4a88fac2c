package actions

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/slack-go/slack"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// EventReasonUntrustedTelemetry is the reason of the Event on a pod that
// serves dcgm-exporter metric names without being the exporter.
const EventReasonUntrustedTelemetry = "ForgedGPUTelemetry"

// UntrustedFinding is a scrape target that served forged GPU telemetry. It
// is recorded on the serving pod (when known) and posted once; never an
// action against the pods its series named.
type UntrustedFinding struct {
	Job, Instance string
	// Namespace and Pod are the serving pod; empty when unknown.
	Namespace, Pod string
	Series         int
	Metrics        []string
	// Claims are the pods and GPUs its series named, in words.
	Claims []string
	// Cycles counts consecutive cycles with the finding.
	Cycles int
}

// Key identifies the finding across cycles.
func (f UntrustedFinding) Key() string {
	return f.Job + "/" + f.Instance + "/" + f.Namespace + "/" + f.Pod
}

// Text is the finding in one paragraph, for the Event and Slack.
func (f UntrustedFinding) Text() string {
	who := fmt.Sprintf("scrape target %s of job %s", f.Instance, f.Job)
	if f.Pod != "" {
		who = fmt.Sprintf("pod %s/%s (job %s, target %s)", f.Namespace, f.Pod, f.Job, f.Instance)
	}
	claims := f.Claims
	more := ""
	if len(claims) > 10 {
		claims, more = claims[:10], fmt.Sprintf(" and %d more", len(f.Claims)-10)
	}
	return fmt.Sprintf("Untrusted telemetry: %s serves %d series with dcgm-exporter metric names (%s) without being the exporter. "+
		"They are never evidence against the pods they name (%s%s). Forging GPU telemetry is a strong sign of abuse by the serving pod.",
		who, f.Series, strings.Join(f.Metrics, ", "), strings.Join(claims, "; "), more)
}

// UntrustedNotifier posts an untrusted-telemetry finding; SlackNotifier and
// WebhookNotifier are ones.
type UntrustedNotifier interface {
	NotifyUntrusted(ctx context.Context, f UntrustedFinding) error
}

// RecordUntrusted writes the finding as a Warning Event on the serving pod,
// created once, then its count patched each cycle. A finding without a
// serving pod records nothing.
func (k KubeEvents) RecordUntrusted(ctx context.Context, f UntrustedFinding) error {
	if f.Pod == "" {
		return nil
	}
	name := eventName(f.Pod, types.UID(f.Key()), EventReasonUntrustedTelemetry)
	ref := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: f.Namespace, Name: f.Pod}
	if err := k.upsert(ctx, f.Namespace, name, ref, EventReasonUntrustedTelemetry, truncateMessage(f.Text()), "", f.Cycles); err != nil {
		return fmt.Errorf("record event %s on pod %s/%s: %w", EventReasonUntrustedTelemetry, f.Namespace, f.Pod, err)
	}
	return nil
}

// NotifyUntrusted posts the finding as one message.
func (s *SlackNotifier) NotifyUntrusted(ctx context.Context, f UntrustedFinding) error {
	if _, _, err := s.client.PostMessageContext(ctx, s.channel, slack.MsgOptionText(esc(f.Text()), false), slack.MsgOptionDisableLinkUnfurl()); err != nil {
		return fmt.Errorf("slack: post untrusted telemetry of %s to %s: %w", f.Key(), s.channel, err)
	}
	return nil
}

// NotifyUntrusted posts the finding as one message.
func (w *WebhookNotifier) NotifyUntrusted(ctx context.Context, f UntrustedFinding) error {
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if err := slack.PostWebhookCustomHTTPContext(ctx, w.URL, client, &slack.WebhookMessage{Text: esc(f.Text())}); err != nil {
		return fmt.Errorf("slack webhook: post untrusted telemetry of %s: %w", f.Key(), redactURL(err))
	}
	return nil
}
