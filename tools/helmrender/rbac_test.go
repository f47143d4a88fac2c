package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// grant is one resource's verbs in one scope ("cluster" or a namespace).
type grant struct{ scope, resource string }

// grants collects every rule of every (Cluster)Role, checking on the way
// that no rule has a wildcard, secrets or pods/exec.
func grants(t *testing.T, objs []object) map[grant][]string {
	t.Helper()
	got := map[grant][]string{}
	add := func(scope, role string, rules []rbacv1.PolicyRule) {
		for _, r := range rules {
			if slices.Contains(r.Verbs, "*") || slices.Contains(r.APIGroups, "*") || slices.Contains(r.Resources, "*") {
				t.Errorf("%s: wildcard in rule %+v", role, r)
			}
			if len(r.NonResourceURLs) > 0 {
				t.Errorf("%s: non-resource URLs %v", role, r.NonResourceURLs)
			}
			for _, res := range r.Resources {
				if res == "secrets" || strings.Contains(res, "/") {
					t.Errorf("%s: grants %s", role, res)
				}
				group := strings.Join(r.APIGroups, ",")
				key := grant{scope, res}
				if group != "" {
					key.resource = res + "." + group
				}
				got[key] = append(got[key], r.Verbs...)
			}
		}
	}
	for _, r := range ofKind[*rbacv1.ClusterRole](objs) {
		add("cluster", "ClusterRole "+r.Name, r.Rules)
	}
	for _, r := range ofKind[*rbacv1.Role](objs) {
		add(r.Namespace, "Role "+r.Namespace+"/"+r.Name, r.Rules)
	}
	for k, v := range got {
		got[k] = slices.Sorted(slices.Values(v))
	}
	return got
}

func checkGrants(t *testing.T, got, want map[grant][]string) {
	t.Helper()
	for k, verbs := range want {
		if !slices.Equal(got[k], verbs) {
			t.Errorf("%s in %s: verbs %v, want %v", k.resource, k.scope, got[k], verbs)
		}
	}
	for k, verbs := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected grant: %s %v in %s", k.resource, verbs, k.scope)
		}
	}
}

// Bindings must bind the detector's ServiceAccount, and nothing else.
func checkBindings(t *testing.T, objs []object, wantRoleBindings, wantClusterRoleBindings int) {
	t.Helper()
	sa := rbacv1.Subject{Kind: "ServiceAccount", Name: "miner-detector", Namespace: DefaultNamespace}
	rbs := ofKind[*rbacv1.RoleBinding](objs)
	crbs := ofKind[*rbacv1.ClusterRoleBinding](objs)
	if len(rbs) != wantRoleBindings || len(crbs) != wantClusterRoleBindings {
		t.Errorf("%d RoleBindings and %d ClusterRoleBindings, want %d and %d", len(rbs), len(crbs), wantRoleBindings, wantClusterRoleBindings)
	}
	for _, b := range rbs {
		if !slices.Equal(b.Subjects, []rbacv1.Subject{sa}) || b.RoleRef.Kind != "Role" {
			t.Errorf("RoleBinding %s/%s binds %+v to %+v", b.Namespace, b.Name, b.Subjects, b.RoleRef)
		}
	}
	for _, b := range crbs {
		if !slices.Equal(b.Subjects, []rbacv1.Subject{sa}) || b.RoleRef.Kind != "ClusterRole" {
			t.Errorf("ClusterRoleBinding %s binds %+v to %+v", b.Name, b.Subjects, b.RoleRef)
		}
	}
}

// By default the detector watches the whole cluster: pods and events through
// a ClusterRole, its state and Lease in its own namespace.
func TestRBACClusterWide(t *testing.T) {
	objs := render(t)
	checkGrants(t, grants(t, objs), map[grant][]string{
		{"cluster", "pods"}:                              {"delete", "get", "list", "watch"},
		{"cluster", "events"}:                            {"create", "patch"},
		{"cluster", "replicasets.apps"}:                  {"get"},
		{"cluster", "jobs.batch"}:                        {"get"},
		{DefaultNamespace, "configmaps"}:                 {"create", "get", "update"},
		{DefaultNamespace, "leases.coordination.k8s.io"}: {"create", "get", "update"},
	})
	checkBindings(t, objs, 1, 1)
}

// With config.actions.owners.stopOwners, and only then, the detector may
// read and patch the owners it stops: deployments, statefulsets,
// replicasets, jobs and cronjobs, wherever it watches.
func TestRBACStopOwners(t *testing.T) {
	stop := map[string][]string{
		"deployments.apps": {"get", "patch"}, "statefulsets.apps": {"get", "patch"}, "replicasets.apps": {"get", "patch"},
		"jobs.batch": {"get", "patch"}, "cronjobs.batch": {"get", "patch"},
	}
	t.Run("cluster-wide", func(t *testing.T) {
		want := map[grant][]string{
			{"cluster", "pods"}:                              {"delete", "get", "list", "watch"},
			{"cluster", "events"}:                            {"create", "patch"},
			{DefaultNamespace, "configmaps"}:                 {"create", "get", "update"},
			{DefaultNamespace, "leases.coordination.k8s.io"}: {"create", "get", "update"},
		}
		for res, verbs := range stop {
			want[grant{"cluster", res}] = verbs
		}
		checkGrants(t, grants(t, render(t, "config.actions.owners.stopOwners=true")), want)
	})
	t.Run("watchNamespaces", func(t *testing.T) {
		want := map[grant][]string{
			{DefaultNamespace, "configmaps"}:                 {"create", "get", "update"},
			{DefaultNamespace, "leases.coordination.k8s.io"}: {"create", "get", "update"},
			{"default", "events"}:                            {"create", "patch"},
		}
		for _, ns := range []string{"a", "b"} {
			want[grant{ns, "pods"}] = []string{"delete", "get", "list", "watch"}
			want[grant{ns, "events"}] = []string{"create", "patch"}
			for res, verbs := range stop {
				want[grant{ns, res}] = verbs
			}
		}
		checkGrants(t, grants(t, render(t, "config.actions.owners.stopOwners=true", "watchNamespaces={a,b}")), want)
	})
	t.Run("off", func(t *testing.T) {
		for k, verbs := range grants(t, render(t, "config.actions.owners.stopOwners=false", "watchNamespaces={a}")) {
			if slices.Contains(verbs, "patch") && k.resource != "events" {
				t.Errorf("patch on %s in %s without stopOwners", k.resource, k.scope)
			}
		}
	})
}

// With watchNamespaces, pods and events are granted per namespace by Roles,
// and there is no ClusterRole at all; events in "default" too, where the
// Events on Nodes (busy GPUs without a pod) go.
func TestRBACWatchNamespaces(t *testing.T) {
	objs := render(t, "watchNamespaces={a,b}")
	if n := kinds(objs)["ClusterRole"] + kinds(objs)["ClusterRoleBinding"]; n != 0 {
		t.Errorf("%d cluster-scoped RBAC objects with watchNamespaces set", n)
	}
	want := map[grant][]string{
		{DefaultNamespace, "configmaps"}:                 {"create", "get", "update"},
		{DefaultNamespace, "leases.coordination.k8s.io"}: {"create", "get", "update"},
	}
	for _, ns := range []string{"a", "b"} {
		want[grant{ns, "pods"}] = []string{"delete", "get", "list", "watch"}
		want[grant{ns, "events"}] = []string{"create", "patch"}
		want[grant{ns, "replicasets.apps"}] = []string{"get"}
		want[grant{ns, "jobs.batch"}] = []string{"get"}
	}
	want[grant{"default", "events"}] = []string{"create", "patch"}
	checkGrants(t, grants(t, objs), want)
	checkBindings(t, objs, 4, 0)

	// The detector's query is limited to the same namespaces.
	cfg := loadRenderedConfig(t, objs)
	if !slices.Equal(cfg.Query.Namespaces, []string{"a", "b"}) {
		t.Errorf("config query.namespaces %v, want [a b]", cfg.Query.Namespaces)
	}
}

// One replica without leader election: no Lease permission.
func TestRBACWithoutLeaderElection(t *testing.T) {
	got := grants(t, render(t, "replicaCount=1"))
	for k := range got {
		if strings.HasPrefix(k.resource, "leases") {
			t.Errorf("lease permission without leader election: %v", k)
		}
	}
}

// Every rendered RBAC rule, whatever the values, has no wildcard, no
// secrets, no subresource.
func TestRBACNoDangerousRules(t *testing.T) {
	for _, set := range [][]string{nil, {"watchNamespaces={a,b,miner-detector}"}, {"replicaCount=1"}, {"leaderElection.enabled=true", "replicaCount=1"},
		{"config.actions.owners.stopOwners=true"}, {"config.actions.owners.stopOwners=true", "watchNamespaces={a,b}"}} {
		t.Run(fmt.Sprint(set), func(t *testing.T) {
			got := grants(t, render(t, set...)) // grants fails the test on a bad rule
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k.scope+":"+k.resource)
			}
			sort.Strings(keys)
			t.Log(keys)
		})
	}
}
