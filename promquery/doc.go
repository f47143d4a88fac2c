// Package promquery reads GPU utilization history from Prometheus and turns it
// into analyzer input: per-series, per-chunk moments over the window.
//
// It owns PromQL building (every label value escaped by the PromQL printer,
// never by string concatenation), range queries through client_golang's
// api/v1 (or the embedded engine behind the same interface), planning the
// queries so each stays under the server's sample limit, range-selector
// semantics (Prometheus 2.x closed, 3.x left-open), and label mapping
// (honored or exported_* workload labels).
//
// It must not know about Kubernetes, Slack or verdict rules.
package promquery
