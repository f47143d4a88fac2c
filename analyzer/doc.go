// Package analyzer judges GPUs and pods from per-chunk moments of GPU
// utilization. It owns the statistics (exact merge of partial moments), the
// rules, the verdicts and their evidence.
//
// It is pure: no I/O, no clients, no clocks. It must not know about HTTP,
// Prometheus, Kubernetes or Slack; promquery turns Prometheus answers into
// its input and actions turns its verdicts into side effects.
package analyzer
