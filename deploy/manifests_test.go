// Package deploy holds the manifests users install; its tests check them
// against what the detector needs.
package deploy

import (
	"bytes"
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

func loadManifests(t *testing.T) []runtime.Object {
	t.Helper()
	raw, err := os.ReadFile("manifests/miner-detector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for i, doc := range bytes.Split(raw, []byte("\n---\n")) {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		objs = append(objs, obj)
	}
	return objs
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
// events create/get/update, its state ConfigMap get/create/update in its
// own namespace. No wildcard, no secrets, no pods/exec.
func TestRBACIsLeastPrivilege(t *testing.T) {
	objs := loadManifests(t)
	want := map[string][]string{
		"pods":       {"delete", "get", "list", "watch"},
		"events":     {"create", "get", "update"},
		"configmaps": {"create", "get", "update"},
	}
	got := map[string][]string{}
	var rules []rbacv1.PolicyRule
	for _, r := range find[*rbacv1.ClusterRole](objs) {
		rules = append(rules, r.Rules...)
	}
	roles := find[*rbacv1.Role](objs)
	for _, r := range roles {
		rules = append(rules, r.Rules...)
	}
	for _, r := range rules {
		for _, res := range r.Resources {
			if res == "*" || slices.Contains(r.Verbs, "*") || slices.Contains(r.APIGroups, "*") {
				t.Fatalf("wildcard in rule %+v", r)
			}
			if res == "secrets" || strings.Contains(res, "/exec") {
				t.Fatalf("rule grants %s", res)
			}
			got[res] = append(got[res], r.Verbs...)
		}
	}
	for res, verbs := range want {
		g := slices.Sorted(slices.Values(got[res]))
		if !slices.Equal(g, verbs) {
			t.Errorf("%s: verbs %v, want %v", res, g, verbs)
		}
	}
	if len(got) != len(want) {
		t.Errorf("resources %v, want exactly %v", got, want)
	}
	if len(roles) != 1 || roles[0].Rules[0].Resources[0] != "configmaps" {
		t.Errorf("configmaps must be granted by a namespaced Role only")
	}
}

// The Deployment is hardened and runs the config the ConfigMap carries, and
// that config passes the detector's own validation.
func TestDeploymentAndConfig(t *testing.T) {
	objs := loadManifests(t)
	deps := find[*appsv1.Deployment](objs)
	if len(deps) != 1 {
		t.Fatalf("%d Deployments", len(deps))
	}
	d := deps[0]
	if *d.Spec.Replicas != 1 {
		t.Errorf("replicas %d: without leader election only one replica may act", *d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context not hardened: %+v", pod.SecurityContext)
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil ||
		!*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context not hardened: %+v", sc)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources not set: %+v", c.Resources)
	}
	if !slices.Contains(c.Args, "run") || !slices.Contains(c.Args, "--config=/etc/miner-detector/config.yaml") {
		t.Errorf("args %v", c.Args)
	}
	var ns bool
	for _, e := range c.Env {
		ns = ns || (e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace")
		if e.Value != "" && strings.Contains(strings.ToLower(e.Name), "token") {
			t.Errorf("secret %s in plain env", e.Name)
		}
	}
	if !ns {
		t.Error("POD_NAMESPACE not from the downward API: state would not persist")
	}
	cms := find[*corev1.ConfigMap](objs)
	if len(cms) != 1 {
		t.Fatalf("%d ConfigMaps", len(cms))
	}
	cfg := config.Default()
	if err := config.Parse([]byte(cms[0].Data["config.yaml"]), &cfg); err != nil {
		t.Fatalf("shipped config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("shipped config invalid: %v", err)
	}
	if cfg.Actions.Enforce {
		t.Error("shipped config enforces: dry-run must be the default")
	}
}
