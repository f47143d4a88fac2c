// Package fleet simulates a GPU fleet as NVIDIA's dcgm-exporter would expose
// it to Prometheus: pods (and GPUs with no pod) on nodes, each GPU (or MIG
// instance) following a Profile, scraped on a fixed grid with optional gaps
// and bad values, labelled in either of the two layouts a Prometheus can
// store (honorLabels or exported_*), and written as OpenMetrics text that
// `promtool tsdb create-blocks-from openmetrics` backfills.
//
// A Profile models utilization (DCGM_FI_DEV_GPU_UTIL, the only metric
// emitted unless Scrape.Metrics asks for more) and, consistent with it, the
// profiling metrics (DCGM_FI_PROF_*: engine, SM and pipe activity, DRAM,
// PCIe and NVLink traffic) and board power that tell training from mining.
// DefaultFleet is the demo's fleet; LabelledFleet is the backtest fleet.
//
// Everything is deterministic: the same fleet, window and scrape settings
// always give the same samples, so the demo, the integration tests and the
// "direct computation" checks agree on the ground truth.
//
// It must not know about the analyzer, PromQL or Kubernetes clients: it only
// produces samples, labels and text.
package fleet
