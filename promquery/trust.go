package promquery

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/prometheus/common/model"
)

// TrustedTargets says which scrape targets are dcgm-exporter itself. Only
// their series are evidence: any other target that serves dcgm-exporter's
// metric names (a tenant's own /metrics behind a kubernetes-pods annotation
// job or a PodMonitor) is forged telemetry, reported and never judged.
//
// A series is the exporter's when either holds:
//
//   - its target is the exporter's pod: `namespace` is one of Namespaces and
//     `pod` matches Pods. Without honor_labels these are the target's own
//     labels, set by service discovery; a target that writes them sees them
//     renamed exported_namespace / exported_pod. So in that layout they name
//     who served the series, in any job (a ServiceMonitor without
//     honorLabels, a kubernetes-pods or kubernetes-service-endpoints
//     annotation job).
//   - its `job` matches Jobs and it carries no exported_namespace /
//     exported_pod: the honor_labels layout, where the exporter's own
//     namespace / pod labels (the workload) replace the target's, so only a
//     label the exporter does not write can vouch for it. `job` is one: a
//     target scraped without honor_labels cannot set it. A series with
//     exported_* was scraped without honor_labels, so its target labels
//     stand and must name the exporter (the first case): a job named like
//     the exporter (a PodMonitor's jobLabel is taken from the tenant's own
//     pod labels) does not vouch for it.
//
// The defaults match both ways NVIDIA ships the exporter:
//   - the GPU Operator's ServiceMonitor (assets/state-dcgm-exporter/
//     0500_service_monitor.yaml in NVIDIA/gpu-operator) has `jobLabel: app`
//     over a Service labelled `app: nvidia-dcgm-exporter` and no honorLabels,
//     so job="nvidia-dcgm-exporter", namespace/pod the exporter's pod in the
//     operator's namespace, the workload in exported_*. Its Service is also
//     annotated `prometheus.io/scrape: "true"` (0400_service.yaml), so an
//     annotation job scrapes it too, under that job's name: trusted by the
//     first case.
//   - the dcgm-exporter chart's ServiceMonitor (deployment/templates/
//     service-monitor.yaml in NVIDIA/dcgm-exporter) sets no jobLabel, so the
//     job is its Service's name, the chart's fullname ("dcgm-exporter" or
//     "<release>-dcgm-exporter"), and takes honorLabels from
//     serviceMonitor.honorLabels: either layout.
//
// What no label can tell: a job that honors labels on tenant targets lets
// the tenant write every label, `job` included (see the README's "Trust
// boundary").
type TrustedTargets struct {
	// Jobs is a regular expression, fully anchored as Prometheus's relabel
	// regexes are, over the `job` label of the jobs that scrape only the
	// exporter.
	Jobs string `json:"jobs"`
	// Namespaces are where the exporter's pods run.
	Namespaces []string `json:"namespaces"`
	// Pods is a regular expression (unanchored, like exporterPods) over the
	// exporter's pod names.
	Pods string `json:"pods"`
}

// DefaultTrustedTargets trusts the GPU Operator's and the dcgm-exporter
// chart's ServiceMonitors and the exporter's pods in exporterNamespaces.
func DefaultTrustedTargets(exporterNamespaces []string, exporterPods string) TrustedTargets {
	return TrustedTargets{
		Jobs:       `(.+-)?dcgm-exporter`,
		Namespaces: slices.Clone(exporterNamespaces),
		Pods:       exporterPods,
	}
}

// validate reports the first invalid field, named as in the configuration.
func (t TrustedTargets) validate() error {
	if t.Jobs == "" {
		return fmt.Errorf("trustedTargets.jobs: must not be empty: no job would be trusted and every series would be reported as forged")
	}
	if _, err := regexp.Compile(anchored(t.Jobs)); err != nil {
		return fmt.Errorf("trustedTargets.jobs: %w", err)
	}
	if t.Pods == "" {
		return fmt.Errorf("trustedTargets.pods: must not be empty: it would match every pod in trustedTargets.namespaces")
	}
	if _, err := regexp.Compile(t.Pods); err != nil {
		return fmt.Errorf("trustedTargets.pods: %w", err)
	}
	for _, ns := range t.Namespaces {
		if ns == "" {
			return fmt.Errorf("trustedTargets.namespaces: must not hold an empty name")
		}
	}
	return nil
}

func anchored(re string) string { return "^(?:" + re + ")$" }

// trust decides per series whether the exporter served it.
type trust struct {
	jobs, pods *regexp.Regexp
	namespaces []string
}

func newTrust(t TrustedTargets) trust {
	return trust{jobs: regexp.MustCompile(anchored(t.Jobs)), pods: regexp.MustCompile(t.Pods), namespaces: t.Namespaces}
}

// Target labels as Prometheus and prometheus-operator set them.
const (
	labelJob       = "job"
	labelInstance  = "instance"
	labelNamespace = "namespace"
	labelPod       = "pod"
)

// exported reports whether Prometheus renamed the scraped namespace or pod
// aside: the series was scraped without honor_labels.
func exported(m model.Metric) bool {
	return m["exported_namespace"] != "" || m["exported_pod"] != ""
}

// trusted reports whether the exporter served the series (see
// TrustedTargets).
func (t trust) trusted(m model.Metric) bool {
	ns, pod := string(m[labelNamespace]), string(m[labelPod])
	if pod != "" && slices.Contains(t.namespaces, ns) && t.pods.MatchString(pod) {
		return true
	}
	return !exported(m) && m[labelJob] != "" && t.jobs.MatchString(string(m[labelJob]))
}

// UntrustedTarget is a scrape target that served dcgm-exporter metric names
// without being the exporter: forged telemetry. None of its series is
// judged; the pods and GPUs it claims are only reported.
type UntrustedTarget struct {
	Job      string `json:"job"`
	Instance string `json:"instance"`
	// Namespace and Pod are the serving pod, when Prometheus's own target
	// labels name it: the series carries exported_namespace/exported_pod,
	// so namespace/pod are the target's. Empty when they cannot be told
	// from what the series claims (then they are only a claim).
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	// Series counts the distinct label sets (one per claimed GPU and
	// workload) the target served, over every metric read.
	Series int `json:"series"`
	// Metrics are the dcgm-exporter names it served, sorted.
	Metrics []string `json:"metrics"`
	// Claims are the workloads and GPUs its series named, sorted.
	Claims []Claim `json:"claims"`
}

// Claim is one workload and GPU a forged series named.
type Claim struct {
	Workload analyzer.Workload `json:"workload"`
	GPU      analyzer.GPU      `json:"gpu"`
}

// Key identifies the target across cycles.
func (u UntrustedTarget) Key() string {
	return u.Job + "/" + u.Instance + "/" + u.Namespace + "/" + u.Pod
}

// servingTarget is the target of an untrusted series: job and instance
// always (a target without honor_labels cannot set them), its pod only when
// the layout proves namespace/pod are the target's.
func servingTarget(m model.Metric) UntrustedTarget {
	u := UntrustedTarget{Job: string(m[labelJob]), Instance: string(m[labelInstance])}
	if exported(m) {
		u.Namespace, u.Pod = string(m[labelNamespace]), string(m[labelPod])
	}
	return u
}

// untrustedSet gathers a read's forged series by serving target.
type untrustedSet struct {
	byKey map[string]*UntrustedTarget
}

func (s *untrustedSet) add(m model.Metric, metric string, claim Claim, newLabels bool) {
	if s.byKey == nil {
		s.byKey = map[string]*UntrustedTarget{}
	}
	t := servingTarget(m)
	u := s.byKey[t.Key()]
	if u == nil {
		u = &t
		s.byKey[t.Key()] = u
	}
	if !slices.Contains(u.Metrics, metric) {
		u.Metrics = append(u.Metrics, metric)
	}
	if newLabels {
		u.Series++
		if !slices.Contains(u.Claims, claim) {
			u.Claims = append(u.Claims, claim)
		}
	}
}

// sorted returns the targets in a stable order, each one's lists sorted.
func (s *untrustedSet) sorted() []UntrustedTarget {
	out := make([]UntrustedTarget, 0, len(s.byKey))
	for _, u := range s.byKey {
		slices.Sort(u.Metrics)
		slices.SortFunc(u.Claims, func(a, b Claim) int {
			return cmp.Or(cmp.Compare(a.Workload.Namespace, b.Workload.Namespace), cmp.Compare(a.Workload.Pod, b.Workload.Pod),
				cmp.Compare(a.GPU.Node, b.GPU.Node), cmp.Compare(a.GPU.Index, b.GPU.Index), cmp.Compare(a.GPU.UUID, b.GPU.UUID))
		})
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b UntrustedTarget) int { return cmp.Compare(a.Key(), b.Key()) })
	return out
}

// TrustWarnings says what the read's jobs suggest about the trust boundary:
// each job that served forged series, and DCGM series from more than one
// job, where a job that honors labels on tenant targets may hide: such a
// tenant can write every label, `job` included, and no rule here tells.
func (r Result) TrustWarnings() []string {
	var out, trusted []string
	for _, j := range r.Jobs {
		if j.Untrusted > 0 {
			out = append(out, fmt.Sprintf("job %q served %d label sets with dcgm-exporter metric names from targets that are not the exporter: "+
				"forged telemetry, never judged (scan lists the targets and what they claim)", j.Job, j.Untrusted))
		}
		if j.Series > j.Untrusted {
			trusted = append(trusted, fmt.Sprintf("%q", j.Job))
		}
	}
	if len(trusted) > 1 {
		out = append(out, fmt.Sprintf("dcgm-exporter series come from %d jobs (%s): an exporter scraped twice (a ServiceMonitor and an annotation job) "+
			"doubles its series, and a job that honors labels on tenant targets lets a tenant write any label, job included, which no rule can tell; "+
			"check which targets serve them with: count by (job, namespace, pod) (count by (job, namespace, pod, instance) (DCGM_FI_DEV_GPU_UTIL))",
			len(trusted), strings.Join(trusted, ", ")))
	}
	return out
}
