// Package deploy holds what users install: the Helm chart in
// helm/miner-detector and its render, the plain manifests in
// manifests/miner-detector.yaml. These tests check the plain manifests
// against what the detector needs; tools/helmrender's tests lint the chart
// and keep the plain manifests equal to its render.
package deploy

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/miner-detector/miner-detector/internal/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

const (
	manifests = "manifests/miner-detector.yaml"
	namespace = "miner-detector"
)

// loadManifests decodes the plain manifests, skipping the header comment and
// the kinds client-go does not know (ServiceMonitor, PrometheusRule).
func loadManifests(t *testing.T) []runtime.Object {
	t.Helper()
	raw, err := os.ReadFile(manifests)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for i, doc := range bytes.Split(raw, []byte("\n---\n")) {
		if !hasContent(doc) {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if runtime.IsNotRegisteredError(err) {
			continue
		}
		if err != nil {
			t.Fatalf("%s document %d: %v", manifests, i, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

// hasContent reports whether a YAML document has more than comments.
func hasContent(doc []byte) bool {
	for line := range strings.Lines(string(doc)) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

func find[T runtime.Object](objs []runtime.Object) []T {
	var out []T
	for _, o := range objs {
		if x, ok := o.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// The RBAC grants exactly what the detector calls: pods get/list/watch/delete,
// events create/patch, replicasets and jobs get (to resolve a pod's owner)
// cluster-wide (nothing to stop owners: stopOwners is off); its state ConfigMap and its
// leader-election Lease get/create/update in its own namespace. No wildcard,
// no secrets, no pods/exec, and everything bound to its ServiceAccount only.
func TestRBACIsLeastPrivilege(t *testing.T) {
	objs := loadManifests(t)
	want := map[string][]string{
		"cluster-wide pods":                       {"delete", "get", "list", "watch"},
		"cluster-wide events":                     {"create", "patch"},
		"cluster-wide replicasets.apps":           {"get"},
		"cluster-wide jobs.batch":                 {"get"},
		namespace + " configmaps":                 {"create", "get", "update"},
		namespace + " leases.coordination.k8s.io": {"create", "get", "update"},
	}
	got := map[string][]string{}
	add := func(scope string, rules []rbacv1.PolicyRule) {
		for _, r := range rules {
			if slices.Contains(r.Verbs, "*") || slices.Contains(r.APIGroups, "*") || slices.Contains(r.Resources, "*") {
				t.Errorf("wildcard in rule %+v", r)
			}
			if len(r.NonResourceURLs) > 0 {
				t.Errorf("non-resource URLs in rule %+v", r)
			}
			for _, res := range r.Resources {
				if res == "secrets" || strings.Contains(res, "/") {
					t.Errorf("rule grants %s", res)
				}
				for _, group := range r.APIGroups {
					key := scope + " " + res
					if group != "" {
						key += "." + group
					}
					got[key] = append(got[key], r.Verbs...)
				}
			}
		}
	}
	for _, r := range find[*rbacv1.ClusterRole](objs) {
		add("cluster-wide", r.Rules)
	}
	for _, r := range find[*rbacv1.Role](objs) {
		add(r.Namespace, r.Rules)
	}
	for key, verbs := range got {
		g := slices.Sorted(slices.Values(verbs))
		if !slices.Equal(g, want[key]) {
			t.Errorf("%s: verbs %v, want %v", key, g, want[key])
		}
	}
	for key := range want {
		if _, ok := got[key]; !ok {
			t.Errorf("%s: not granted", key)
		}
	}
	sa := rbacv1.Subject{Kind: "ServiceAccount", Name: "miner-detector", Namespace: namespace}
	for _, b := range find[*rbacv1.ClusterRoleBinding](objs) {
		if !slices.Equal(b.Subjects, []rbacv1.Subject{sa}) {
			t.Errorf("ClusterRoleBinding %s subjects %+v", b.Name, b.Subjects)
		}
	}
	for _, b := range find[*rbacv1.RoleBinding](objs) {
		if !slices.Equal(b.Subjects, []rbacv1.Subject{sa}) || b.Namespace != namespace {
			t.Errorf("RoleBinding %s/%s subjects %+v", b.Namespace, b.Name, b.Subjects)
		}
	}
}

// The Deployment runs two hardened replicas with leader election, the config
// the ConfigMap carries, and that config passes the detector's own loader
// and validation in dry-run.
func TestDeploymentAndConfig(t *testing.T) {
	objs := loadManifests(t)
	deps := find[*appsv1.Deployment](objs)
	if len(deps) != 1 {
		t.Fatalf("%d Deployments", len(deps))
	}
	d := deps[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2 (leader election keeps one acting)", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	for _, problem := range hardeningProblems(pod) {
		t.Error(problem)
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"run", "--config=/etc/miner-detector/config.yaml"}) {
		t.Errorf("args %v", c.Args)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if e.Value != "" && strings.Contains(strings.ToLower(e.Name), "token") {
			t.Errorf("secret %s in plain env", e.Name)
		}
	}
	for name, path := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"} {
		if e := env[name]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != path {
			t.Errorf("%s not from the downward API (%s): leader election and state need it", name, path)
		}
	}
	if e := env["SLACK_BOT_TOKEN"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("SLACK_BOT_TOKEN not from a Secret: %+v", e)
	}

	var raw string
	for _, cm := range find[*corev1.ConfigMap](objs) {
		if cm.Name == "miner-detector-config" {
			raw = cm.Data["config.yaml"]
		}
	}
	if raw == "" {
		t.Fatal("no ConfigMap miner-detector-config with config.yaml")
	}
	cfg := config.Default()
	if err := config.Parse([]byte(raw), &cfg); err != nil {
		t.Fatalf("shipped config: %v", err)
	}
	podEnv := map[string]string{"POD_NAMESPACE": namespace, "POD_NAME": "miner-detector-0"}
	if err := cfg.ResolveSecrets(func(k string) string { return podEnv[k] }); err != nil {
		t.Fatalf("shipped config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("shipped config invalid: %v", err)
	}
	if cfg.Actions.Enforce {
		t.Error("shipped config enforces: dry-run must be the default")
	}
	if !cfg.LeaderElection.Enabled || cfg.LeaderElection.LeaseName != "miner-detector" {
		t.Errorf("leader election %+v: two replicas need it", cfg.LeaderElection)
	}
	if cfg.State.ConfigMap != "miner-detector-state" {
		t.Errorf("state ConfigMap %q", cfg.State.ConfigMap)
	}
}

// hardeningProblems lists what the pod spec lacks of the hardening.
func hardeningProblems(pod corev1.PodSpec) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		bad("automountServiceAccountToken must be true: the detector calls the API")
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.RunAsGroup == nil || *psc.RunAsGroup != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		bad("pod security context not hardened: %+v", psc)
	}
	if len(pod.Containers) != 1 {
		bad("%d containers, want 1", len(pod.Containers))
		return out
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil ||
		!*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		bad("container security context not hardened: %+v", sc)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		bad("resources not set: %+v", c.Resources)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
		c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		bad("probes not /healthz and /readyz")
	}
	var tmp bool
	for _, m := range c.VolumeMounts {
		tmp = tmp || m.MountPath == "/tmp"
	}
	if !tmp {
		bad("no writable /tmp on the read-only root filesystem")
	}
	return out
}
