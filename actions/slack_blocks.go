package actions

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/slack-go/slack"

	"github.com/miner-detector/miner-detector/analyzer"
)

// slackBlocks renders a finding as Block Kit: what, where, the numbers per
// GPU with a sparkline of the per-chunk means, the rule and the action, and a
// link to the Grafana evidence dashboard when grafanaURL is set. The plain
// text of slackText stays the message's fallback (notifications, screen
// readers).
func slackBlocks(f Finding, grafanaURL string) []slack.Block {
	r := f.Report
	if f.Kind == FindingDeleted {
		return []slack.Block{
			slack.NewSectionBlock(mrkdwn(fmt.Sprintf(":wastebasket: Deleted pod *%s* in *%s* on node *%s* (%s).",
				esc(f.Pod.Pod), esc(f.Pod.Namespace), esc(f.Node), esc(f.Action))), nil, nil),
		}
	}
	if f.Kind == FindingResolved {
		return []slack.Block{
			slack.NewSectionBlock(mrkdwn(fmt.Sprintf(":white_check_mark: Pod *%s* in *%s* is no longer judged a miner (%s).",
				esc(f.Pod.Pod), esc(f.Pod.Namespace), esc(f.Action))), nil, nil),
		}
	}
	if f.Kind == FindingEscalated || f.Kind == FindingOwnerStopped {
		return []slack.Block{slack.NewSectionBlock(mrkdwn(":rotating_light: "+esc(ownerText(f))), nil, nil)}
	}
	owner := "—"
	if f.Owner != nil {
		owner = f.Owner.String()
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType,
			clip(fmt.Sprintf("GPU miner suspected: %s", f.Pod), 150), false, false)),
		slack.NewSectionBlock(nil, []*slack.TextBlockObject{
			mrkdwn("*Namespace*\n" + esc(f.Pod.Namespace)),
			mrkdwn("*Pod*\n" + esc(f.Pod.Pod)),
			mrkdwn("*Node*\n" + esc(f.Node)),
			mrkdwn(fmt.Sprintf("*Verdict*\n%s, strike %d", r.Verdict, f.Strikes)),
			mrkdwn("*Rule*\n" + esc(ruleSummary(r))),
			mrkdwn("*Window*\n" + formatDuration(f.Window())),
			mrkdwn("*Owner*\n" + esc(owner)),
		}, nil),
	}
	for _, g := range r.GPUs {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf(
			"*GPU %s* `%s`%s: *%s*%s\nmean %.1f%% · stddev %.2f · min %.0f · max %.0f · coverage %.0f%% (%d/%d samples)\n`%s`",
			esc(g.Index), esc(g.UUID), esc(modelText(g)), g.Verdict, esc(sharedText(g)),
			g.Mean, g.StdDev(), g.Min, g.Max, 100*g.Coverage, g.Count, g.ExpectedSamples, sparkline(g.Curve))), nil, nil))
	}
	blocks = append(blocks,
		slack.NewContextBlock("", mrkdwn(esc(r.Evidence.Reason))),
		slack.NewSectionBlock(mrkdwn("*Action:* "+esc(f.Action)), nil, nil),
	)
	if link := evidenceLink(grafanaURL, f.Pod); link != "" {
		button := slack.NewButtonBlockElement("evidence", "", slack.NewTextBlockObject(slack.PlainTextType, "Evidence in Grafana", false, false))
		button.URL = link
		blocks = append(blocks, slack.NewActionBlock("", button))
	}
	return blocks
}

// evidenceLink is the Grafana evidence dashboard for the pod, or "".
func evidenceLink(grafanaURL string, k analyzer.PodKey) string {
	if grafanaURL == "" {
		return ""
	}
	q := url.Values{"var-namespace": {k.Namespace}, "var-pod": {k.Pod}}
	return strings.TrimRight(grafanaURL, "/") + "/d/miner-detector-evidence?" + q.Encode()
}

// sparkline draws per-chunk means (0..100 %) with eight block heights.
func sparkline(curve []analyzer.ChunkMean) string {
	const bars = "▁▂▃▄▅▆▇█"
	levels := []rune(bars)
	var b strings.Builder
	for _, c := range curve {
		i := int(c.Mean / 100 * float64(len(levels)))
		b.WriteRune(levels[min(max(i, 0), len(levels)-1)])
	}
	return b.String()
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// esc escapes the three characters Slack's mrkdwn reserves.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
