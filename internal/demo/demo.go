// Package demo runs the whole pipeline on an embedded default: the real
// PromQL engine and TSDB in-process holding a simulated GPU fleet, an
// in-memory cluster (client-go's fake clientset) holding its pods, and a
// local Slack stand-in (slack-go's slacktest). Nothing leaves the process but
// loopback HTTP to the Slack stand-in; nothing is left behind.
package demo

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/miner-detector/miner-detector/internal/slackrecorder"
	"github.com/prometheus/common/model"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

// Options shape a demo run.
type Options struct {
	// End is when the first cycle's window ends; later cycles follow every
	// Every. Zero: 2026-01-05T12:00:00Z, so every run prints the same.
	End    time.Time
	Cycles int           // default 6
	Every  time.Duration // default 5m, the schedule's period
	Window time.Duration // default 1h
	Out    io.Writer
	Log    *slog.Logger
	// Configure, when set, changes the demo's configuration before it is
	// validated (tests compare settings with it).
	Configure func(*config.Config)
	// Metrics, when set, receives the detector's own metrics (the
	// dashboards' fixture gathers them); default a registry of its own.
	Metrics *metrics.Metrics
	// OffenderNode is where the repeat offender's pods run; default
	// gpu-node-5 (every math pipe exported), gpu-node-1 exports the GPU
	// Operator's counters.
	OffenderNode string
}

// Outcome is what the demo saw, for its summary and its tests.
type Outcome struct {
	Results  []cycle.Result
	Deleted  []string // namespace/pod deleted by enforcement
	Events   []corev1.Event
	Slack    []slackrecorder.Post // messages the Slack stand-in received
	Fleet    []fleet.Pod
	Remained []string // pods still in the cluster at the end
	// Offender is the repeat offender's Deployment at the end.
	Offender *appsv1.Deployment
}

const detectorNamespace = "miner-detector"

// Run runs the demo.
func Run(ctx context.Context, o Options) (Outcome, error) {
	if o.End.IsZero() {
		o.End = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	}
	o.Cycles, o.Every, o.Window = cmp.Or(o.Cycles, 6), cmp.Or(o.Every, 5*time.Minute), cmp.Or(o.Window, time.Hour)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.OffenderNode = cmp.Or(o.OffenderNode, defaultOffenderNode)
	out := Outcome{Fleet: append(fleet.DemoFleet(o.End), offenderPod(0, o.OffenderNode, time.Time{}), forgerPod())}
	controller := &replicaSet{created: 1, node: o.OffenderNode}

	prom, err := embedded.OpenTemp()
	if err != nil {
		return out, fmt.Errorf("open embedded prometheus: %w", err)
	}
	defer prom.Close()
	kube := fake.NewClientset(append(clusterObjects(out.Fleet, o.End), offenderOwners()...)...)
	slackSrv := slackrecorder.Start()
	defer slackSrv.Stop()

	cfg := config.Default()
	cfg.Prometheus.URL = "http://embedded.invalid" // unused: the embedded engine is passed in
	cfg.Window = config.Duration(o.Window)
	cfg.Actions.Enforce = true
	cfg.Actions.Owners.StopOwners = true
	cfg.Slack.Channel, cfg.Slack.Token, cfg.Slack.APIURL = "#gpu-abuse", "xoxb-demo", slackSrv.GetAPIURL()
	cfg.State = config.State{ConfigMap: "miner-detector-state", Namespace: detectorNamespace}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return out, fmt.Errorf("demo config: %w", err)
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	cyc, err := cycle.New(cfg, cycle.Deps{API: prom, Kube: kube, Metrics: o.Metrics, Log: o.Log})
	if err != nil {
		return out, err
	}

	fmt.Fprintf(o.Out, "Miner Detector demo: %d pods on %d GPUs, %d cycles %s apart, window %s, enforce mode.\n",
		countPods(out.Fleet), countGPUs(out.Fleet), o.Cycles, model.Duration(o.Every), model.Duration(o.Window))
	fmt.Fprintln(o.Out, "Fleet (simulated dcgm-exporter, scraped every 15s):")
	for _, node := range nodes(out.Fleet) {
		set := fleet.DemoCounters(node)
		fmt.Fprintf(o.Out, "  %s exports %s: %s\n", node, set.Name, set.Source)
	}
	for _, p := range out.Fleet {
		fmt.Fprintf(o.Out, "  %-45s %s\n", p.Key(), p.Scenario)
	}

	// History before the first window, then each cycle's new samples from
	// the pods that still exist: a deleted pod stops reporting.
	loaded := o.End.Add(-o.Window - time.Hour)
	for i := range o.Cycles {
		at := o.End.Add(time.Duration(i) * o.Every)
		if err := appendSamples(ctx, prom, kube, out.Fleet, loaded, at); err != nil {
			return out, err
		}
		loaded = at
		fmt.Fprintf(o.Out, "\n=== cycle %d of %d ===\n", i+1, o.Cycles)
		res, err := cyc.Run(ctx, at)
		if err != nil {
			return out, fmt.Errorf("cycle %d: %w", i+1, err)
		}
		out.Results = append(out.Results, res)
		if err := res.WriteTable(o.Out, cycle.View{AllPods: true}); err != nil {
			return out, err
		}
		for _, oc := range res.Outcomes {
			if oc.Kind == actions.StepDelete && oc.Result == actions.ResultOK {
				out.Deleted = append(out.Deleted, oc.Pod.String())
			}
		}
		replacement, err := controller.reconcile(ctx, kube, at)
		if err != nil {
			return out, err
		}
		if replacement != nil {
			fmt.Fprintf(o.Out, "(deployment %s/%s recreates its pod: %s, started %s)\n", offenderNamespace, offenderDeployment,
				replacement.Name, replacement.Start.UTC().Format(time.RFC3339))
			out.Fleet = append(out.Fleet, *replacement)
		}
	}

	events, err := kube.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return out, fmt.Errorf("list events: %w", err)
	}
	out.Events = events.Items
	out.Slack = slackSrv.Posts()
	pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return out, fmt.Errorf("list pods: %w", err)
	}
	for _, p := range pods.Items {
		out.Remained = append(out.Remained, p.Namespace+"/"+p.Name)
	}
	if out.Offender, err = kube.AppsV1().Deployments(offenderNamespace).Get(ctx, offenderDeployment, metav1.GetOptions{}); err != nil {
		return out, fmt.Errorf("get deployment %s: %w", offenderDeployment, err)
	}
	printSummary(o.Out, out)
	return out, nil
}

func printSummary(w io.Writer, out Outcome) {
	last := out.Results[len(out.Results)-1].Report
	verdicts := map[string]analyzer.Verdict{}
	for _, r := range out.Results {
		for _, p := range r.Report.Pods {
			if verdicts[p.PodKey.String()] != analyzer.Miner {
				verdicts[p.PodKey.String()] = p.Verdict
			}
		}
	}
	fmt.Fprintln(w, "\n=== summary ===")
	fmt.Fprintf(w, "deleted (miners, 2 strikes, enforce): %s\n", join(out.Deleted))
	var spared, kept, forgers []string
	for _, p := range out.Fleet {
		if p.Forges != nil {
			forgers = append(forgers, fmt.Sprintf("%s, claiming %s's GPU (which stayed %s)", p.Key(), p.Forges.Key(), verdicts[p.Forges.Key()]))
		}
		if p.Name == "" || len(p.GPUs) == 0 || slices.Contains(out.Deleted, p.Key()) {
			continue
		}
		if verdicts[p.Key()] == analyzer.Miner {
			kept = append(kept, p.Key())
		} else {
			spared = append(spared, fmt.Sprintf("%s (%s)", p.Key(), verdicts[p.Key()]))
		}
	}
	fmt.Fprintf(w, "judged miner but not deleted (protected, shared GPU, partial or utilization-only evidence, repeat offender stopped instead): %s\n", join(kept))
	fmt.Fprintf(w, "spared: %s\n", join(spared))
	fmt.Fprintf(w, "forged telemetry (reported against the serving pod, never evidence against the pod it names): %s\n", join(forgers))
	var gpus []string
	for _, g := range last.UnattributedGPUs {
		gpus = append(gpus, fmt.Sprintf("%s/gpu%s mean %.1f%%", g.Node, g.Index, g.Mean))
	}
	fmt.Fprintf(w, "GPUs with no pod: %s\n", join(gpus))
	fmt.Fprintln(w, "why each pod was deleted (its evidence when deleted):")
	for _, r := range out.Results {
		for _, oc := range r.Outcomes {
			if oc.Kind != actions.StepDelete || oc.Result != actions.ResultOK {
				continue
			}
			for _, p := range r.Report.Pods {
				if p.PodKey == oc.Pod {
					fmt.Fprintf(w, "  %s: %s (%s): %s\n", p.PodKey, p.Evidence.Strength, p.Evidence.Rule, p.Evidence.StrengthReason)
				}
			}
		}
	}
	// Each faulty GPU once, as the first cycle that saw the fault said it.
	var faults []string
	seen := map[string]bool{}
	for _, r := range out.Results {
		for _, p := range r.Report.Pods {
			for _, g := range p.GPUs {
				gpu := fmt.Sprintf("%s gpu %s on %s", p.PodKey, g.Index, g.Node)
				if g.ProfilerFault != "" && !seen[gpu] {
					seen[gpu] = true
					faults = append(faults, "  "+gpu+": "+g.ProfilerFault)
				}
			}
		}
	}
	if len(faults) > 0 {
		fmt.Fprintln(w, "profiler faults (profiling fields not believed: judged on utilization alone, never deleted by default):")
		for _, f := range faults {
			fmt.Fprintln(w, f)
		}
	}
	reasons := map[string]int{}
	for _, e := range out.Events {
		reasons[e.Reason]++
	}
	fmt.Fprintf(w, "Kubernetes Events: %d GPUMinerDetected, %d GPUMinerPodDeleted, %d %s, %d %s, %d %s; Slack messages: %d\n",
		reasons[actions.EventReasonDetected], reasons[actions.EventReasonDeleted],
		reasons[actions.EventReasonRepeatOffender], actions.EventReasonRepeatOffender,
		reasons[actions.EventReasonOwnerStopped], actions.EventReasonOwnerStopped,
		reasons[actions.EventReasonUntrustedTelemetry], actions.EventReasonUntrustedTelemetry, len(out.Slack))
	for _, r := range out.Results {
		for _, st := range r.Plan.Steps {
			if st.Kind == actions.StepEscalate || st.Kind == actions.StepStopOwner {
				fmt.Fprintf(w, "%s at %s: %s (pod %s): %s\n", st.Kind, r.At.UTC().Format(time.RFC3339), st.Owner, st.Pod, st.Reason)
			}
		}
	}
}

// appendSamples writes the fleet's samples in (from, to] for pods that still
// exist in the cluster (and GPUs no pod holds).
func appendSamples(ctx context.Context, prom *embedded.Prometheus, kube kubernetes.Interface, pods []fleet.Pod, from, to time.Time) error {
	var live []fleet.Pod
	for _, p := range pods {
		if p.Name != "" {
			if _, err := kube.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
				continue
			}
		}
		live = append(live, p)
	}
	for _, node := range nodes(live) {
		onNode := slices.DeleteFunc(slices.Clone(live), func(p fleet.Pod) bool { return p.Node != node })
		scrape := fleet.Scrape{Metrics: fleet.DemoCounters(node).Metrics}
		for _, s := range fleet.FleetSeries(onNode, fleet.Honor, from.Add(time.Millisecond), to, scrape) {
			if err := prom.Append(s.Labels, s.Times, s.Values); err != nil {
				return fmt.Errorf("append %v: %w", s.Labels, err)
			}
		}
	}
	return nil
}

// nodes lists the pods' nodes in order of first appearance.
func nodes(pods []fleet.Pod) []string {
	var out []string
	for _, p := range pods {
		if !slices.Contains(out, p.Node) {
			out = append(out, p.Node)
		}
	}
	return out
}

// clusterObjects are the fleet's pods as the API server would hold them,
// created a day before the first window (the young pod when it started).
func clusterObjects(pods []fleet.Pod, end time.Time) []runtime.Object {
	var objs []runtime.Object
	for _, p := range pods {
		if p.Name == "" {
			continue
		}
		created := end.Add(-24 * time.Hour)
		if !p.Start.IsZero() {
			created = p.Start
		}
		objs = append(objs, podObject(p, created))
	}
	return objs
}

// podObject is the fleet pod as the API server holds it.
func podObject(p fleet.Pod, created time.Time) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.Namespace, Name: p.Name, UID: types.UID("uid-" + strings.ReplaceAll(p.Key(), "/", "-")),
			CreationTimestamp: metav1.NewTime(created),
		},
		Spec: corev1.PodSpec{NodeName: p.Node, Containers: []corev1.Container{{
			Name: p.Container, Image: "registry.example/" + p.Container + ":latest",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				"nvidia.com/gpu": *resource.NewQuantity(int64(len(p.GPUs)), resource.DecimalSI),
			}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	ownedBy(pod)
	return pod
}

func countPods(pods []fleet.Pod) int {
	n := 0
	for _, p := range pods {
		if p.Name != "" {
			n++
		}
	}
	return n
}

func countGPUs(pods []fleet.Pod) int {
	n := 0
	for _, p := range pods {
		n += len(p.GPUs)
	}
	return n
}

func join(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

// forgerPod is a tenant pod without a GPU that serves dcgm-exporter's names
// from its own /metrics (scraped by an annotation job), framing
// llm-pretrain-0's GPU as a flat miner with idle pipes.
func forgerPod() fleet.Pod {
	const node = "gpu-node-5"
	return fleet.Pod{
		Namespace: "free-notebooks", Name: "jupyter-forger", Container: "notebook", Node: node,
		Forges: &fleet.Pod{Namespace: "ml-research", Name: "llm-pretrain-0", Container: "trainer", Node: node,
			Profile: fleet.SteadyMiner(), GPUs: []fleet.GPUSpec{fleet.GPU(node, "1")}},
		Scenario: "a tenant serving dcgm-exporter's names from its own /metrics, framing llm-pretrain-0's GPU as a flat " +
			"miner: untrusted telemetry, reported against the forger; the framed pod stays benign",
	}
}
