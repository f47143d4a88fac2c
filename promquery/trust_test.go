package promquery

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/prometheus/common/model"
)

// gpuLabels are dcgm-exporter's own GPU labels, which every layout keeps.
func gpuLabels(extra model.Metric) model.Metric {
	m := model.Metric{"gpu": "0", "UUID": "GPU-aaaa", "Hostname": "node-1", "modelName": "NVIDIA H100 80GB HBM3", "instance": "10.244.1.7:9400"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// The trust rule, one row per layout and per way a tenant might pass itself
// off as the exporter. "serving" is the pod an untrusted series is reported
// against; "claims" is the workload it names.
func TestTrustRule(t *testing.T) {
	custom := DefaultConfig()
	custom.TrustedTargets.Namespaces = []string{"telemetry"}
	custom.TrustedTargets.Pods = `^gpu-metrics-`
	cases := []struct {
		name    string
		cfg     Config
		labels  model.Metric
		trusted bool
		serving string // namespace/pod of an untrusted series' target, when known
		claims  string // namespace/pod its labels attribute the GPU to
	}{
		// The GPU Operator's ServiceMonitor: jobLabel app, no honorLabels.
		{"GPU Operator ServiceMonitor, busy GPU (exported layout)", DefaultConfig(),
			gpuLabels(model.Metric{"job": "nvidia-dcgm-exporter", "namespace": "gpu-operator", "pod": "nvidia-dcgm-exporter-x7k2p",
				"service": "nvidia-dcgm-exporter", "endpoint": "gpu-metrics", "exported_namespace": "team-a", "exported_pod": "train-0"}),
			true, "", "team-a/train-0"},
		{"GPU Operator ServiceMonitor, idle GPU", DefaultConfig(),
			gpuLabels(model.Metric{"job": "nvidia-dcgm-exporter", "namespace": "gpu-operator", "pod": "nvidia-dcgm-exporter-x7k2p"}),
			true, "", "/"},
		// The dcgm-exporter chart's ServiceMonitor with honorLabels: true:
		// the exporter's namespace/pod (the workload) replace the target's.
		{"chart ServiceMonitor, honorLabels on, busy GPU", DefaultConfig(),
			gpuLabels(model.Metric{"job": "dcgm-exporter", "namespace": "team-a", "pod": "train-0", "container": "main", "service": "dcgm-exporter", "endpoint": "metrics"}),
			true, "", "team-a/train-0"},
		{"chart ServiceMonitor under a release name, honorLabels on", DefaultConfig(),
			gpuLabels(model.Metric{"job": "gpu-dcgm-exporter", "namespace": "team-a", "pod": "train-0"}),
			true, "", "team-a/train-0"},
		{"chart ServiceMonitor, honorLabels off, in monitoring", DefaultConfig(),
			gpuLabels(model.Metric{"job": "dcgm-exporter", "namespace": "monitoring", "pod": "dcgm-exporter-abc12", "exported_namespace": "team-a", "exported_pod": "train-0"}),
			true, "", "team-a/train-0"},
		// A plain kubernetes-pods annotation job scrapes the exporter and
		// the tenants alike, without honor_labels.
		{"kubernetes-pods job, the exporter's pod", DefaultConfig(),
			gpuLabels(model.Metric{"job": "kubernetes-pods", "namespace": "gpu-operator", "pod": "nvidia-dcgm-exporter-x7k2p", "exported_namespace": "team-a", "exported_pod": "train-0"}),
			true, "", "team-a/train-0"},
		{"kubernetes-pods job, a forged series naming another tenant's pod", DefaultConfig(),
			gpuLabels(model.Metric{"job": "kubernetes-pods", "namespace": "team-b", "pod": "forger-0", "exported_namespace": "team-a", "exported_pod": "train-0", "exported_job": "nvidia-dcgm-exporter"}),
			false, "team-b/forger-0", "team-a/train-0"},
		{"kubernetes-pods job, a forged series naming the forger's own pod", DefaultConfig(),
			gpuLabels(model.Metric{"job": "kubernetes-pods", "namespace": "team-b", "pod": "miner-0", "exported_namespace": "team-b", "exported_pod": "miner-0"}),
			false, "team-b/miner-0", "team-b/miner-0"},
		{"kubernetes-pods job, a forged series naming a pod that does not exist", DefaultConfig(),
			gpuLabels(model.Metric{"job": "kubernetes-pods", "namespace": "team-b", "pod": "forger-0", "exported_namespace": "ghost", "exported_pod": "no-such-pod"}),
			false, "team-b/forger-0", "ghost/no-such-pod"},
		{"kubernetes-pods job, a forger writing no pod labels (its own target)", DefaultConfig(),
			gpuLabels(model.Metric{"job": "kubernetes-pods", "namespace": "team-b", "pod": "miner-0"}),
			false, "", "team-b/miner-0"},
		// Named like the exporter, outside the exporter's namespaces.
		{"a tenant pod named like the exporter outside the exporter namespaces", DefaultConfig(),
			gpuLabels(model.Metric{"job": "kubernetes-pods", "namespace": "free-notebooks", "pod": "nvidia-dcgm-exporter-x7k2p", "exported_namespace": "team-a", "exported_pod": "train-0"}),
			false, "free-notebooks/nvidia-dcgm-exporter-x7k2p", "team-a/train-0"},
		{"a tenant PodMonitor whose jobLabel names the job like the exporter's", DefaultConfig(),
			gpuLabels(model.Metric{"job": "nvidia-dcgm-exporter", "namespace": "team-b", "pod": "forger-0", "exported_namespace": "team-a", "exported_pod": "train-0"}),
			false, "team-b/forger-0", "team-a/train-0"},
		{"no job label, honor layout", DefaultConfig(),
			gpuLabels(model.Metric{"namespace": "team-a", "pod": "train-0"}),
			false, "", "team-a/train-0"},
		{"a job that only contains the exporter's name", DefaultConfig(),
			gpuLabels(model.Metric{"job": "not-dcgm-exporter-really", "namespace": "team-a", "pod": "train-0"}),
			false, "", "team-a/train-0"},
		// The exporter named like a tenant: trusted by its job, or by its
		// configured namespace and pod names.
		{"the exporter named like a tenant, honor layout, trusted by its job", DefaultConfig(),
			gpuLabels(model.Metric{"job": "nvidia-dcgm-exporter", "namespace": "team-a", "pod": "gpu-metrics-abc12"}),
			true, "", "team-a/gpu-metrics-abc12"},
		{"the exporter named like a tenant, kubernetes-pods job, default config", DefaultConfig(),
			gpuLabels(model.Metric{"job": "kubernetes-pods", "namespace": "telemetry", "pod": "gpu-metrics-abc12", "exported_namespace": "team-a", "exported_pod": "train-0"}),
			false, "telemetry/gpu-metrics-abc12", "team-a/train-0"},
		{"the exporter named like a tenant, kubernetes-pods job, configured", custom,
			gpuLabels(model.Metric{"job": "kubernetes-pods", "namespace": "telemetry", "pod": "gpu-metrics-abc12", "exported_namespace": "team-a", "exported_pod": "train-0"}),
			true, "", "team-a/train-0"},
		{"configured: the GPU Operator's namespace is no longer trusted", custom,
			gpuLabels(model.Metric{"job": "kubernetes-pods", "namespace": "gpu-operator", "pod": "nvidia-dcgm-exporter-x7k2p", "exported_namespace": "team-a", "exported_pod": "train-0"}),
			false, "gpu-operator/nvidia-dcgm-exporter-x7k2p", "team-a/train-0"},
		// The limit: a job honoring a tenant's labels lets it write `job`.
		// Nothing in the series tells; the README says how to check.
		{"undetectable: a tenant behind a job that honors labels writes job", DefaultConfig(),
			gpuLabels(model.Metric{"job": "nvidia-dcgm-exporter", "namespace": "team-a", "pod": "train-0"}),
			true, "", "team-a/train-0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAttribution(c.cfg)
			if got := a.trust.trusted(c.labels); got != c.trusted {
				t.Errorf("trusted = %v, want %v", got, c.trusted)
			}
			w := a.workload(c.labels)
			if got := w.Namespace + "/" + w.Pod; got != c.claims {
				t.Errorf("attributed to %q, want %q", got, c.claims)
			}
			if c.trusted {
				return
			}
			s := servingTarget(c.labels)
			if got := s.Namespace + "/" + s.Pod; (c.serving == "" && got != "/") || (c.serving != "" && got != c.serving) {
				t.Errorf("serving pod %q, want %q", got, c.serving)
			}
			if s.Job != string(c.labels["job"]) || s.Instance != "10.244.1.7:9400" {
				t.Errorf("serving target %+v, want job %q and the series' instance", s, c.labels["job"])
			}
		})
	}
}

func TestTrustedTargetsValidation(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*TrustedTargets)
		field string
	}{
		{"empty jobs", func(tt *TrustedTargets) { tt.Jobs = "" }, "trustedTargets.jobs: must not be empty"},
		{"bad jobs regex", func(tt *TrustedTargets) { tt.Jobs = "(" }, "trustedTargets.jobs: error parsing regexp"},
		{"empty pods", func(tt *TrustedTargets) { tt.Pods = "" }, "trustedTargets.pods: must not be empty"},
		{"bad pods regex", func(tt *TrustedTargets) { tt.Pods = "[" }, "trustedTargets.pods: error parsing regexp"},
		{"empty namespace", func(tt *TrustedTargets) { tt.Namespaces = []string{"gpu-operator", ""} }, "trustedTargets.namespaces: must not hold an empty name"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.edit(&cfg.TrustedTargets)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %v, want it to name %q", c.name, err, c.field)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}

// Read keeps forged series out of the analyzer's input, whichever pod they
// name, and reports them by serving target with their claims; the
// exporter's series of the same GPU are judged as usual.
func TestReadReportsForgedSeries(t *testing.T) {
	end := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	p, err := embedded.OpenTemp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	base := map[string]string{"__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": "0", "UUID": "GPU-aaaa", "Hostname": "node-1", "modelName": "H100"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	exporter := with(map[string]string{"job": "nvidia-dcgm-exporter", "instance": "10.0.0.1:9400", "namespace": "gpu-operator",
		"pod": "nvidia-dcgm-exporter-x7k2p", "exported_namespace": "team-a", "exported_pod": "train-0"})
	frame := with(map[string]string{"job": "kubernetes-pods", "instance": "10.0.0.9:8000", "namespace": "team-b",
		"pod": "forger-0", "exported_namespace": "team-a", "exported_pod": "train-0"})
	ghost := with(map[string]string{"job": "kubernetes-pods", "instance": "10.0.0.9:8000", "namespace": "team-b",
		"pod": "forger-0", "exported_namespace": "ghost", "exported_pod": "no-such-pod", "UUID": "GPU-zzzz", "gpu": "7"})
	start := end.Add(-2 * time.Hour)
	n := int(2 * time.Hour / (15 * time.Second))
	training, flat := make([]float64, n), make([]float64, n)
	for i := range training {
		training[i], flat[i] = float64(40+i%50), 100
	}
	for _, s := range []struct {
		l map[string]string
		v []float64
	}{{exporter, training}, {frame, flat}, {ghost, flat}} {
		if err := p.AppendEvery(s.l, start, 15*time.Second, s.v); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	cfg.Profiling = nil
	r, err := NewReader(p, cfg, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Read(context.Background(), end, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Input.Series) != 1 {
		t.Fatalf("%d series judged, want only the exporter's: %+v", len(res.Input.Series), res.Input.Series)
	}
	s := res.Input.Series[0]
	var m analyzer.Moments
	for _, c := range s.Chunks {
		m = m.Merge(c.Moments)
	}
	if s.Workload.Pod != "train-0" || m.Max >= 100 {
		t.Errorf("judged series %s/%s max %v, want the exporter's training series (max < 100)", s.Workload.Namespace, s.Workload.Pod, m.Max)
	}
	if len(res.Untrusted) != 1 {
		t.Fatalf("untrusted targets %+v, want one: team-b/forger-0", res.Untrusted)
	}
	u := res.Untrusted[0]
	if u.Namespace != "team-b" || u.Pod != "forger-0" || u.Job != "kubernetes-pods" || u.Series != 2 || len(u.Claims) != 2 ||
		u.Claims[0].Workload.Pod != "no-such-pod" || u.Claims[1].Workload.Pod != "train-0" || u.Claims[1].GPU.UUID != "GPU-aaaa" {
		t.Errorf("untrusted target %+v, want team-b/forger-0 of kubernetes-pods claiming ghost/no-such-pod and team-a/train-0", u)
	}
	if len(u.Metrics) != 1 || u.Metrics[0] != "DCGM_FI_DEV_GPU_UTIL" {
		t.Errorf("forged metrics %v, want DCGM_FI_DEV_GPU_UTIL", u.Metrics)
	}
	wantJobs := []JobSeries{{Job: "kubernetes-pods", Series: 2, Untrusted: 2}, {Job: "nvidia-dcgm-exporter", Series: 1}}
	if len(res.Jobs) != 2 || res.Jobs[0] != wantJobs[0] || res.Jobs[1] != wantJobs[1] {
		t.Errorf("jobs %+v, want %+v", res.Jobs, wantJobs)
	}
}

func TestTrustWarnings(t *testing.T) {
	cases := []struct {
		name string
		jobs []JobSeries
		want []string // substrings, one per warning
	}{
		{"the exporter's job alone", []JobSeries{{Job: "nvidia-dcgm-exporter", Series: 8}}, nil},
		{"a tenant forging in kubernetes-pods", []JobSeries{{Job: "kubernetes-pods", Series: 2, Untrusted: 2}, {Job: "nvidia-dcgm-exporter", Series: 8}},
			[]string{`job "kubernetes-pods" served 2 label sets`}},
		{"two jobs with trusted series", []JobSeries{{Job: "kubernetes-service-endpoints", Series: 8}, {Job: "nvidia-dcgm-exporter", Series: 8}},
			[]string{`come from 2 jobs ("kubernetes-service-endpoints", "nvidia-dcgm-exporter")`}},
	}
	for _, c := range cases {
		got := Result{Jobs: c.jobs}.TrustWarnings()
		if len(got) != len(c.want) {
			t.Errorf("%s: warnings %q, want %d", c.name, got, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %q, want it to contain %q", c.name, got[i], w)
			}
		}
	}
}
