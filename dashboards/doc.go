// Package dashboards holds Miner Detector's Grafana dashboards as JSON
// models (fleet-overview.json, suspects.json, evidence.json,
// detector-health.json), loaded by the kube-prometheus-stack Grafana sidecar
// from the ConfigMaps in deploy/grafana/dashboards-configmap.yaml.
//
// The JSON files are the source: edit them (or export from Grafana and keep
// the uid, the ${datasource} variable and the layout), then run
// `go test ./dashboards/ -run TestConfigMap -update` to regenerate the
// ConfigMaps. The tests check that every PromQL expression parses, names only
// metrics that the detector or dcgm-exporter publish, and returns data from a
// real Prometheus holding a simulated fleet and the detector's own metrics.
package dashboards
