package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

// AlertName is the alert whose Alertmanager silences may also suppress
// enforcement for the silenced pod.
const AlertName = "GPUMinerDetected"

// Matcher is one Alertmanager silence matcher (v2 API shape).
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual *bool  `json:"isEqual,omitempty"` // absent means true
}

// matches applies the matcher as Alertmanager does: regexes are anchored,
// a missing label reads as "".
func (m Matcher) matches(labels map[string]string) bool {
	v := labels[m.Name]
	var ok bool
	if m.IsRegex {
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return false
		}
		ok = re.MatchString(v)
	} else {
		ok = v == m.Value
	}
	if m.IsEqual != nil && !*m.IsEqual {
		return !ok
	}
	return ok
}

// Silence is an active Alertmanager silence.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	EndsAt    time.Time `json:"endsAt"`
	Status    struct {
		State string `json:"state"`
	} `json:"status"`
}

// AlertSeverity is the severity label deploy/prometheus gives
// GPUMinerDetected.
const AlertSeverity = "warning"

// AlertLabels is the label set of the GPUMinerDetected alert for the pod, as
// the alert rule builds it from miner_detector_suspect_pod: alertname,
// severity, namespace, pod, node and shared. The alert also carries labels
// the detector cannot see (job, instance, Prometheus's external labels);
// see Silence.Matches.
func AlertLabels(r analyzer.PodReport) map[string]string {
	return map[string]string{
		"alertname": AlertName,
		"severity":  AlertSeverity,
		"namespace": r.Namespace,
		"pod":       r.Pod,
		"node":      r.Node,
		"shared":    strconv.FormatBool(r.Shared),
	}
}

// Matches reports whether the silence would silence an alert with these
// labels, as Alertmanager decides it: every matcher must match; =, !=, =~
// and !~; regexes anchored; a missing label reads as "". A matcher on a
// label the detector cannot see (one not in labels, such as job, instance
// or an external label like cluster) is taken as matching: when in doubt
// whether a silence covers the page, the pod is not deleted.
func (s Silence) Matches(labels map[string]string) bool {
	if len(s.Matchers) == 0 {
		return false
	}
	for _, m := range s.Matchers {
		if _, known := labels[m.Name]; !known && !knownAlertLabel[m.Name] {
			continue
		}
		if !m.matches(labels) {
			return false
		}
	}
	return true
}

// knownAlertLabel are the labels AlertLabels sets: a matcher on one of them
// is evaluated even when a caller's label set lacks it.
var knownAlertLabel = map[string]bool{"alertname": true, "severity": true, "namespace": true, "pod": true, "node": true, "shared": true}

func (s Silence) String() string {
	return fmt.Sprintf("silenced by Alertmanager silence %s (createdBy %q, comment %q, endsAt %s)",
		s.ID, s.CreatedBy, s.Comment, s.EndsAt.UTC().Format(time.RFC3339))
}

// SilenceSet is one cycle's active silences, fetched once before planning.
// Err set means Alertmanager could not be read: then every pod is protected
// (fail safe: never delete because the exemption source was down).
type SilenceSet struct {
	Silences []Silence
	Err      error
}

// protects reports whether the set exempts the pod from deletion, and why:
// a silence that silences its GPUMinerDetected alert.
func (s *SilenceSet) protects(r analyzer.PodReport) (bool, string) {
	if s == nil {
		return false, ""
	}
	if s.Err != nil {
		return true, "alertmanager silences unavailable, no deletions this cycle: " + s.Err.Error()
	}
	labels := AlertLabels(r)
	for _, sil := range s.Silences {
		if sil.Matches(labels) {
			return true, sil.String()
		}
	}
	return false, ""
}

// FetchSilences reads the active silences from Alertmanager's v2 API. It
// never returns nil: a failure is carried in the set's Err.
func FetchSilences(ctx context.Context, client *http.Client, baseURL string) *SilenceSet {
	sils, err := fetchSilences(ctx, client, baseURL)
	if err != nil {
		return &SilenceSet{Err: fmt.Errorf("fetch silences from %s: %w", baseURL, err)}
	}
	return &SilenceSet{Silences: sils}
}

func fetchSilences(ctx context.Context, client *http.Client, baseURL string) ([]Silence, error) {
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	// No server-side filter: a silence need not name the alert (namespace=x,
	// pod=~y.* silences every alert of those pods); matching is done here.
	u := strings.TrimRight(baseURL, "/") + "/api/v2/silences"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v2/silences: status %s", resp.Status)
	}
	var all []Silence
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		return nil, fmt.Errorf("decode silences: %w", err)
	}
	var active []Silence
	for _, s := range all {
		if s.Status.State == "active" {
			active = append(active, s)
		}
	}
	return active, nil
}
