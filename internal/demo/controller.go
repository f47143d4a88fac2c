package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/miner-detector/miner-detector/internal/fleet"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// The repeat offender: a miner behind a Deployment on the node that exports
// every math pipe. Its ReplicaSet recreates each pod the detector deletes;
// the demo plays that controller (replicaSet.reconcile), since the fake
// clientset runs none.
const (
	offenderNamespace  = "team-f"
	offenderDeployment = "hash-relay"
	offenderReplicaSet = "hash-relay-6c8f9d7b5"
	offenderGPU        = "5"
	// recreateAfter is how long the controller takes to start a replacement.
	recreateAfter = 15 * time.Second
)

// offenderSuffixes name its pods, in the order the controller creates them.
var offenderSuffixes = []string{"x7k2p", "m4q9z", "t2w8r", "c5n3v", "j9d6h", "w3b7k", "p8f2d", "q6z4s"}

// defaultOffenderNode exports every math pipe: the offender's pods are
// deleted on strong evidence.
const defaultOffenderNode = "gpu-node-5"

// offenderPod is the Deployment's n-th pod on node, started at start (zero:
// a day before the window, like the rest of the fleet).
func offenderPod(n int, node string, start time.Time) fleet.Pod {
	return fleet.Pod{
		Namespace: offenderNamespace, Name: offenderReplicaSet + "-" + offenderSuffixes[n], Container: "relay",
		Node: node, Profile: fleet.SteadyMiner(), GPUs: []fleet.GPUSpec{fleet.GPU(node, offenderGPU)},
		Start: start, ExpectMiner: true,
		Scenario: "miner behind Deployment hash-relay: each pod deleted comes back; the replacement is judged on its owner's window and deleted at the next cycle, then the owner is escalated and scaled to zero",
	}
}

// offenderOwners are the Deployment and its ReplicaSet as the API server
// holds them.
func offenderOwners() []runtime.Object {
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: offenderNamespace, Name: offenderDeployment, UID: "uid-deploy-hash-relay"},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)},
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: offenderNamespace, Name: offenderReplicaSet, UID: "uid-rs-hash-relay",
			OwnerReferences: []metav1.OwnerReference{controllerRef("apps/v1", "Deployment", offenderDeployment, dep.UID)}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1)},
	}
	return []runtime.Object{dep, rs}
}

func controllerRef(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr.To(true)}
}

// ownedBy sets the pod's controller when it is one of the offender's.
func ownedBy(pod *corev1.Pod) {
	if pod.Namespace == offenderNamespace {
		pod.OwnerReferences = []metav1.OwnerReference{controllerRef("apps/v1", "ReplicaSet", offenderReplicaSet, "uid-rs-hash-relay")}
	}
}

// replicaSet plays the offender's controllers: a Deployment scaled to zero
// has its pod removed; otherwise a deleted pod is replaced by a new one.
type replicaSet struct {
	created int    // pods created so far, the first included
	node    string // where its pods run
}

// reconcile runs after a cycle at `at`; it returns the pod it created, if
// any, for the fleet to simulate from then on.
func (r *replicaSet) reconcile(ctx context.Context, kube kubernetes.Interface, at time.Time) (*fleet.Pod, error) {
	dep, err := kube.AppsV1().Deployments(offenderNamespace).Get(ctx, offenderDeployment, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("demo controller: get deployment: %w", err)
	}
	pods, err := kube.CoreV1().Pods(offenderNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("demo controller: list pods: %w", err)
	}
	if dep.Spec.Replicas != nil && *dep.Spec.Replicas == 0 {
		for _, p := range pods.Items {
			if err := kube.CoreV1().Pods(offenderNamespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("demo controller: scale down: %w", err)
			}
		}
		return nil, nil
	}
	if len(pods.Items) > 0 || r.created >= len(offenderSuffixes) {
		return nil, nil
	}
	p := offenderPod(r.created, r.node, at.Add(recreateAfter))
	r.created++
	obj := podObject(p, p.Start)
	if _, err := kube.CoreV1().Pods(offenderNamespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("demo controller: create replacement: %w", err)
	}
	return &p, nil
}
