package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
)

// stopOwnersManifests is the chart rendered with
// config.actions.owners.stopOwners=true (make manifests writes it).
const stopOwnersManifests = "testdata/chart-stop-owners.yaml"

// ownerScenario is one namespace holding what a controller manager would
// have made (the harness runs none, so the test writes the ownerReferences):
// Deployment miner -> ReplicaSet -> pod, CronJob nightly -> Job -> pod, and
// a StatefulSet.
type ownerScenario struct {
	ns                 string
	deploy             *appsv1.Deployment
	cron               *batchv1.CronJob
	sts                *appsv1.StatefulSet
	deployPod, cronPod string
}

func newOwnerScenario(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns string) ownerScenario {
	t.Helper()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	labels := map[string]string{"app": "miner"}
	podSpec := corev1.PodSpec{Containers: []corev1.Container{{Name: "xmrig", Image: "busybox"}}}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec}
	three := int32(3)
	var sc ownerScenario
	sc.ns = ns

	var err error
	sc.deploy, err = admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "miner"},
		Spec:       appsv1.DeploymentSpec{Replicas: &three, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	must(err)
	rs, err := admin.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "miner-7d9f", OwnerReferences: controllerOf("apps/v1", "Deployment", "miner", sc.deploy.UID)},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &three, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	must(err)
	pod, err := admin.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "miner-7d9f-x2x4q", Labels: labels, OwnerReferences: controllerOf("apps/v1", "ReplicaSet", rs.Name, rs.UID)},
		Spec:       podSpec,
	}, metav1.CreateOptions{})
	must(err)
	sc.deployPod = pod.Name

	jobTemplate := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: podSpec.Containers, RestartPolicy: corev1.RestartPolicyNever}}
	sc.cron, err = admin.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate}}},
	}, metav1.CreateOptions{})
	must(err)
	job, err := admin.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000", OwnerReferences: controllerOf("batch/v1", "CronJob", "nightly", sc.cron.UID)},
		Spec:       batchv1.JobSpec{Template: jobTemplate},
	}, metav1.CreateOptions{})
	must(err)
	pod, err = admin.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000-abcde", OwnerReferences: controllerOf("batch/v1", "Job", job.Name, job.UID)},
		Spec:       jobTemplate.Spec,
	}, metav1.CreateOptions{})
	must(err)
	sc.cronPod = pod.Name

	two := int32(2)
	sc.sts, err = admin.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "miner-db"},
		Spec:       appsv1.StatefulSetSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	must(err)
	return sc
}

// Owners on a real API server, as the chart's ServiceAccount: without
// stopOwners the detector resolves owners but may not stop them, and the
// start-up check names exactly the stop permissions; with the chart's
// stopOwners render it resolves a Deployment through its ReplicaSet and a
// CronJob through its Job, scales the Deployment to zero and suspends the
// CronJob (annotated, with the undo command), and records Events on them.
func TestOwnersOnRealAPIServer(t *testing.T) {
	ctx := context.Background()
	cluster, _, rc := controlPlane(t)
	kube := serviceAccountClient(t, rc)
	sc := newOwnerScenario(ctx, t, cluster.Admin, "owners")
	cfg := enforceConfig()
	cfg.Actions.Owners.StopOwners = true
	resolver := actions.KubeOwners{Client: kube}
	at := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	stopper := actions.KubeOwnerStopper{Client: kube, Now: func() time.Time { return at }}
	deployOwner := actions.Owner{Namespace: sc.ns, APIVersion: "apps/v1", Kind: "Deployment", Name: "miner", UID: string(sc.deploy.UID)}
	cronOwner := actions.Owner{Namespace: sc.ns, APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly", UID: string(sc.cron.UID)}

	t.Run("default chart: owners resolved, never stopped", func(t *testing.T) {
		noStop := enforceConfig()
		if missing, err := missingPermissions(ctx, kube, requiredPermissions(noStop)); err != nil || len(missing) > 0 {
			t.Fatalf("start-up check without stopOwners: missing %v, err %v", missing, err)
		}
		missing, err := missingPermissions(ctx, kube, requiredPermissions(cfg))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range missing {
			names = append(names, m.Verb+" "+m.Resource+"."+m.Group)
			if !strings.Contains(m.Why, "stopOwners") {
				t.Errorf("missing %s, which stopping owners does not need", m)
			}
		}
		for _, want := range []string{"patch deployments.apps", "patch statefulsets.apps", "patch replicasets.apps", "patch jobs.batch", "patch cronjobs.batch"} {
			if !slices.Contains(names, want) {
				t.Errorf("start-up check with stopOwners on the default chart does not name %s: %v", want, names)
			}
		}
		if msg := (&permissionError{missing}).Error(); !strings.Contains(msg, "patch deployments.apps") || !strings.Contains(msg, "stopOwners") {
			t.Errorf("permission error does not name the stop permissions:\n%s", msg)
		}
		if o, err := resolver.Owner(ctx, analyzer.PodKey{Namespace: sc.ns, Pod: sc.deployPod}); err != nil || o != deployOwner {
			t.Errorf("owner %+v, err %v; want %+v", o, err, deployOwner)
		}
		if _, err := stopper.Stop(ctx, deployOwner, actions.StopRequest{Reason: "r", At: at}); !apierrors.IsForbidden(err) {
			t.Errorf("stop without stopOwners RBAC: err %v, want Forbidden", err)
		}
		d, err := cluster.Admin.AppsV1().Deployments(sc.ns).Get(ctx, "miner", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 3 || len(d.Annotations) > 0 {
			t.Errorf("deployment touched without permission: %v, err %v", d, err)
		}
	})

	loadRBACFile(t, stopOwnersManifests).apply(ctx, t, cluster.Admin, nil)
	waitAllowed(ctx, t, kube, requiredPermissions(cfg))

	t.Run("resolve", func(t *testing.T) {
		for pod, want := range map[string]actions.Owner{sc.deployPod: deployOwner, sc.cronPod: cronOwner} {
			o, err := resolver.Owner(ctx, analyzer.PodKey{Namespace: sc.ns, Pod: pod})
			if err != nil || o != want {
				t.Errorf("owner of %s: %+v, err %v; want %+v", pod, o, err, want)
			}
		}
		_, err := resolver.Owner(ctx, analyzer.PodKey{Namespace: sc.ns, Pod: "gone"})
		if !errors.Is(err, actions.ErrOwnerPodGone) {
			t.Errorf("owner of a pod that does not exist: err %v, want ErrOwnerPodGone", err)
		}
	})

	t.Run("stop a Deployment", func(t *testing.T) {
		undo, err := stopper.Stop(ctx, deployOwner, actions.StopRequest{Reason: "deleted 3 times in 24h", At: at})
		if err != nil {
			t.Fatal(err)
		}
		wantUndo := "kubectl -n owners scale deployment/miner --replicas=3 && kubectl -n owners annotate deployment/miner " +
			"miner-detector.io/stopped-by- miner-detector.io/stopped-at- miner-detector.io/reason- miner-detector.io/undo- miner-detector.io/replicas-before-"
		if undo != wantUndo {
			t.Errorf("undo =\n  %s\nwant\n  %s", undo, wantUndo)
		}
		d, err := cluster.Admin.AppsV1().Deployments(sc.ns).Get(ctx, "miner", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != 0 {
			t.Errorf("replicas %d, want 0", *d.Spec.Replicas)
		}
		want := map[string]string{
			actions.AnnotationStoppedBy: "miner-detector", actions.AnnotationStoppedAt: "2026-01-05T12:00:00Z",
			actions.AnnotationReason: "deleted 3 times in 24h", actions.AnnotationReplicas: "3", actions.AnnotationUndo: wantUndo,
		}
		for k, v := range want {
			if d.Annotations[k] != v {
				t.Errorf("annotation %s = %q, want %q", k, d.Annotations[k], v)
			}
		}
		// Stopping again changes nothing.
		rv := d.ResourceVersion
		if again, err := stopper.Stop(ctx, deployOwner, actions.StopRequest{Reason: "again", At: at}); err != nil || again != wantUndo {
			t.Errorf("second stop: %q, err %v", again, err)
		}
		if d, _ := cluster.Admin.AppsV1().Deployments(sc.ns).Get(ctx, "miner", metav1.GetOptions{}); d.ResourceVersion != rv {
			t.Errorf("second stop wrote the Deployment")
		}
	})

	t.Run("stop a StatefulSet", func(t *testing.T) {
		sts := actions.Owner{Namespace: sc.ns, APIVersion: "apps/v1", Kind: "StatefulSet", Name: "miner-db", UID: string(sc.sts.UID)}
		if _, err := stopper.Stop(ctx, sts, actions.StopRequest{Reason: "r", At: at}); err != nil {
			t.Fatal(err)
		}
		s, err := cluster.Admin.AppsV1().StatefulSets(sc.ns).Get(ctx, "miner-db", metav1.GetOptions{})
		if err != nil || *s.Spec.Replicas != 0 || s.Annotations[actions.AnnotationReplicas] != "2" {
			t.Errorf("statefulset not scaled to zero: %v, err %v", s, err)
		}
	})

	t.Run("suspend a CronJob", func(t *testing.T) {
		undo, err := stopper.Stop(ctx, cronOwner, actions.StopRequest{Reason: "deleted 3 times in 24h", At: at})
		if err != nil {
			t.Fatal(err)
		}
		wantUndo := `kubectl -n owners patch cronjob/nightly -p '{"spec":{"suspend":false}}' && kubectl -n owners annotate cronjob/nightly ` +
			"miner-detector.io/stopped-by- miner-detector.io/stopped-at- miner-detector.io/reason- miner-detector.io/undo-"
		if undo != wantUndo {
			t.Errorf("undo =\n  %s\nwant\n  %s", undo, wantUndo)
		}
		c, err := cluster.Admin.BatchV1().CronJobs(sc.ns).Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil || c.Spec.Suspend == nil || !*c.Spec.Suspend || c.Annotations[actions.AnnotationUndo] != wantUndo {
			t.Errorf("cronjob not suspended and annotated: %v, err %v", c, err)
		}
	})

	t.Run("an owner recreated under the same name is not stopped", func(t *testing.T) {
		stale := deployOwner
		stale.UID = "00000000-0000-0000-0000-000000000000"
		if _, err := stopper.Stop(ctx, stale, actions.StopRequest{Reason: "r", At: at}); !errors.Is(err, actions.ErrOwnerReplaced) {
			t.Errorf("err %v, want ErrOwnerReplaced", err)
		}
	})

	t.Run("Events on owners", func(t *testing.T) {
		events := actions.KubeEvents{Client: kube}
		for _, o := range []actions.Owner{deployOwner, deployOwner, cronOwner} {
			if err := events.RecordOwner(ctx, o, actions.EventReasonRepeatOffender, "deleted 3 times in 24h: deleting again is futile"); err != nil {
				t.Fatal(err)
			}
		}
		if err := events.RecordOwner(ctx, deployOwner, actions.EventReasonOwnerStopped, "scaled to zero"); err != nil {
			t.Fatal(err)
		}
		evs, err := cluster.Admin.CoreV1().Events(sc.ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + actions.EventReasonRepeatOffender})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs.Items {
			got = append(got, fmt.Sprintf("%s/%s/%s uid=%v", ev.InvolvedObject.APIVersion, ev.InvolvedObject.Kind, ev.InvolvedObject.Name,
				string(ev.InvolvedObject.UID) == deployOwner.UID || string(ev.InvolvedObject.UID) == cronOwner.UID))
		}
		slices.Sort(got)
		if want := []string{"apps/v1/Deployment/miner uid=true", "batch/v1/CronJob/nightly uid=true"}; !slices.Equal(got, want) {
			t.Errorf("%s Events: %v, want %v", actions.EventReasonRepeatOffender, got, want)
		}
	})

	t.Run("can-i", func(t *testing.T) {
		// The owner kinds get get and patch, nothing more (no delete, no
		// create, no update).
		review, err := kube.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx,
			&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: sc.ns}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range review.Status.ResourceRules {
			for _, res := range r.Resources {
				switch res {
				case "deployments", "statefulsets", "replicasets", "jobs", "cronjobs":
					if v := slices.Sorted(slices.Values(r.Verbs)); !slices.Equal(v, []string{"get", "patch"}) {
						t.Errorf("%s: verbs %v, want [get patch]", res, v)
					}
				}
			}
		}
	})
}

// The stopOwners rules are no more than needed: with any one of them
// removed, the start-up check names what is missing, only what that rule
// grants, and stopping (or resolving) fails Forbidden.
func TestStopOwnersRBACIsMinimal(t *testing.T) {
	ctx := context.Background()
	cluster, _, rc := controlPlane(t)
	kube := serviceAccountClient(t, rc)
	objs := loadRBACFile(t, stopOwnersManifests)
	cfg := enforceConfig()
	cfg.Actions.Owners.StopOwners = true
	var ownerRules []ruleRef
	for _, r := range objs.rules() {
		if slices.Contains(r.rule.APIGroups, "apps") || slices.Contains(r.rule.APIGroups, "batch") {
			ownerRules = append(ownerRules, r)
		}
	}
	if len(ownerRules) != 4 {
		t.Fatalf("%d apps/batch rules in %s, want 4 (replicasets, jobs, deployments+statefulsets, cronjobs)", len(ownerRules), stopOwnersManifests)
	}
	for i, r := range ownerRules {
		t.Run(r.String(), func(t *testing.T) {
			objs.apply(ctx, t, cluster.Admin, &r)
			defer objs.apply(ctx, t, cluster.Admin, nil)
			missing := waitMissing(ctx, t, kube, requiredPermissions(cfg))
			if len(missing) == 0 {
				t.Fatalf("without %s the start-up check finds nothing missing: the rule is not needed", r)
			}
			for _, m := range missing {
				if !slices.Contains(r.rule.Resources, m.Resource) || !slices.Contains(r.rule.Verbs, m.Verb) {
					t.Errorf("without %s the check reports %s missing, which that rule does not grant", r, m)
				}
			}
			sc := newOwnerScenario(ctx, t, cluster.Admin, fmt.Sprintf("stop-minimal-%d", i))
			stopper := actions.KubeOwnerStopper{Client: kube}
			var o actions.Owner
			switch r.rule.Resources[0] {
			case "replicasets":
				o = actions.Owner{Namespace: sc.ns, APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "miner-7d9f"}
			case "jobs":
				o = actions.Owner{Namespace: sc.ns, APIVersion: "batch/v1", Kind: "Job", Name: "nightly-29000000"}
			case "deployments", "statefulsets":
				o = actions.Owner{Namespace: sc.ns, APIVersion: "apps/v1", Kind: "Deployment", Name: "miner"}
			case "cronjobs":
				o = actions.Owner{Namespace: sc.ns, APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly"}
			default:
				t.Fatalf("unexpected rule %s", r)
			}
			if _, err := stopper.Stop(ctx, o, actions.StopRequest{Reason: "r"}); !apierrors.IsForbidden(err) {
				t.Errorf("without %s, stopping %s: err %v, want Forbidden", r, o, err)
			}
		})
	}
}

// waitAllowed polls the permission check until RBAC changes grant all of
// perms (they reach the authorizer's cache within a second or so).
func waitAllowed(ctx context.Context, t *testing.T, kube kubernetes.Interface, perms []permission) {
	t.Helper()
	var missing []permission
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		if missing, err = missingPermissions(ctx, kube, perms); err != nil {
			t.Fatal(err)
		}
		if len(missing) == 0 {
			return
		}
	}
	t.Fatalf("the chart's stopOwners RBAC lacks: %v", missing)
}
