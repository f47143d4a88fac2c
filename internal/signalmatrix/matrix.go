// Package signalmatrix states what each dcgm-exporter counter set lets the
// detector decide, workload by workload: the table the README shows and a
// test proves against a real Prometheus. It owns the expected outcomes and
// their rendering; it reads nothing and judges nothing.
package signalmatrix

import (
	"fmt"
	"strings"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/fleet"
)

// Workload is one kind of GPU job the matrix judges.
type Workload struct {
	Name string
	// Profile is what the GPU does; MIG runs it on a MIG instance; Podless
	// puts it on a GPU no pod holds.
	Profile fleet.Profile
	MIG     bool
	Podless bool
}

// Workloads are the matrix's rows, training and serving first, then HPC,
// then miners.
func Workloads() []Workload {
	return []Workload{
		{Name: "flat LLM training", Profile: fleet.FlatTraining()},
		{Name: "periodic training", Profile: fleet.BurstyTraining()},
		{Name: "inference", Profile: fleet.Inference()},
		{Name: "FP32 HPC", Profile: fleet.FP32HPC()},
		{Name: "FP64 HPC", Profile: fleet.FP64HPC()},
		{Name: "steady miner", Profile: fleet.SteadyMiner()},
		{Name: "memory-hard miner", Profile: fleet.MemoryHardMiner()},
		{Name: "throttled miner 90%", Profile: fleet.ThrottledMiner(90)},
		{Name: "throttled miner 80%", Profile: fleet.ThrottledMiner(80)},
		{Name: "throttled miner 70%", Profile: fleet.ThrottledMiner(70)},
		{Name: "idle", Profile: fleet.Idle()},
		{Name: "busy GPU without a pod", Profile: fleet.SteadyMiner(), Podless: true},
		{Name: "flat LLM training on MIG", Profile: fleet.FlatTraining(), MIG: true},
		{Name: "steady miner on MIG", Profile: fleet.SteadyMiner(), MIG: true},
	}
}

// Outcome is what the detector makes of one workload on one counter set.
type Outcome struct {
	Verdict  analyzer.Verdict
	Rule     string
	Strength analyzer.Strength // miners only
}

// Enforceable says whether the outcome may delete the pod by default.
func (o Outcome) Enforceable() bool { return o.Verdict == analyzer.Miner && o.Strength.Enforceable() }

// String is the table cell: "miner (flat_high_util), partial: not deletable".
func (o Outcome) String() string {
	switch {
	case o.Verdict == analyzer.Miner && o.Enforceable():
		return fmt.Sprintf("**miner** (%s), %s: deletable", o.Rule, o.Strength)
	case o.Verdict == analyzer.Miner:
		return fmt.Sprintf("miner (%s), %s: not deletable", o.Rule, o.Strength)
	case o.Verdict == analyzer.Benign && o.Rule == "training_veto":
		return "benign (training_veto)"
	default:
		return string(o.Verdict)
	}
}

// The counter sets, in column order (MIG GPUs exist only where the GPU
// Operator partitions them; the same sets apply).
func CounterSets() []fleet.CounterSet { return fleet.CounterSets() }

var (
	veto   = Outcome{Verdict: analyzer.Benign, Rule: "training_veto"}
	benign = Outcome{Verdict: analyzer.Benign, Rule: "flat_high_util"}
	busy   = Outcome{Verdict: analyzer.BusyUnattributed, Rule: "busy_without_pod"}
	// insufficient: a MIG instance with power only (the board's) and no
	// activity signal of its own: reported, never acted on.
	insufficient = Outcome{Verdict: analyzer.InsufficientData, Rule: "flat_high_util"}
)

func flat(s analyzer.Strength) Outcome {
	return Outcome{Verdict: analyzer.Miner, Rule: "flat_high_util", Strength: s}
}

func signature(s analyzer.Strength) Outcome {
	return Outcome{Verdict: analyzer.Miner, Rule: "compute_signature", Strength: s}
}

const (
	strong   = analyzer.StrengthStrong
	partial  = analyzer.StrengthPartial
	utilOnly = analyzer.StrengthUtilizationOnly
)

// Expected is the matrix: workload name -> counter set name -> outcome,
// with the default configuration over a 1 h window. A MIG instance has no
// utilization series: it is judged on GR_ENGINE_ACTIVE, which only the
// profiling sets export; with the exporter's default counters it has only
// the board's power (insufficient data), with utilization alone nothing.
var Expected = map[string]map[string]Outcome{
	"flat LLM training":        {"gpu-operator": veto, "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly)},
	"periodic training":        {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign},
	"inference":                {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign},
	"FP32 HPC":                 {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly)},
	"FP64 HPC":                 {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly)},
	"steady miner":             {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": flat(strong), "utilization-only": flat(utilOnly)},
	"memory-hard miner":        {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": flat(strong), "utilization-only": flat(utilOnly)},
	"throttled miner 90%":      {"gpu-operator": signature(partial), "exporter-default": benign, "all-dcp": signature(strong), "utilization-only": benign},
	"throttled miner 80%":      {"gpu-operator": signature(partial), "exporter-default": benign, "all-dcp": signature(strong), "utilization-only": benign},
	"throttled miner 70%":      {"gpu-operator": signature(partial), "exporter-default": benign, "all-dcp": signature(strong), "utilization-only": benign},
	"idle":                     {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign},
	"busy GPU without a pod":   {"gpu-operator": busy, "exporter-default": busy, "all-dcp": busy, "utilization-only": busy},
	"flat LLM training on MIG": {"gpu-operator": veto, "exporter-default": insufficient, "all-dcp": veto, "utilization-only": {}},
	"steady miner on MIG":      {"gpu-operator": flat(partial), "exporter-default": insufficient, "all-dcp": flat(strong), "utilization-only": {}},
}

// Markdown renders the matrix as the README's table.
func Markdown() string {
	var b strings.Builder
	sets := CounterSets()
	b.WriteString("| workload |")
	for _, s := range sets {
		fmt.Fprintf(&b, " `%s` |", s.Name)
	}
	b.WriteString("\n|---|")
	for range sets {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, w := range Workloads() {
		fmt.Fprintf(&b, "| %s |", w.Name)
		for _, s := range sets {
			o := Expected[w.Name][s.Name]
			cell := o.String()
			switch o.Verdict {
			case "":
				cell = "not seen (no per-instance series)"
			case analyzer.InsufficientData:
				cell = "insufficient_data (no per-instance activity)"
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	return b.String()
}
