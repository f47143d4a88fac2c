package cycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/metrics"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A tenant's pod serving dcgm-exporter's names for another tenant's GPU, in
// every cycle, behind a kubernetes-pods job: the framed pod keeps the
// verdict the exporter's series give it and is never deleted, and the
// forgery is logged, counted and printed against the serving pod.
func TestForgedSeriesFrameNoOne(t *testing.T) {
	p := fleetPrometheus(t)
	kube := fake.NewClientset(minerPod())
	before, err := newCycle(t, p, kube, nil).Run(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	var victim *analyzer.PodReport
	for i, pod := range before.Report.Pods {
		if pod.Verdict == analyzer.Benign && len(pod.GPUs) > 0 {
			victim = &before.Report.Pods[i]
			break
		}
	}
	if victim == nil {
		t.Fatal("the demo fleet has no benign pod to frame")
	}
	g := victim.GPUs[0]
	forged := map[string]string{"__name__": "DCGM_FI_DEV_GPU_UTIL", "job": "kubernetes-pods", "instance": "10.244.9.9:8000",
		"namespace": "free-notebooks", "pod": "forger-0", "exported_namespace": victim.Namespace, "exported_pod": victim.Pod,
		"gpu": g.Index, "UUID": g.UUID, "Hostname": g.Node, "modelName": g.Model}
	n := int(2 * time.Hour / (15 * time.Second))
	flat := make([]float64, n+1)
	for i := range flat {
		flat[i] = 100
	}
	if err := p.AppendEvery(forged, end.Add(-2*time.Hour), 15*time.Second, flat); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	c := newCycle(t, p, kube, m)
	posts := &untrustedPosts{}
	c.Executor.Notifier = posts
	for cycleN := range 2 {
		res, err := c.Run(context.Background(), end.Add(time.Duration(cycleN)*5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		for _, pod := range res.Report.Pods {
			if pod.PodKey == victim.PodKey && pod.Verdict == analyzer.Miner {
				t.Errorf("cycle %d: the framed pod %s/%s is a miner: %s", cycleN, pod.Namespace, pod.Pod, pod.Evidence.Reason)
			}
		}
		for _, st := range res.Plan.Steps {
			if st.Pod == victim.PodKey && st.Kind == actions.StepDelete {
				t.Errorf("cycle %d: deletion planned for the framed pod", cycleN)
			}
		}
		if len(res.Read.Untrusted) != 1 || res.Read.Untrusted[0].Pod != "forger-0" || res.Read.Untrusted[0].Claims[0].Workload.Pod != victim.Pod {
			t.Fatalf("cycle %d: untrusted %+v, want free-notebooks/forger-0 claiming %s", cycleN, res.Read.Untrusted, victim.Pod)
		}
		if got := untrustedGauge(t, m, "free-notebooks", "forger-0", "kubernetes-pods"); got != 1 {
			t.Errorf("cycle %d: miner_detector_untrusted_series = %v, want 1", cycleN, got)
		}
		var table, js bytes.Buffer
		if err := res.WriteTable(&table, cycle.View{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(table.String(), "untrusted telemetry") || !strings.Contains(table.String(), "pod free-notebooks/forger-0") ||
			!strings.Contains(table.String(), "claims "+victim.Namespace+"/"+victim.Pod) {
			t.Errorf("table lacks the forgery:\n%s", table.String())
		}
		if err := res.WriteJSON(&js, cycle.View{}); err != nil {
			t.Fatal(err)
		}
		var doc cycle.JSONResult
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.UntrustedTelemetry) != 1 || doc.UntrustedTelemetry[0].Job != "kubernetes-pods" || len(doc.Jobs) != 2 {
			t.Errorf("JSON untrusted_telemetry %+v jobs %+v, want the forger and two jobs", doc.UntrustedTelemetry, doc.Jobs)
		}
	}
	// One Slack message for the standing finding, one Event on the serving
	// pod counted per cycle, none on the pod it framed.
	if len(posts.untrusted) != 1 || !strings.Contains(posts.untrusted[0].Text(), "pod free-notebooks/forger-0") ||
		!strings.Contains(posts.untrusted[0].Text(), victim.Namespace+"/"+victim.Pod) {
		t.Errorf("untrusted posts %+v, want one about free-notebooks/forger-0 naming the framed pod", posts.untrusted)
	}
	for _, f := range posts.findings {
		if f.Pod == victim.PodKey {
			t.Errorf("a %s finding posted for the framed pod", f.Kind)
		}
	}
	evs, err := kube.CoreV1().Events("free-notebooks").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) != 1 || evs.Items[0].Reason != actions.EventReasonUntrustedTelemetry || evs.Items[0].InvolvedObject.Name != "forger-0" || evs.Items[0].Count != 2 {
		t.Errorf("events on free-notebooks: %+v, want one %s on forger-0 counted twice", evs.Items, actions.EventReasonUntrustedTelemetry)
	}
	victimEvs, err := kube.CoreV1().Events(victim.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range victimEvs.Items {
		if ev.InvolvedObject.Name == victim.Pod {
			t.Errorf("event %s on the framed pod %s", ev.Reason, victim.Pod)
		}
	}
}

// untrustedPosts records what the cycle posts.
type untrustedPosts struct {
	findings  []actions.Finding
	untrusted []actions.UntrustedFinding
}

func (p *untrustedPosts) Notify(_ context.Context, f actions.Finding) (string, error) {
	p.findings = append(p.findings, f)
	return "ts-1", nil
}

func (p *untrustedPosts) NotifyUntrusted(_ context.Context, f actions.UntrustedFinding) error {
	p.untrusted = append(p.untrusted, f)
	return nil
}

// untrustedGauge is miner_detector_untrusted_series{namespace,pod,job}, or -1
// when absent.
func untrustedGauge(t *testing.T, m *metrics.Metrics, namespace, pod, job string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "miner_detector_untrusted_series" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range mt.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["namespace"] == namespace && l["pod"] == pod && l["job"] == job {
				return mt.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// A miner on weak evidence (partial or utilization-only) that also serves
// forged telemetry: never deleted by default; with
// actions.deleteForgersOnWeakEvidence its own miner verdict deletes it, and
// the deletion's reason says the forgery made the difference.
func TestForgerOnWeakEvidenceDeletedOnlyWithOptIn(t *testing.T) {
	p := fleetPrometheus(t)
	first, err := newCycle(t, p, fake.NewClientset(), nil).Run(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	var suspect *analyzer.PodReport
	for i, pod := range first.Report.Pods {
		if pod.Verdict != analyzer.Miner || pod.Shared || len(pod.GPUs) != 1 {
			continue
		}
		if s := pod.GPUs[0].Strength; s == analyzer.StrengthPartial || s == analyzer.StrengthUtilizationOnly {
			suspect = &first.Report.Pods[i]
			break
		}
	}
	if suspect == nil {
		t.Fatal("the demo fleet has no single-GPU miner on partial or utilization-only evidence")
	}
	g := suspect.GPUs[0]
	// It masks itself: a training-like series naming its own pod and GPU,
	// served from its own /metrics (target labels are its own pod).
	forged := map[string]string{"__name__": "DCGM_FI_DEV_GPU_UTIL", "job": "kubernetes-pods", "instance": "10.244.7.7:8000",
		"namespace": suspect.Namespace, "pod": suspect.Pod, "exported_namespace": suspect.Namespace, "exported_pod": suspect.Pod,
		"gpu": g.Index, "UUID": g.UUID, "Hostname": g.Node, "modelName": g.Model}
	n := int(2 * time.Hour / (15 * time.Second))
	wavy := make([]float64, n+1)
	for i := range wavy {
		wavy[i] = float64(40 + (i*37)%60)
	}
	if err := p.AppendEvery(forged, end.Add(-2*time.Hour), 15*time.Second, wavy); err != nil {
		t.Fatal(err)
	}
	live := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: suspect.Namespace, Name: suspect.Pod, UID: "forger",
		CreationTimestamp: metav1.NewTime(end.Add(-48 * time.Hour))}, Spec: corev1.PodSpec{NodeName: g.Node}}
	for _, optIn := range []bool{false, true} {
		kube := fake.NewClientset(live.DeepCopy())
		c := newCycle(t, p, kube, nil)
		c.Policy.DeleteForgersOnWeakEvidence = optIn
		res, err := c.Run(context.Background(), end)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Read.Untrusted) != 1 || res.Read.Untrusted[0].Pod != suspect.Pod {
			t.Fatalf("opt-in %v: untrusted %+v, want the suspect %s serving", optIn, res.Read.Untrusted, suspect.PodKey)
		}
		var step *actions.Step
		for i, st := range res.Plan.Steps {
			if st.Pod == suspect.PodKey && (st.Kind == actions.StepDelete || st.Kind == actions.StepSkipDelete) {
				step = &res.Plan.Steps[i]
			}
		}
		if step == nil {
			t.Fatalf("opt-in %v: no deletion decision for %s (verdict moved?)", optIn, suspect.PodKey)
		}
		_, getErr := kube.CoreV1().Pods(suspect.Namespace).Get(context.Background(), suspect.Pod, metav1.GetOptions{})
		switch {
		case !optIn && (step.Kind != actions.StepSkipDelete || getErr != nil):
			t.Errorf("no opt-in: %s %q, pod lookup %v; want skip_delete and the pod alive", step.Kind, step.Reason, getErr)
		case optIn && (step.Kind != actions.StepDelete || !strings.Contains(step.Reason, actions.ReasonForgerWeakEvidence) || getErr == nil):
			t.Errorf("opt-in: %s %q, pod lookup %v; want delete naming the forgery and the pod gone", step.Kind, step.Reason, getErr)
		}
	}
}
