package cycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/miner-detector/miner-detector/promquery"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

var end = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func fleetPrometheus(t *testing.T) *embedded.Prometheus {
	t.Helper()
	p, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	for _, s := range fleet.FleetSeries(fleet.DemoFleet(end), fleet.Honor, end.Add(-2*time.Hour), end, fleet.Scrape{Metrics: fleet.AllMetrics()}) {
		if err := p.Append(s.Labels, s.Times, s.Values); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func minerPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "batch-worker-5c7d9f8b6-x2k4q", UID: "u1",
		CreationTimestamp: metav1.NewTime(end.Add(-24 * time.Hour))}, Spec: corev1.PodSpec{NodeName: "gpu-node-1"}}
}

// partialAPI answers like a Thanos querier with a store down.
type partialAPI struct{ promquery.API }

func (p partialAPI) QueryRange(ctx context.Context, q string, r v1.Range, o ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	v, ws, is, err := p.API.QueryRange(ctx, q, r, o...)
	return v, append(ws, "partial response: store eu-1 unreachable"), is, err
}

func newCycle(t *testing.T, api promquery.API, kube *fake.Clientset, m *metrics.Metrics) *cycle.Cycle {
	t.Helper()
	cfg := config.Default()
	cfg.Prometheus.URL = "http://unused.invalid"
	cfg.Actions.Enforce = true
	cfg.Actions.StrikesToEnforce = 1
	cfg.State = config.State{ConfigMap: "state", Namespace: "miner-detector"}
	c, err := cycle.New(cfg, cycle.Deps{API: api, Kube: kube, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Partial data from Prometheus: the cycle judges what it got, takes no
// action, and says why in its result and metrics.
func TestPartialDataTakesNoAction(t *testing.T) {
	kube := fake.NewClientset(minerPod())
	m := metrics.New()
	res, err := newCycle(t, partialAPI{fleetPrometheus(t)}, kube, m).Run(context.Background(), end)
	if !errors.Is(err, cycle.ErrPartialData) {
		t.Fatalf("err = %v, want ErrPartialData", err)
	}
	if len(res.Plan.Steps) != 0 || len(res.Outcomes) != 0 || res.ActionsSkipped == "" {
		t.Fatalf("acted on partial data: %d steps, skipped=%q", len(res.Plan.Steps), res.ActionsSkipped)
	}
	if _, err := kube.CoreV1().Pods("team-a").Get(context.Background(), "batch-worker-5c7d9f8b6-x2k4q", metav1.GetOptions{}); err != nil {
		t.Fatalf("miner pod deleted on partial data: %v", err)
	}
	if evs, _ := kube.CoreV1().Events("").List(context.Background(), metav1.ListOptions{}); len(evs.Items) != 0 {
		t.Fatalf("%d events on partial data", len(evs.Items))
	}
	if got := testutil.ToFloat64(m.CyclesCounter(metrics.ResultPartial)); got != 1 {
		t.Fatalf("partial cycles = %v, want 1", got)
	}
	// Partial data publishes no suspects: they would page someone.
	if n, err := testutil.GatherAndCount(m.Registry, "miner_detector_suspect_pod"); err != nil || n != 0 {
		t.Fatalf("%d suspect series published from partial data (%v)", n, err)
	}
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf, cycle.View{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Warnings []string `json:"warnings"`
		Pods     []any    `json:"pods"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || len(doc.Warnings) != 1 || len(doc.Pods) == 0 {
		t.Fatalf("json: %v warnings=%v pods=%d", err, doc.Warnings, len(doc.Pods))
	}
}

// A full cycle in enforce mode with one strike deletes the miner and keeps the
// state in the cluster.
func TestEnforceCycleDeletesAndPersistsState(t *testing.T) {
	kube := fake.NewClientset(minerPod())
	m := metrics.New()
	res, err := newCycle(t, fleetPrometheus(t), kube, m).Run(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Pods("team-a").Get(context.Background(), "batch-worker-5c7d9f8b6-x2k4q", metav1.GetOptions{}); err == nil {
		t.Fatal("miner pod still exists")
	}
	if n := res.Outcomes.Count(actions.ResultOK); n == 0 {
		t.Fatalf("no action succeeded: %+v", res.Outcomes)
	}
	cm, err := kube.CoreV1().ConfigMaps("miner-detector").Get(context.Background(), "state", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("state not persisted: %v", err)
	}
	var data string
	for _, v := range cm.Data {
		data += v
	}
	if !strings.Contains(data, "team-a/batch-worker-5c7d9f8b6-x2k4q") {
		t.Fatalf("state lacks the deleted pod: %s", data)
	}
	if got := testutil.ToFloat64(m.CyclesCounter(metrics.ResultSuccess)); got != 1 {
		t.Fatalf("success cycles = %v", got)
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table, cycle.View{}); err != nil || !strings.Contains(table.String(), "delete: strike 1 of 1") {
		t.Fatalf("table: %v\n%s", err, table.String())
	}
}

// A cycle longer than its budget is counted and logged; one within it is not.
func TestCycleOverBudget(t *testing.T) {
	cfg := config.Default()
	cfg.Prometheus.URL = "http://unused.invalid"
	m := metrics.New()
	c, err := cycle.New(cfg, cycle.Deps{API: fleetPrometheus(t), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if c.Budget != 150*time.Second {
		t.Fatalf("budget %v, want 2m30s (half of every 5 minutes)", c.Budget)
	}
	if _, err := c.Run(context.Background(), end); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.OverBudget()); got != 0 {
		t.Fatalf("over budget %v after a quick cycle", got)
	}
	c.Budget = time.Nanosecond
	if _, err := c.Run(context.Background(), end); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.OverBudget()); got != 1 {
		t.Fatalf("over budget %v after a cycle longer than 1ns, want 1", got)
	}
	cfg.CycleBudget = 1.5
	if _, err := cycle.New(cfg, cycle.Deps{API: fleetPrometheus(t)}); err == nil || !strings.Contains(err.Error(), "cycleBudget") {
		t.Errorf("cycleBudget 1.5: %v, want an error naming the field", err)
	}
}
