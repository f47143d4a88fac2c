package cycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/internal/amtest"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func silencedCycle(t *testing.T, kube *fake.Clientset, amURL string) *cycle.Cycle {
	t.Helper()
	cfg := config.Default()
	cfg.Prometheus.URL = "http://unused.invalid"
	cfg.Actions.Enforce = true
	cfg.Actions.StrikesToEnforce = 1
	cfg.Actions.AlertmanagerSilences = config.AlertmanagerSilences{URL: amURL, SuppressEnforcement: true, Timeout: config.Duration(2 * time.Second)}
	cfg.State = config.State{ConfigMap: "state", Namespace: "miner-detector"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := cycle.New(cfg, cycle.Deps{API: fleetPrometheus(t), Kube: kube, Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func skipReason(res cycle.Result) string {
	for _, s := range res.Plan.Steps {
		if s.Kind == actions.StepSkipDelete && s.Pod.Pod == "batch-worker-5c7d9f8b6-x2k4q" {
			return s.Reason
		}
	}
	return ""
}

func podExists(t *testing.T, kube *fake.Clientset) bool {
	_, err := kube.CoreV1().Pods("team-a").Get(context.Background(), "batch-worker-5c7d9f8b6-x2k4q", metav1.GetOptions{})
	return err == nil
}

func TestCycleSilencedPodIsNotDeleted(t *testing.T) {
	am := amtest.Start(t, "route:\n  receiver: none\nreceivers:\n- name: none\n")
	now := time.Now()
	body, _ := json.Marshal(map[string]any{
		"matchers": []map[string]any{
			{"name": "namespace", "value": "team-a", "isRegex": false, "isEqual": true},
			{"name": "pod", "value": "batch-worker-.*", "isRegex": true, "isEqual": true},
			// Matchers on the alert's other labels, as an on-call engineer
			// copies them from the page.
			{"name": "severity", "value": "warning", "isRegex": false, "isEqual": true},
			{"name": "node", "value": "gpu-node-[0-9]+", "isRegex": true, "isEqual": true},
			{"name": "shared", "value": "true", "isRegex": false, "isEqual": false},
		},
		"startsAt": now.Add(-time.Minute), "endsAt": now.Add(time.Hour),
		"createdBy": "oncall@example.com", "comment": "benchmark run",
	})
	resp, err := http.Post(am.URL+"/api/v2/silences", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST silence: %v %v", resp, err)
	}
	resp.Body.Close()

	kube := fake.NewClientset(minerPod())
	res, err := silencedCycle(t, kube, am.URL).Run(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	if !podExists(t, kube) {
		t.Fatal("silenced miner pod was deleted")
	}
	if r := skipReason(res); !strings.Contains(r, "oncall@example.com") || !strings.Contains(r, "benchmark run") {
		t.Fatalf("skip reason %q does not name the silence", r)
	}
	if res.Plan.Summary().Record == 0 {
		t.Fatal("finding not recorded")
	}
}

func TestCycleAlertmanagerDownDeletesNothing(t *testing.T) {
	kube := fake.NewClientset(minerPod())
	c := silencedCycle(t, kube, "http://127.0.0.1:1")
	res, err := c.Run(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(c.Metrics.SilencesErrors()); v != 1 {
		t.Errorf("silences errors = %v, want 1", v)
	}
	if !podExists(t, kube) {
		t.Fatal("miner pod deleted while Alertmanager was down")
	}
	if r := skipReason(res); !strings.Contains(r, "alertmanager silences unavailable") {
		t.Fatalf("skip reason %q does not say Alertmanager was unavailable", r)
	}
}
