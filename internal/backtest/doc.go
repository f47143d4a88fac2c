// Package backtest scores the detector's verdicts over history against a
// file of labelled miners: at each tick it asks a Judge for the report of the
// window ending then, compares every pod and podless GPU with the labels, and
// counts true and false positives, misses and time to detect, in total and
// per class (what kind of miner or workload each labelled entity is).
//
// It owns the labels format (miners with their intervals, benign entities,
// each with a class), the truth rule (how much of the window a labelled
// interval must cover), the scoring and the rendering of the result.
// It does not know how a report is produced (Prometheus, the analyzer's
// thresholds, the command line): that is the Judge's business. Apart from
// reading labels and writing results through io.Reader / io.Writer it is pure.
package backtest
