// Package benchscale measures one detector cycle against the cost of reading
// every sample once, on a simulated fleet of thousands of GPUs served by a
// real Prometheus (Debian's 2.x): the harness behind `make bench-scale`
// (issue 13).
//
// It writes the fleet straight into TSDB blocks with the tsdb package's
// block writer (one 2 h block at a time, every series in time order), caches
// them under ~/.cache/miner-detector/benchscale/<params-hash>, serves them
// with /usr/bin/prometheus, and for each case measures
//
//   - the floor: one instant `count_over_time(<metric>[<window>])` per metric
//     family at the window's end, wall times summed;
//   - one cycle: `miner-detector scan --output json` as a subprocess behind a
//     counting reverse proxy: wall time, peak RSS, bytes received from
//     Prometheus, bytes of JSON output and the output's "query" object.
//
// The program is ./internal/benchscale/cmd; only the fast unit tests of this
// package run in `go test ./...`.
package benchscale
