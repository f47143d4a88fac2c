package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/miner-detector/miner-detector/internal/config"
)

// permission is one thing the detector does in the cluster, and why.
type permission struct {
	Verb, Group, Resource string
	Namespace             string // "" means cluster-wide
	Why                   string
}

func (p permission) String() string {
	res := p.Resource
	if p.Group != "" {
		res += "." + p.Group
	}
	where := "cluster-wide"
	if p.Namespace != "" {
		where = "in namespace " + p.Namespace
	}
	return fmt.Sprintf("%s %s %s (%s)", p.Verb, res, where, p.Why)
}

// requiredPermissions is what the configuration needs, and nothing more:
// the chart's RBAC grants these (see deploy/helm/miner-detector).
func requiredPermissions(cfg config.Config) []permission {
	scopes := cfg.Query.Namespaces
	if len(scopes) == 0 {
		scopes = []string{""}
	}
	var out []permission
	for _, ns := range scopes {
		out = append(out,
			permission{"get", "", "pods", ns, "check a pod before recording or deleting"},
			permission{"create", "", "events", ns, "record findings as Events"},
			permission{"patch", "", "events", ns, "update a standing finding's Event"},
			permission{"get", "apps", "replicasets", ns, "resolve a miner pod's owner (a Deployment through its ReplicaSet)"},
			permission{"get", "batch", "jobs", ns, "resolve a miner pod's owner (a CronJob through its Job)"},
		)
		if cfg.Actions.Enforce {
			out = append(out, permission{"delete", "", "pods", ns, "delete miner pods (enforce)"})
		}
		if cfg.Actions.Enforce && cfg.Actions.Owners.StopOwners {
			out = append(out, stopOwnerPermissions(ns)...)
		}
	}
	if len(cfg.Query.Namespaces) > 0 && !slices.Contains(cfg.Query.Namespaces, metav1.NamespaceDefault) {
		for _, verb := range []string{"create", "patch"} {
			out = append(out, permission{verb, "", "events", metav1.NamespaceDefault, "record busy GPUs without a pod on their Node"})
		}
	}
	if cfg.State.Namespace != "" && cfg.State.ConfigMap != "" {
		for _, verb := range []string{"get", "create", "update"} {
			out = append(out, permission{verb, "", "configmaps", cfg.State.Namespace, "keep restart-safe state in ConfigMap " + cfg.State.ConfigMap})
		}
	}
	if le := cfg.LeaderElection; le.Enabled {
		for _, verb := range []string{"get", "create", "update"} {
			out = append(out, permission{verb, "coordination.k8s.io", "leases", le.Namespace, "leader election on Lease " + le.LeaseName})
		}
	}
	return out
}

// stopOwnerPermissions is what stopping an escalated owner needs
// (actions.owners.stopOwners, enforce only): read it, then scale it to zero
// or suspend it with one patch. get on replicasets and jobs is already
// required to resolve owners.
func stopOwnerPermissions(ns string) []permission {
	const why = "stop an escalated owner: scale it to zero or suspend it (actions.owners.stopOwners)"
	return []permission{
		{"get", "apps", "deployments", ns, why},
		{"patch", "apps", "deployments", ns, why},
		{"get", "apps", "statefulsets", ns, why},
		{"patch", "apps", "statefulsets", ns, why},
		{"patch", "apps", "replicasets", ns, why},
		{"patch", "batch", "jobs", ns, why},
		{"get", "batch", "cronjobs", ns, why},
		{"patch", "batch", "cronjobs", ns, why},
	}
}

// missingPermissions asks the API server (SelfSubjectAccessReview, which
// every authenticated identity may create) which of perms this identity
// lacks.
func missingPermissions(ctx context.Context, kube kubernetes.Interface, perms []permission) ([]permission, error) {
	var missing []permission
	for _, p := range perms {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: p.Namespace, Verb: p.Verb, Group: p.Group, Resource: p.Resource,
			},
		}}
		res, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("check permission %s: %w", p, err)
		}
		if !res.Status.Allowed {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// permissionError lists the permissions the detector lacks.
type permissionError struct{ missing []permission }

func (e *permissionError) Error() string {
	lines := make([]string, len(e.missing))
	for i, p := range e.missing {
		lines[i] = "  - " + p.String()
	}
	return "the service account lacks permissions the configuration needs (see the chart's RBAC):\n" + strings.Join(lines, "\n")
}
