// Package faults is the fault matrix (`make faults`): each named fault is
// injected into the real pipeline (a real Prometheus, Alertmanager and
// kube-apiserver + etcd, a recording Slack stand-in, proxies in front of
// them that fail on cue, a TCP server that accepts and never answers) and
// the outcome is checked: no wrongful deletion, no lost finding, no
// duplicate Slack thread, no stalled cycle. The suite prints one row per
// fault and closes with
//
//	faults: N tried, H held, W wrongful deletions, L lost findings, D duplicate Slack posts, S stalled cycles
//
// The package holds only tests; the product never imports it.
package faults
