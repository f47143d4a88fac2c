package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/kubetest"
	"github.com/miner-detector/miner-detector/internal/metrics"
)

// The chart's rendered plain manifests: their RBAC is what the tests grant.
const renderedManifests = "../../deploy/manifests/miner-detector.yaml"

const releaseNamespace = "miner-detector"

// rbacObjects are the RBAC objects (and the ServiceAccount) of the rendered
// chart, in apply order.
type rbacObjects struct {
	serviceAccounts []*corev1.ServiceAccount
	clusterRoles    []*rbacv1.ClusterRole
	clusterBindings []*rbacv1.ClusterRoleBinding
	roles           []*rbacv1.Role
	bindings        []*rbacv1.RoleBinding
}

func loadRBAC(t *testing.T) rbacObjects {
	t.Helper()
	return loadRBACFile(t, renderedManifests)
}

// loadRBACFile reads the RBAC objects of a render of the chart.
func loadRBACFile(t *testing.T, renderedManifests string) rbacObjects {
	t.Helper()
	raw, err := os.ReadFile(renderedManifests)
	if err != nil {
		t.Fatal(err)
	}
	var out rbacObjects
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) == 0 || !bytes.Contains(doc, []byte("kind:")) {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if runtime.IsNotRegisteredError(err) {
			continue // ServiceMonitor, PrometheusRule: not RBAC
		}
		if err != nil {
			t.Fatalf("decode %s: %v\n%s", renderedManifests, err, doc)
		}
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			out.serviceAccounts = append(out.serviceAccounts, o)
		case *rbacv1.ClusterRole:
			out.clusterRoles = append(out.clusterRoles, o)
		case *rbacv1.ClusterRoleBinding:
			out.clusterBindings = append(out.clusterBindings, o)
		case *rbacv1.Role:
			out.roles = append(out.roles, o)
		case *rbacv1.RoleBinding:
			out.bindings = append(out.bindings, o)
		}
	}
	if len(out.serviceAccounts) != 1 {
		t.Fatalf("%s: %d ServiceAccounts, want 1", renderedManifests, len(out.serviceAccounts))
	}
	return out
}

// ruleRef names one rule of one Role or ClusterRole.
type ruleRef struct {
	kind, name string
	index      int
	rule       rbacv1.PolicyRule
}

func (r ruleRef) String() string {
	return fmt.Sprintf("%s %s rule %d (%s %s)", r.kind, r.name, r.index, strings.Join(r.rule.Verbs, ","), strings.Join(r.rule.Resources, ","))
}

func (o rbacObjects) rules() []ruleRef {
	var out []ruleRef
	for _, cr := range o.clusterRoles {
		for i, r := range cr.Rules {
			out = append(out, ruleRef{"ClusterRole", cr.Name, i, r})
		}
	}
	for _, role := range o.roles {
		for i, r := range role.Rules {
			out = append(out, ruleRef{"Role", role.Namespace + "/" + role.Name, i, r})
		}
	}
	return out
}

// apply creates or replaces the RBAC objects, without the rule drop when set.
func (o rbacObjects) apply(ctx context.Context, t *testing.T, admin kubernetes.Interface, drop *ruleRef) {
	t.Helper()
	without := func(kind, name string, rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
		if drop == nil || drop.kind != kind || drop.name != name {
			return rules
		}
		return slices.Delete(slices.Clone(rules), drop.index, drop.index+1)
	}
	must := func(err error, what string) {
		t.Helper()
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("apply %s: %v", what, err)
		}
	}
	for _, sa := range o.serviceAccounts {
		_, err := admin.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa.DeepCopy(), metav1.CreateOptions{})
		must(err, "serviceaccount")
	}
	for _, cr := range o.clusterRoles {
		cr = cr.DeepCopy()
		cr.Rules = without("ClusterRole", cr.Name, cr.Rules)
		_ = admin.RbacV1().ClusterRoles().Delete(ctx, cr.Name, metav1.DeleteOptions{})
		_, err := admin.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{})
		must(err, "clusterrole "+cr.Name)
	}
	for _, b := range o.clusterBindings {
		_, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, b.DeepCopy(), metav1.CreateOptions{})
		must(err, "clusterrolebinding "+b.Name)
	}
	for _, r := range o.roles {
		r = r.DeepCopy()
		r.Rules = without("Role", r.Namespace+"/"+r.Name, r.Rules)
		_ = admin.RbacV1().Roles(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		_, err := admin.RbacV1().Roles(r.Namespace).Create(ctx, r, metav1.CreateOptions{})
		must(err, "role "+r.Name)
	}
	for _, b := range o.bindings {
		_, err := admin.RbacV1().RoleBindings(b.Namespace).Create(ctx, b.DeepCopy(), metav1.CreateOptions{})
		must(err, "rolebinding "+b.Name)
	}
}

// controlPlane starts etcd and kube-apiserver with the chart's RBAC applied
// and returns the admin client and the detector's ServiceAccount config.
func controlPlane(t *testing.T) (*kubetest.Cluster, rbacObjects, *rest.Config) {
	t.Helper()
	ctx := context.Background()
	c := kubetest.Start(t)
	if err := c.Namespace(ctx, releaseNamespace); err != nil {
		t.Fatal(err)
	}
	objs := loadRBAC(t)
	objs.apply(ctx, t, c.Admin, nil)
	sa := objs.serviceAccounts[0]
	rc, err := c.ServiceAccount(ctx, sa.Namespace, sa.Name)
	if err != nil {
		t.Fatal(err)
	}
	return c, objs, rc
}

// serviceAccountClient is a client acting as the chart's ServiceAccount.
func serviceAccountClient(t *testing.T, rc *rest.Config) kubernetes.Interface {
	t.Helper()
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return kube
}

// minerScenario is one namespace with one miner pod on gpu-node-1 GPU 0 and
// an embedded Prometheus holding its utilization for the window before at.
type minerScenario struct {
	ns, pod string
	at      time.Time
	prom    *embedded.Prometheus
}

const rbacWindow = 10 * time.Minute

func newMinerScenario(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns string) minerScenario {
	t.Helper()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jupyter-mallory"},
		Spec: corev1.PodSpec{
			NodeName:   "gpu-node-1",
			Containers: []corev1.Container{{Name: "notebook", Image: "jupyter/base-notebook"}},
		},
	}
	created, err := admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The evidence must follow the pod's creation: the deleter refuses a
	// pod younger than its evidence. The window ends in the "future".
	start := created.CreationTimestamp.Time.Add(time.Second)
	at := start.Add(rbacWindow + 2*time.Minute).Truncate(time.Second)
	prom, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Close() })
	miner := fleet.Pod{
		Namespace: ns, Name: pod.Name, Container: "notebook", Node: "gpu-node-1",
		Profile: fleet.SteadyMiner(), GPUs: []fleet.GPUSpec{fleet.GPU("gpu-node-1", "0")}, Start: start,
	}
	// And a busy GPU that no pod holds, on the same node: a Node Event.
	podless := fleet.Pod{Node: "gpu-node-1", Profile: fleet.SteadyMiner(), GPUs: []fleet.GPUSpec{fleet.GPU("gpu-node-1", "1")}, Start: start}
	for _, s := range fleet.FleetSeries([]fleet.Pod{miner, podless}, fleet.Honor, start, at.Add(5*time.Minute), fleet.Scrape{Metrics: fleet.AllMetrics()}) {
		if err := prom.Append(s.Labels, s.Times, s.Values); err != nil {
			t.Fatal(err)
		}
	}
	return minerScenario{ns: ns, pod: pod.Name, at: at, prom: prom}
}

func enforceConfig() config.Config {
	cfg := config.Default()
	cfg.Prometheus.URL = "http://unused.invalid"
	cfg.Window = config.Duration(rbacWindow)
	cfg.Actions.Enforce = true
	cfg.Actions.StrikesToEnforce = 2
	cfg.State.Namespace = releaseNamespace
	cfg.LeaderElection.Enabled = true
	cfg.LeaderElection.Namespace = releaseNamespace
	cfg.LeaderElection.Identity = "miner-detector-0"
	return cfg
}

// runEnforce runs two enforce cycles (strike 1: Event; strike 2: Event
// updated, pod deleted) as the ServiceAccount.
func runEnforce(ctx context.Context, t *testing.T, sc minerScenario, kube kubernetes.Interface) []cycle.Result {
	t.Helper()
	cyc, err := cycle.New(enforceConfig(), cycle.Deps{API: sc.prom, Kube: kube, Metrics: metrics.New(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var out []cycle.Result
	for i := range 2 {
		res, err := cyc.Run(ctx, sc.at.Add(time.Duration(i)*time.Minute))
		if err != nil {
			// A failed state save is reported as an error; keep the result.
			t.Logf("cycle %d: %v", i+1, err)
		}
		out = append(out, res)
	}
	return out
}

// The chart's RBAC is enough: as its ServiceAccount, on a real API server
// with RBAC on, the detector passes its start-up permission check, takes the
// Lease, records Events (created, then patched), keeps its state ConfigMap
// and deletes the miner pod.
func TestChartRBACIsEnough(t *testing.T) {
	ctx := context.Background()
	cluster, _, rc := controlPlane(t)
	kube := serviceAccountClient(t, rc)
	cfg := enforceConfig()
	if missing, err := missingPermissions(ctx, kube, requiredPermissions(cfg)); err != nil || len(missing) > 0 {
		t.Fatalf("start-up permission check: missing %v, err %v", missing, err)
	}

	// The Lease.
	leadCtx, stopLeading := context.WithCancel(ctx)
	e := &election{client: kube, namespace: releaseNamespace, name: cfg.LeaderElection.LeaseName, identity: "miner-detector-0",
		leaseDuration: 4 * time.Second, renewDeadline: 3 * time.Second, retryPeriod: 500 * time.Millisecond, release: true}
	led := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.campaign(leadCtx, slog.New(slog.DiscardHandler), func(stop, _ context.Context) {
			led <- struct{}{}
			<-stop.Done()
		}, func(bool) {})
	}()
	select {
	case <-led:
	case <-time.After(30 * time.Second):
		t.Fatal("the ServiceAccount did not take the Lease")
	}
	lease, err := cluster.Admin.CoordinationV1().Leases(releaseNamespace).Get(ctx, cfg.LeaderElection.LeaseName, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "miner-detector-0" {
		t.Fatalf("lease: %v, err %v", lease, err)
	}
	stopLeading()
	<-done
	if l, err := cluster.Admin.CoordinationV1().Leases(releaseNamespace).Get(ctx, cfg.LeaderElection.LeaseName, metav1.GetOptions{}); err != nil || holder(l) != "" {
		t.Errorf("lease not released on shutdown: holder %q, err %v", holder(l), err)
	}

	// Events, state, deletion.
	sc := newMinerScenario(ctx, t, cluster.Admin, "free-notebooks")
	results := runEnforce(ctx, t, sc, kube)
	for i, res := range results {
		if n := res.Outcomes.Count(actions.ResultFailed); n > 0 {
			t.Errorf("cycle %d: %d failed actions: %+v", i+1, n, res.Outcomes)
		}
	}
	evs, err := cluster.Admin.CoreV1().Events(sc.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int32{}
	for _, ev := range evs.Items {
		reasons[ev.Reason] = ev.Count
	}
	if reasons[actions.EventReasonDetected] != 2 || reasons[actions.EventReasonDeleted] != 1 {
		t.Errorf("events (reason: count) = %v, want %s counted twice (created, then patched) and %s once",
			reasons, actions.EventReasonDetected, actions.EventReasonDeleted)
	}
	nodeEvs, err := cluster.Admin.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var onNode []string
	for _, ev := range nodeEvs.Items {
		if ev.Reason == actions.EventReasonBusyWithoutPod && ev.InvolvedObject.Kind == "Node" && ev.InvolvedObject.Name == "gpu-node-1" {
			onNode = append(onNode, fmt.Sprintf("count %d", ev.Count))
		}
	}
	if !slices.Equal(onNode, []string{"count 2"}) {
		t.Errorf("GPUBusyWithoutPod Events on Node gpu-node-1: %v, want one, counted twice", onNode)
	}
	pod, err := cluster.Admin.CoreV1().Pods(sc.ns).Get(ctx, sc.pod, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		t.Fatal(err)
	case pod.DeletionTimestamp == nil:
		t.Errorf("miner pod %s/%s not deleted", sc.ns, sc.pod)
	}
	cm, err := cluster.Admin.CoreV1().ConfigMaps(releaseNamespace).Get(ctx, "miner-detector-state", metav1.GetOptions{})
	if err != nil || !strings.Contains(cm.Data[actions.StateDataKey], sc.pod) {
		t.Errorf("state ConfigMap: %v, err %v", cm, err)
	}

	checkCanIList(ctx, t, kube, releaseNamespace, sc.ns)
}

var updateReadme = flag.Bool("update", false, "rewrite the can-i section of the chart README")

const chartReadme = "../../deploy/helm/miner-detector/README.md"

// checkCanIList renders what `kubectl auth can-i --list` answers for the
// ServiceAccount in each namespace (a SelfSubjectRulesReview) and checks that
// the chart README shows exactly that.
func checkCanIList(ctx context.Context, t *testing.T, kube kubernetes.Interface, namespaces ...string) {
	t.Helper()
	var b strings.Builder
	for _, ns := range namespaces {
		review, err := kube.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx,
			&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		for _, r := range review.Status.ResourceRules {
			for _, res := range r.Resources {
				for _, g := range r.APIGroups {
					name := res
					if g != "" {
						name += "." + g
					}
					rows = append(rows, fmt.Sprintf("%-45s %s", name, "["+strings.Join(r.Verbs, " ")+"]"))
				}
			}
		}
		for _, r := range review.Status.NonResourceRules {
			for _, u := range r.NonResourceURLs {
				rows = append(rows, fmt.Sprintf("%-45s %s", "(url) "+u, "["+strings.Join(r.Verbs, " ")+"]"))
			}
		}
		slices.Sort(rows)
		rows = slices.Compact(rows)
		fmt.Fprintf(&b, "$ kubectl auth can-i --list -n %s --as=system:serviceaccount:%s:miner-detector\n", ns, releaseNamespace)
		fmt.Fprintf(&b, "%-45s %s\n", "RESOURCE", "VERBS")
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
		b.WriteString("\n")
	}
	section := "<!-- can-i:begin -->\n" +
		"Generated on a real kube-apiserver by `go test ./cmd/miner-detector -run TestChartRBACIsEnough -update`\n" +
		"(pods, events, replicasets, jobs, configmaps and leases are the chart's; the rest are Kubernetes' defaults for every authenticated\n" +
		"identity; `free-notebooks` stands for any workload namespace):\n\n" +
		"```\n" + strings.TrimSuffix(b.String(), "\n") + "```\n<!-- can-i:end -->"
	raw, err := os.ReadFile(chartReadme)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, "<!-- can-i:begin -->"), strings.Index(doc, "<!-- can-i:end -->")
	if i < 0 || j < i {
		t.Fatalf("%s lacks the can-i markers", chartReadme)
	}
	got := doc[i : j+len("<!-- can-i:end -->")]
	if got == section {
		return
	}
	if *updateReadme {
		if err := os.WriteFile(chartReadme, []byte(doc[:i]+section+doc[j+len("<!-- can-i:end -->"):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the can-i section is not what the API server answers; run go test ./cmd/miner-detector -run TestChartRBACIsEnough -update\n%s", chartReadme, section)
}

func holder(l *coordinationv1.Lease) string {
	if l == nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// The chart's RBAC is no more than needed: with any one rule removed, the
// start-up check names the missing permission, and the operation that needs
// it fails with Forbidden in the expected place — no crash.
func TestChartRBACIsMinimal(t *testing.T) {
	ctx := context.Background()
	cluster, objs, rc := controlPlane(t)
	kube := serviceAccountClient(t, rc)
	rules := objs.rules()
	if len(rules) < 4 {
		t.Fatalf("%d RBAC rules in the chart, want at least pods, events, configmaps and leases", len(rules))
	}
	for i, r := range rules {
		t.Run(r.String(), func(t *testing.T) {
			objs.apply(ctx, t, cluster.Admin, &r)
			defer objs.apply(ctx, t, cluster.Admin, nil)
			cfg := enforceConfig()
			missing := waitMissing(ctx, t, kube, requiredPermissions(cfg))
			if len(missing) == 0 {
				t.Fatalf("without %s the start-up check finds nothing missing: the rule is not needed", r)
			}
			for _, m := range missing {
				if !slices.Contains(r.rule.Resources, m.Resource) || !slices.Contains(r.rule.Verbs, m.Verb) {
					t.Errorf("without %s the check reports %s missing, which that rule does not grant", r, m)
				}
			}
			msg := (&permissionError{missing}).Error()
			if !strings.Contains(msg, r.rule.Resources[0]) {
				t.Errorf("permission error does not name %s:\n%s", r.rule.Resources[0], msg)
			}

			// The operation itself fails in the expected place.
			switch r.rule.Resources[0] {
			case "replicasets", "jobs":
				// Resolving the owner of a pod behind a ReplicaSet or a
				// Job reads it: Forbidden, and the owner is that object.
				sc := newOwnerScenario(ctx, t, cluster.Admin, fmt.Sprintf("minimal-%d", i))
				pod, want := sc.deployPod, "ReplicaSet"
				if r.rule.Resources[0] == "jobs" {
					pod, want = sc.cronPod, "Job"
				}
				o, err := (actions.KubeOwners{Client: kube}).Owner(ctx, analyzer.PodKey{Namespace: sc.ns, Pod: pod})
				if !errors.Is(err, actions.ErrOwnerIncomplete) || !apierrors.IsForbidden(err) || o.Kind != want {
					t.Errorf("without %s, owner of %s: %+v, err %v; want its %s and a Forbidden error", r, pod, o, err, want)
				}
			case "leases":
				e := &election{client: kube, namespace: releaseNamespace, name: "miner-detector", identity: "x",
					leaseDuration: 4 * time.Second, renewDeadline: 3 * time.Second, retryPeriod: 500 * time.Millisecond}
				lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				e.campaign(lctx, slog.New(slog.DiscardHandler), func(context.Context, context.Context) {
					t.Error("led without permission on leases")
				}, func(bool) {})
			default:
				sc := newMinerScenario(ctx, t, cluster.Admin, fmt.Sprintf("minimal-%d", i))
				results := runEnforce(ctx, t, sc, kube)
				failed := failures(results)
				if len(failed) == 0 {
					t.Fatalf("without %s no action failed", r)
				}
				for _, f := range failed {
					if !strings.Contains(f, "forbidden") {
						t.Errorf("without %s an action failed without a Forbidden error: %s", r, f)
					}
				}
			}
		})
	}
}

func failures(results []cycle.Result) []string {
	var out []string
	for _, res := range results {
		for _, o := range res.Outcomes {
			if o.Result == actions.ResultFailed {
				out = append(out, fmt.Sprintf("%s %s: %s", o.Kind, o.Pod, o.Err))
			}
		}
		if res.ActionsSkipped != "" {
			out = append(out, res.ActionsSkipped)
		}
	}
	return out
}

// waitMissing polls the permission check until RBAC changes have reached the
// authorizer's cache (they propagate within a second or so).
func waitMissing(ctx context.Context, t *testing.T, kube kubernetes.Interface, perms []permission) []permission {
	t.Helper()
	var missing []permission
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		if missing, err = missingPermissions(ctx, kube, perms); err != nil {
			t.Fatal(err)
		}
		if len(missing) > 0 {
			return missing
		}
	}
	return missing
}

// Two replicas: one leads and runs the cycles; when it dies without
// releasing the Lease, the other takes over within the lease duration; when
// the leader shuts down cleanly it releases the Lease and the other takes
// over at once. No schedule tick is ever run twice.
func TestLeaderFailover(t *testing.T) {
	_, _, rc := controlPlane(t)
	prom, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Close()

	const (
		leaseDuration = 4 * time.Second
		renewDeadline = 3 * time.Second
		retryPeriod   = 500 * time.Millisecond
	)
	var mu sync.Mutex
	ticks := map[time.Time][]string{}
	newReplica := func(id string, release bool) *replica {
		kube, err := kubernetes.NewForConfig(rc)
		if err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.Prometheus.URL = "http://unused.invalid"
		cfg.Window = config.Duration(5 * time.Minute)
		cfg.State.Namespace = releaseNamespace
		cyc, err := cycle.New(cfg, cycle.Deps{API: prom, Kube: kube, Metrics: metrics.New(), Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		d := &daemon{cycle: cyc, log: slog.New(slog.DiscardHandler), schedule: everySecond{}, onStart: true,
			election: &election{client: kube, namespace: releaseNamespace, name: "miner-detector", identity: id,
				leaseDuration: leaseDuration, renewDeadline: renewDeadline, retryPeriod: retryPeriod, release: release},
			ran: func(tick time.Time) {
				mu.Lock()
				defer mu.Unlock()
				ticks[tick] = append(ticks[tick], id)
			},
		}
		return startReplica(t, d, cfg)
	}
	ranBy := func(id string, after time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for tick, ids := range ticks {
			if tick.After(after) && slices.Contains(ids, id) {
				n++
			}
		}
		return n
	}

	// replica-a will crash: it never releases the Lease.
	a := newReplica("replica-a", false)
	waitLeader(t, 30*time.Second, a)
	b := newReplica("replica-b", true)
	time.Sleep(3 * time.Second)
	if b.d.leading.Load() || ranBy("replica-b", time.Time{}) > 0 {
		t.Fatal("the standby ran cycles while the leader was alive")
	}
	if got := get(t, b.url+"/readyz"); got != "ready: standby\n" {
		t.Errorf("standby /readyz = %q", got)
	}
	if got := get(t, a.url+"/readyz"); got != "ready: leader\n" {
		t.Errorf("leader /readyz = %q", got)
	}

	// Crash: the leader stops without releasing the Lease.
	killed := time.Now()
	a.stop(t)
	waitLeader(t, leaseDuration+renewDeadline+2*time.Second, b)
	took := time.Since(killed)
	t.Logf("takeover after a crash: %v (lease duration %v)", took, leaseDuration)
	if took > leaseDuration+2*retryPeriod+time.Second {
		t.Errorf("takeover took %v, more than the lease duration %v", took, leaseDuration)
	}
	if took < leaseDuration/2 {
		t.Errorf("takeover after a crash took only %v: the crashed leader released the Lease", took)
	}
	waitFor(t, 10*time.Second, "the new leader runs a cycle", func() bool { return ranBy("replica-b", killed) > 0 })

	// Clean shutdown: the Lease is released and the standby takes over at once.
	c := newReplica("replica-c", true)
	time.Sleep(2 * time.Second)
	stopped := time.Now()
	b.stop(t)
	waitLeader(t, leaseDuration, c)
	took = time.Since(stopped)
	t.Logf("takeover after a clean shutdown: %v", took)
	if took > leaseDuration/2+time.Second {
		t.Errorf("takeover after release took %v: the Lease was not released", took)
	}
	waitFor(t, 10*time.Second, "the third leader runs a cycle", func() bool { return ranBy("replica-c", stopped) > 0 })
	c.stop(t)

	mu.Lock()
	defer mu.Unlock()
	if len(ticks) < 4 {
		t.Errorf("only %d ticks ran", len(ticks))
	}
	for tick, ids := range ticks {
		if len(ids) > 1 {
			t.Errorf("tick %s ran %d times: %v", tick.Format(time.RFC3339), len(ids), ids)
		}
	}
}

// everySecond ticks on every whole second, the same instants in every
// replica, like a cron schedule.
type everySecond struct{}

func (everySecond) Next(t time.Time) time.Time { return t.Truncate(time.Second).Add(time.Second) }

type replica struct {
	d      *daemon
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startReplica(t *testing.T, d *daemon, cfg config.Config) *replica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{d: d, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.serve(ctx, ln, cfg) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *replica) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("replica stopped with %v", err)
		}
	case <-time.After(shutdownGrace + 10*time.Second):
		t.Error("replica did not stop")
	}
}

func waitLeader(t *testing.T, within time.Duration, r *replica) {
	t.Helper()
	waitFor(t, within, "a replica leads", func() bool { return r.d.leading.Load() })
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("%s: not within %v", what, within)
}
