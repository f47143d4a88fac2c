package main

import (
	"slices"
	"testing"

	"github.com/miner-detector/miner-detector/internal/config"
)

// Owners are always resolved (get replicasets and jobs); stopping them needs
// get and patch on the owner kinds only in enforce mode with stopOwners,
// like deleting pods needs delete only in enforce mode.
func TestRequiredPermissionsForOwners(t *testing.T) {
	has := func(perms []permission, verb, group, resource string) bool {
		return slices.ContainsFunc(perms, func(p permission) bool {
			return p.Verb == verb && p.Group == group && p.Resource == resource
		})
	}
	stopPerms := [][3]string{
		{"get", "apps", "deployments"}, {"patch", "apps", "deployments"},
		{"get", "apps", "statefulsets"}, {"patch", "apps", "statefulsets"},
		{"patch", "apps", "replicasets"}, {"patch", "batch", "jobs"},
		{"get", "batch", "cronjobs"}, {"patch", "batch", "cronjobs"},
	}
	for _, tc := range []struct {
		name          string
		enforce, stop bool
		namespaces    []string
		wantStop      bool
		wantScopes    int
	}{
		{"dry-run", false, false, nil, false, 1},
		{"dry-run with stopOwners", false, true, nil, false, 1},
		{"enforce", true, false, nil, false, 1},
		{"enforce with stopOwners", true, true, nil, true, 1},
		{"enforce with stopOwners, two namespaces", true, true, []string{"a", "b"}, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Actions.Enforce = tc.enforce
			cfg.Actions.Owners.StopOwners = tc.stop
			cfg.Query.Namespaces = tc.namespaces
			perms := requiredPermissions(cfg)
			for _, want := range [][3]string{{"get", "apps", "replicasets"}, {"get", "batch", "jobs"}} {
				if !has(perms, want[0], want[1], want[2]) {
					t.Errorf("%s %s.%s not required: owners are always resolved", want[0], want[2], want[1])
				}
			}
			for _, p := range stopPerms {
				if has(perms, p[0], p[1], p[2]) != tc.wantStop {
					t.Errorf("%s %s.%s required: %v, want %v", p[0], p[2], p[1], !tc.wantStop, tc.wantStop)
				}
			}
			n := 0
			for _, p := range perms {
				if p.Verb == "patch" && p.Resource == "deployments" {
					n++
				}
			}
			if tc.wantStop && n != tc.wantScopes {
				t.Errorf("patch deployments required in %d scopes, want %d", n, tc.wantScopes)
			}
		})
	}
}
