package actions

import (
	"cmp"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

var _ OwnerEventRecorder = KubeEvents{}

// RecordOwner writes a Warning Event on the owner object (a Deployment,
// CronJob, custom controller, or the pod itself), where `kubectl describe`
// on the owner shows it: one Event per owner (by kind and UID) and reason,
// created once, then its time and message patched in place like the pod
// Events. Escalation is recorded once per owner and escalation, so the
// count stays 1. It needs create and patch on events in the owner's
// namespace, as for the pod Events.
func (k KubeEvents) RecordOwner(ctx context.Context, o Owner, reason, message string) error {
	ref := corev1.ObjectReference{
		Kind: o.Kind, APIVersion: cmp.Or(o.APIVersion, ownerAPIVersion(o.Kind)),
		Namespace: o.Namespace, Name: o.Name, UID: types.UID(o.UID),
	}
	name := eventName(o.Name, types.UID(o.Kind+"/"+o.UID), reason)
	if err := k.upsert(ctx, o.Namespace, name, ref, reason, truncateMessage(message), "", 1); err != nil {
		return fmt.Errorf("record event %s on %s in namespace %s: %w", reason, o, o.Namespace, err)
	}
	return nil
}

// ownerAPIVersion is the apiVersion of the built-in owner kinds, for an
// Owner read back from its key (which does not keep it).
func ownerAPIVersion(kind string) string {
	switch kind {
	case "Pod":
		return "v1"
	case "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet":
		return "apps/v1"
	case "Job", "CronJob":
		return "batch/v1"
	}
	return ""
}
