package main

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func deployment(t *testing.T, objs []object) *appsv1.Deployment {
	t.Helper()
	deps := ofKind[*appsv1.Deployment](objs)
	if len(deps) != 1 {
		t.Fatalf("%d Deployments, want 1", len(deps))
	}
	return deps[0]
}

// The Deployment has every hardening field, the probes, the env from the
// downward API, and two replicas rolling with leader election.
func TestDeploymentHardening(t *testing.T) {
	d := deployment(t, render(t))
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %q, want RollingUpdate", d.Spec.Strategy.Type)
	}
	pod := d.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken must be true: the detector calls the API")
	}
	if pod.ServiceAccountName != "miner-detector" {
		t.Errorf("serviceAccountName %q", pod.ServiceAccountName)
	}
	psc := pod.SecurityContext
	switch {
	case psc == nil:
		t.Fatal("no pod securityContext")
	case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
		t.Error("runAsNonRoot not true")
	case psc.RunAsUser == nil || *psc.RunAsUser != 65532, psc.RunAsGroup == nil || *psc.RunAsGroup != 65532:
		t.Errorf("runAsUser/Group %v/%v, want 65532", psc.RunAsUser, psc.RunAsGroup)
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("seccompProfile %+v, want RuntimeDefault", psc.SeccompProfile)
	}
	aff := pod.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("no preferred anti-affinity across nodes: %+v", aff)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != "ghcr.io/miner-detector/miner-detector:0.1.0" {
		t.Errorf("image %q, want the appVersion tag", c.Image)
	}
	if !slices.Equal(c.Args, []string{"run", "--config=/etc/miner-detector/config.yaml"}) {
		t.Errorf("args %v", c.Args)
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no container securityContext")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation not false")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem not true")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
		t.Errorf("capabilities %+v, want drop [ALL]", sc.Capabilities)
	}
	for name, q := range map[string]struct{ got, want resource.Quantity }{
		"requests.cpu":    {c.Resources.Requests[corev1.ResourceCPU], resource.MustParse("100m")},
		"requests.memory": {c.Resources.Requests[corev1.ResourceMemory], resource.MustParse("128Mi")},
		"limits.memory":   {c.Resources.Limits[corev1.ResourceMemory], resource.MustParse("512Mi")},
	} {
		if q.got.Cmp(q.want) != 0 {
			t.Errorf("resources %s %s, want %s", name, q.got.String(), q.want.String())
		}
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v, want http 8080", c.Ports)
	}
	for probe, want := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || probe.HTTPGet.Port != intstr.FromString("http") {
			t.Errorf("probe %+v, want GET %s on http", probe, want)
		}
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if e.Value != "" && strings.Contains(strings.ToLower(e.Name), "token") {
			t.Errorf("secret %s in plain env", e.Name)
		}
	}
	for name, path := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"} {
		e, ok := env[name]
		if !ok || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != path {
			t.Errorf("%s not from the downward API %s: %+v", name, path, e)
		}
	}
	// Without slack.existingSecret: the optional Secret miner-detector-slack.
	if ref := env["SLACK_BOT_TOKEN"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "miner-detector-slack" ||
		ref.SecretKeyRef.Key != "token" || ref.SecretKeyRef.Optional == nil || !*ref.SecretKeyRef.Optional {
		t.Errorf("SLACK_BOT_TOKEN %+v, want an optional secretKeyRef miner-detector-slack/token", env["SLACK_BOT_TOKEN"])
	}
	if _, ok := env["SLACK_WEBHOOK_URL"]; ok {
		t.Error("SLACK_WEBHOOK_URL set without slack.webhookURLKey")
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	if m, ok := mounts["/etc/miner-detector"]; !ok || !m.ReadOnly {
		t.Errorf("config not mounted read-only at /etc/miner-detector: %+v", c.VolumeMounts)
	}
	if _, ok := mounts["/tmp"]; !ok {
		t.Errorf("no writable /tmp: %+v", c.VolumeMounts)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	if v := vols["config"]; v.ConfigMap == nil || v.ConfigMap.Name != "miner-detector-config" {
		t.Errorf("config volume %+v", v)
	}
	if v := vols[mounts["/tmp"].Name]; v.EmptyDir == nil {
		t.Errorf("/tmp volume %+v, want an emptyDir", v)
	}
	if a := d.Spec.Template.Annotations["checksum/config"]; len(a) != 64 {
		t.Errorf("checksum/config annotation %q", a)
	}
}

// The Slack token comes from the named Secret, never from values.
func TestDeploymentSlackSecret(t *testing.T) {
	c := deployment(t, render(t, "slack.existingSecret=my-slack", "slack.tokenKey=bot-token", "config.slack.channel=#gpu")).Spec.Template.Spec.Containers[0]
	var found bool
	for _, e := range c.Env {
		if e.Name == "SLACK_BOT_TOKEN" {
			found = true
			ref := e.ValueFrom
			if e.Value != "" || ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "my-slack" || ref.SecretKeyRef.Key != "bot-token" ||
				(ref.SecretKeyRef.Optional != nil && *ref.SecretKeyRef.Optional) {
				t.Errorf("SLACK_BOT_TOKEN %+v, want a required secretKeyRef my-slack/bot-token", e)
			}
		}
	}
	if !found {
		t.Error("no SLACK_BOT_TOKEN with slack.existingSecret set")
	}
}

// A config change changes the pod template, so the pods roll.
func TestConfigChangeRollsPods(t *testing.T) {
	a := deployment(t, render(t)).Spec.Template.Annotations["checksum/config"]
	b := deployment(t, render(t, "config.window=2h")).Spec.Template.Annotations["checksum/config"]
	if a == b {
		t.Errorf("checksum/config %s unchanged after a config change", a)
	}
}

// One replica without leader election never runs two detectors at once,
// and has no PodDisruptionBudget (it would block node drains).
func TestSingleReplica(t *testing.T) {
	objs := render(t, "replicaCount=1")
	if s := deployment(t, objs).Spec.Strategy.Type; s != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q with one replica and no leader election, want Recreate", s)
	}
	if n := len(ofKind[*policyv1.PodDisruptionBudget](objs)); n != 0 {
		t.Errorf("%d PodDisruptionBudgets with one replica", n)
	}
	pdbs := ofKind[*policyv1.PodDisruptionBudget](render(t))
	if len(pdbs) != 1 || pdbs[0].Spec.MinAvailable == nil || pdbs[0].Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudgets with two replicas: %+v, want one with minAvailable 1", pdbs)
	}
}

// The NetworkPolicy lets in port 8080 only and lets out DNS, Prometheus,
// the API server and Slack's HTTPS (not to private ranges).
func TestNetworkPolicy(t *testing.T) {
	nps := ofKind[*networkingv1.NetworkPolicy](render(t))
	if len(nps) != 1 {
		t.Fatalf("%d NetworkPolicies", len(nps))
	}
	np := nps[0]
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes %v", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.IntValue() != 8080 {
		t.Errorf("ingress %+v, want port 8080 only", np.Spec.Ingress)
	}
	egressPorts := map[int][]networkingv1.NetworkPolicyPeer{}
	for _, r := range np.Spec.Egress {
		for _, p := range r.Ports {
			egressPorts[p.Port.IntValue()] = append(egressPorts[p.Port.IntValue()], r.To...)
		}
	}
	for _, port := range []int{53, 9090, 443, 6443} {
		if _, ok := egressPorts[port]; !ok {
			t.Errorf("no egress to port %d", port)
		}
	}
	if _, ok := egressPorts[9093]; ok {
		t.Error("egress to Alertmanager without silences configured")
	}
	var slack bool
	for _, peer := range egressPorts[443] {
		if b := peer.IPBlock; b != nil && b.CIDR == "0.0.0.0/0" && slices.Contains(b.Except, "10.0.0.0/8") && slices.Contains(b.Except, "169.254.0.0/16") {
			slack = true
		}
	}
	if !slack {
		t.Error("no Slack egress rule excluding private ranges")
	}

	am := ofKind[*networkingv1.NetworkPolicy](render(t, "config.actions.alertmanagerSilences.url=http://am:9093",
		"config.actions.alertmanagerSilences.suppressEnforcement=true"))[0]
	var amOK bool
	for _, r := range am.Spec.Egress {
		for _, p := range r.Ports {
			amOK = amOK || p.Port.IntValue() == 9093
		}
	}
	if !amOK {
		t.Error("no egress to Alertmanager while silences suppress enforcement")
	}
}

// The monitoring objects: ServiceMonitor with honorLabels, the
// PrometheusRule and the dashboards, each with the release's labels.
func TestMonitoringObjects(t *testing.T) {
	objs := render(t)
	n := kinds(objs)
	if n["ServiceMonitor"] != 1 || n["PrometheusRule"] != 1 || n["Service"] != 1 {
		t.Fatalf("kinds %v", n)
	}
	for _, o := range objs {
		switch o.Kind {
		case "ServiceMonitor":
			spec, _ := o.Fields["spec"].(map[string]any)
			eps, _ := spec["endpoints"].([]any)
			if len(eps) != 1 {
				t.Fatalf("ServiceMonitor endpoints %v", eps)
			}
			ep, _ := eps[0].(map[string]any)
			if ep["honorLabels"] != true || ep["port"] != "http" {
				t.Errorf("ServiceMonitor endpoint %v, want port http with honorLabels", ep)
			}
		case "PrometheusRule":
			if !strings.Contains(string(o.Raw), "alert: GPUMinerDetected") {
				t.Error("PrometheusRule without GPUMinerDetected")
			}
		}
		meta, _ := o.Fields["metadata"].(map[string]any)
		labels, _ := meta["labels"].(map[string]any)
		for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if _, ok := labels[l]; !ok {
				t.Errorf("%s %s: no label %s", o.Kind, o.Name, l)
			}
		}
	}
	var dashboards int
	for _, cm := range ofKind[*corev1.ConfigMap](objs) {
		if cm.Labels["grafana_dashboard"] == "1" {
			dashboards++
			for key, v := range cm.Data {
				if !strings.HasSuffix(key, ".json") || !strings.HasPrefix(strings.TrimSpace(v), "{") {
					t.Errorf("dashboard ConfigMap %s: key %s is not a JSON dashboard", cm.Name, key)
				}
			}
		}
	}
	if dashboards == 0 {
		t.Error("no Grafana dashboard ConfigMaps")
	}
	off := kinds(render(t, "serviceMonitor.enabled=false", "prometheusRule.enabled=false", "grafanaDashboards.enabled=false", "networkPolicy.enabled=false"))
	if off["ServiceMonitor"]+off["PrometheusRule"]+off["NetworkPolicy"] != 0 || off["ConfigMap"] != 1 {
		t.Errorf("kinds with the optional objects off: %v", off)
	}
}

// The recommended dcgm-exporter counters ship only when asked for, as the
// GPU Operator reads them: key dcgm-metrics.csv, in the exporter's namespace.
func TestDCGMExporterCounters(t *testing.T) {
	find := func(objs []object) *corev1.ConfigMap {
		for _, cm := range ofKind[*corev1.ConfigMap](objs) {
			if _, ok := cm.Data["dcgm-metrics.csv"]; ok {
				return cm
			}
		}
		return nil
	}
	if cm := find(render(t)); cm != nil {
		t.Fatalf("counters ConfigMap %s rendered by default", cm.Name)
	}
	cm := find(render(t, "dcgmExporterCounters.enabled=true"))
	if cm == nil {
		t.Fatal("dcgmExporterCounters.enabled=true renders no ConfigMap with dcgm-metrics.csv")
	}
	if cm.Name != "miner-detector-dcgm-counters" || cm.Namespace != "gpu-operator" {
		t.Errorf("counters ConfigMap %s/%s, want gpu-operator/miner-detector-dcgm-counters", cm.Namespace, cm.Name)
	}
	csv := cm.Data["dcgm-metrics.csv"]
	for _, field := range []string{"DCGM_FI_DEV_GPU_UTIL,", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE,", "DCGM_FI_PROF_PIPE_FP32_ACTIVE,", "DCGM_FI_PROF_PIPE_FP64_ACTIVE,", "DCGM_FI_PROF_SM_ACTIVE,"} {
		if !strings.Contains(csv, "\n"+field) {
			t.Errorf("counters file lacks an enabled %s line", strings.TrimSuffix(field, ","))
		}
	}
}
