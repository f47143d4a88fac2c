// Package alerttest proves the alerting path end to end with real servers on
// 127.0.0.1: the detector's cycle serving its real /metrics, Debian's
// Prometheus scraping it and evaluating deploy/prometheus's rules, and
// Debian's Alertmanager delivering the alerts to a webhook. It has no
// non-test code.
package alerttest
