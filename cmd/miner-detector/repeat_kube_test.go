package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/metrics"
)

// relay is a Deployment whose pods mine on gpu-node-1 GPU 0, one after the
// other, beside a pod of the same ReplicaSet that trains on GPU 1. The
// harness runs no controller manager: the test plays the ReplicaSet,
// creating each replacement after the detector deleted its predecessor.
type relay struct {
	ns      string
	rs      *appsv1.ReplicaSet
	miners  []string // pod names, in the order the "controller" creates them
	trainer string
	// t1 is when the first miner pod's samples end (its deletion cycle);
	// each replacement starts 15 s after a cycle and the cycles follow
	// every 5 minutes.
	t1   time.Time
	prom *embedded.Prometheus
}

const relayEvery = 5 * time.Minute

func newRelay(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns string) relay {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(err)
	labels := map[string]string{"app": "relay"}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "relay", Image: "busybox"}}}
	one := int32(1)
	dep, err := admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "relay"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
	}, metav1.CreateOptions{})
	must(err)
	r := relay{ns: ns, miners: []string{"relay-6c8f-aaaaa", "relay-6c8f-bbbbb", "relay-6c8f-ccccc", "relay-6c8f-ddddd"}, trainer: "relay-6c8f-train"}
	r.rs, err = admin.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "relay-6c8f", OwnerReferences: controllerOf("apps/v1", "Deployment", "relay", dep.UID)},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
	}, metav1.CreateOptions{})
	must(err)
	first := r.createPod(ctx, t, admin, r.miners[0])
	r.createPod(ctx, t, admin, r.trainer)

	// The evidence must follow each pod's creation (the deleter refuses a
	// pod younger than its evidence): the samples lie in the "future".
	start := first.CreationTimestamp.Time.Add(time.Second)
	r.t1 = start.Add(rbacWindow + 2*time.Minute).Truncate(time.Second)
	end := r.t1.Add(4 * relayEvery)
	gpu0, gpu1 := fleet.GPU("gpu-node-1", "0"), fleet.GPU("gpu-node-1", "1")
	pods := []fleet.Pod{{Namespace: ns, Name: r.trainer, Container: "relay", Node: "gpu-node-1",
		Profile: fleet.FlatTraining(), GPUs: []fleet.GPUSpec{gpu1}, Start: start}}
	for i, name := range r.miners {
		p := fleet.Pod{Namespace: ns, Name: name, Container: "relay", Node: "gpu-node-1",
			Profile: fleet.SteadyMiner(), GPUs: []fleet.GPUSpec{gpu0}, ExpectMiner: true,
			Start: r.t1.Add(time.Duration(i-1) * relayEvery).Add(15 * time.Second),
			End:   r.t1.Add(time.Duration(i) * relayEvery).Add(time.Millisecond)}
		if i == 0 {
			p.Start = start
		}
		pods = append(pods, p)
	}
	r.prom, err = embedded.OpenTemp()
	must(err)
	t.Cleanup(func() { r.prom.Close() })
	for _, s := range fleet.FleetSeries(pods, fleet.Honor, start, end, fleet.Scrape{Metrics: fleet.AllMetrics()}) {
		must(r.prom.Append(s.Labels, s.Times, s.Values))
	}
	return r
}

func controllerOf(apiVersion, kind, name string, uid types.UID) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes}}
}

// createPod creates a pod of the ReplicaSet, as its controller would.
func (r relay) createPod(ctx context.Context, t *testing.T, admin kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	p, err := admin.CoreV1().Pods(r.ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "relay"},
			OwnerReferences: controllerOf("apps/v1", "ReplicaSet", r.rs.Name, r.rs.UID)},
		Spec: corev1.PodSpec{NodeName: "gpu-node-1", Containers: []corev1.Container{{Name: "relay", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// exists reports whether the pod runs: not gone, not terminating (the
// harness runs no kubelet, so a deleted pod on a node stays terminating).
func (r relay) exists(ctx context.Context, t *testing.T, admin kubernetes.Interface, name string) bool {
	t.Helper()
	p, err := admin.CoreV1().Pods(r.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil && p.DeletionTimestamp == nil
}

// run runs the cycles of the scenario as the chart's ServiceAccount: two
// for the first pod (two strikes), then one per replacement, the test
// creating each replacement after the cycle that deleted its predecessor
// (or, when nothing was deleted, anyway: a controller keeps its replicas).
// It returns each cycle's result.
func (r relay) run(ctx context.Context, t *testing.T, admin, kube kubernetes.Interface, cfg config.Config) []cycle.Result {
	t.Helper()
	cyc, err := cycle.New(cfg, cycle.Deps{API: r.prom, Kube: kube, Metrics: metrics.New(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var out []cycle.Result
	runAt := func(at time.Time) {
		res, err := cyc.Run(ctx, at)
		if err != nil {
			t.Fatalf("cycle at %s: %v", at.Format(time.RFC3339), err)
		}
		if n := res.Outcomes.Count(actions.ResultFailed); n > 0 {
			t.Errorf("cycle at %s: %d failed actions: %+v", at.Format(time.RFC3339), n, res.Outcomes)
		}
		out = append(out, res)
	}
	runAt(r.t1.Add(-time.Minute))
	runAt(r.t1)
	for i, name := range r.miners[1:] {
		if !r.exists(ctx, t, admin, name) {
			r.createPod(ctx, t, admin, name)
		}
		runAt(r.t1.Add(time.Duration(i+1) * relayEvery))
	}
	return out
}

// deletedIn returns the cycle (0-based) that deleted the pod, or -1.
func deletedIn(results []cycle.Result, pod string) int {
	for i, res := range results {
		for _, o := range res.Outcomes {
			if o.Kind == actions.StepDelete && o.Pod.Pod == pod && o.Result == actions.ResultOK {
				return i
			}
		}
	}
	return -1
}

// A miner behind a Deployment on a real API server, as the chart's
// ServiceAccount (stopOwners render): its first pod is deleted on the
// second strike; each replacement is deleted at the first cycle after it
// starts, on its owner's evidence; after three deletions the fourth pod is
// not deleted but its Deployment is escalated and scaled to zero, with the
// undo annotation; the benign pod of the same ReplicaSet is never touched.
// In dry-run nothing changes.
func TestRepeatOffenderOnRealAPIServer(t *testing.T) {
	ctx := context.Background()
	cluster, _, rc := controlPlane(t)
	kube := serviceAccountClient(t, rc)
	cfg := enforceConfig()
	cfg.Actions.Owners.StopOwners = true
	loadRBACFile(t, stopOwnersManifests).apply(ctx, t, cluster.Admin, nil)
	waitAllowed(ctx, t, kube, requiredPermissions(cfg))

	t.Run("enforce", func(t *testing.T) {
		r := newRelay(ctx, t, cluster.Admin, "relay")
		results := r.run(ctx, t, cluster.Admin, kube, cfg)
		for i, pod := range r.miners[:3] {
			want := i + 1 // the first pod at its second strike (cycle 1), each replacement in its first cycle
			if got := deletedIn(results, pod); got != want {
				t.Errorf("%s deleted in cycle %d, want %d", pod, got, want)
			}
			if r.exists(ctx, t, cluster.Admin, pod) {
				t.Errorf("%s still exists", pod)
			}
		}
		last := results[len(results)-1]
		var escalated, stopped bool
		for _, o := range last.Outcomes {
			escalated = escalated || o.Kind == actions.StepEscalate && o.Result == actions.ResultOK
			stopped = stopped || o.Kind == actions.StepStopOwner && o.Result == actions.ResultOK
		}
		if !escalated || !stopped || deletedIn(results, r.miners[3]) != -1 {
			t.Errorf("fourth pod: escalated %v, owner stopped %v, deleted in cycle %d; want escalated and stopped, not deleted",
				escalated, stopped, deletedIn(results, r.miners[3]))
		}
		// The replacement's evidence names its owner's window.
		for _, p := range results[2].Report.Pods {
			if p.Pod == r.miners[1] && (p.Evidence.Owner == nil || p.Evidence.Owner.Owner != r.ns+"/Deployment/relay" || len(p.Evidence.Owner.Pods) != 2) {
				t.Errorf("replacement evidence owner %+v", p.Evidence.Owner)
			}
		}
		d, err := cluster.Admin.AppsV1().Deployments(r.ns).Get(ctx, "relay", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 0 || d.Annotations[actions.AnnotationStoppedBy] == "" || d.Annotations[actions.AnnotationUndo] == "" {
			t.Errorf("deployment after escalation: %+v, err %v", d, err)
		}
		if !r.exists(ctx, t, cluster.Admin, r.trainer) || deletedIn(results, r.trainer) != -1 {
			t.Error("the training pod of the same ReplicaSet was deleted")
		}
		evs, err := cluster.Admin.CoreV1().Events(r.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		onOwner := map[string]string{}
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "Deployment" {
				onOwner[e.Reason] = e.InvolvedObject.Name
			}
		}
		if onOwner[actions.EventReasonRepeatOffender] != "relay" || onOwner[actions.EventReasonOwnerStopped] != "relay" {
			t.Errorf("events on the Deployment: %v", onOwner)
		}
	})

	t.Run("dry-run changes nothing", func(t *testing.T) {
		r := newRelay(ctx, t, cluster.Admin, "relay-dry")
		dry := cfg
		dry.Actions.Enforce = false
		dry.State.ConfigMap = "miner-detector-state-dry"
		results := r.run(ctx, t, cluster.Admin, kube, dry)
		for _, res := range results {
			s := res.Plan.Summary()
			if s.Delete+s.Escalate+s.StopOwner > 0 {
				t.Errorf("dry-run planned %s", s)
			}
		}
		d, err := cluster.Admin.AppsV1().Deployments(r.ns).Get(ctx, "relay", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 1 || len(d.Annotations) > 0 {
			t.Errorf("dry-run touched the deployment: %+v, err %v", d, err)
		}
		for _, pod := range append([]string{r.trainer}, r.miners...) {
			if !r.exists(ctx, t, cluster.Admin, pod) {
				t.Errorf("dry-run deleted %s", pod)
			}
		}
	})
}
