// Package fleet simulates a GPU fleet as NVIDIA's dcgm-exporter would expose
// it to Prometheus: pods (and GPUs with no pod) on nodes, each GPU following
// a utilization Profile, scraped on a fixed grid with optional gaps and bad
// values, labelled in either of the two layouts a Prometheus can store
// (honorLabels or exported_*), and written as OpenMetrics text that
// `promtool tsdb create-blocks-from openmetrics` backfills.
//
// Everything is deterministic: the same fleet, window and scrape settings
// always give the same samples, so the demo, the integration tests and the
// "direct computation" checks agree on the ground truth.
//
// It must not know about the analyzer, PromQL or Kubernetes clients: it only
// produces samples, labels and text.
package fleet
