package dashboards_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// renderConfigMaps renders one ConfigMap per dashboard for the
// kube-prometheus-stack Grafana sidecar, which loads every ConfigMap
// labelled grafana_dashboard: "1" in its namespace.
func renderConfigMaps(ds []dashboard) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated from dashboards/*.json by\n" +
		"#   go test ./dashboards/ -run TestConfigMap -update\n" +
		"# Do not edit by hand. Apply in the namespace of kube-prometheus-stack's\n" +
		"# Grafana (its dashboard sidecar watches its own namespace by default):\n" +
		"#   kubectl apply -n monitoring -f deploy/grafana/dashboards-configmap.yaml\n")
	for _, d := range ds {
		name := strings.TrimSuffix(d.File, ".json")
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"+
			"  name: miner-detector-dashboard-%s\n"+
			"  labels:\n    grafana_dashboard: \"1\"\n    app.kubernetes.io/name: miner-detector\n"+
			"  annotations:\n    grafana_folder: Miner Detector\n"+
			"data:\n  %s: |\n", name, d.File)
		for _, line := range strings.SplitAfter(strings.TrimSuffix(string(d.Raw), "\n"), "\n") {
			b.WriteString("    " + line)
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// The ConfigMaps hold exactly the current JSON files; -update rewrites them.
func TestConfigMapIsCurrent(t *testing.T) {
	ds := loadDashboards(t)
	want := renderConfigMaps(ds)
	if *update {
		if err := os.WriteFile(configMapPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(configMapPath)
	if err != nil {
		t.Fatalf("%v (run go test ./dashboards/ -run TestConfigMap -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./dashboards/ -run TestConfigMap -update", configMapPath)
	}

	// Decoded as Kubernetes would, each ConfigMap carries one dashboard
	// byte for byte, with the sidecar's label.
	docs := strings.Split(string(got), "\n---\n")[1:]
	if len(docs) != len(ds) {
		t.Fatalf("%d documents, want %d", len(docs), len(ds))
	}
	seen := map[string]bool{}
	for i, doc := range docs {
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict([]byte(doc+"\n"), &cm); err != nil { // Split took the newline
			t.Fatalf("document %d: %v", i, err)
		}
		if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.Name == "" || seen[cm.Name] {
			t.Errorf("document %d: kind %q apiVersion %q name %q (repeated: %v)", i, cm.Kind, cm.APIVersion, cm.Name, seen[cm.Name])
		}
		seen[cm.Name] = true
		if cm.Labels["grafana_dashboard"] != "1" {
			t.Errorf("%s: labels %v lack grafana_dashboard: \"1\"", cm.Name, cm.Labels)
		}
		d := ds[i]
		if len(cm.Data) != 1 || cm.Data[d.File] != string(d.Raw) {
			t.Errorf("%s: data does not hold %s exactly (keys %d)", cm.Name, d.File, len(cm.Data))
		}
		// kubectl apply keeps the object in an annotation limited to 256 KiB.
		if len(doc) > 200<<10 {
			t.Errorf("%s: %d bytes, too close to kubectl apply's 256 KiB limit", cm.Name, len(doc))
		}
	}
}
