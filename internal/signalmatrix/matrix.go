// Package signalmatrix states what each dcgm-exporter counter set lets the
// detector decide, workload by workload: the table the README shows and a
// test proves against a real Prometheus. It owns the expected outcomes and
// their rendering; it reads nothing and judges nothing.
package signalmatrix

import (
	"fmt"
	"strings"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/fleet"
)

// Workload is one kind of GPU job the matrix judges.
type Workload struct {
	Name string
	// Class is the catalogue the row belongs to: "legitimate" work that
	// must never be deletable, an "adversarial" miner (its evasion's cost in
	// the threat model), a telemetry "fault" that must never be deletable,
	// or a "baseline" miner.
	Class string
	// Profile is what the GPU does; MIG runs it on a MIG instance; Podless
	// puts it on a GPU no pod holds.
	Profile fleet.Profile
	MIG     bool
	Podless bool
	// Model, when set, is the GPU's modelName on every counter set (the
	// Hopper set's model included); Unsupported are the fields its DCGM
	// does not report, whose series are absent (never zero).
	Model       string
	Unsupported []string
	// ExporterRestart replaces the node's dcgm-exporter pod mid-window
	// (restartAt, down restartDown): every series of the GPU is cut in two
	// under a new exporter pod's labels.
	ExporterRestart bool
}

// Workloads are the matrix's rows, training and serving first, then HPC,
// then miners.
func Workloads() []Workload {
	return []Workload{
		{Name: "flat LLM training", Class: legit, Profile: fleet.FlatTraining()},
		{Name: "periodic training", Class: legit, Profile: fleet.BurstyTraining()},
		{Name: "inference", Class: legit, Profile: fleet.Inference()},
		{Name: "FP32 HPC", Class: legit, Profile: fleet.FP32HPC()},
		{Name: "FP64 HPC", Class: legit, Profile: fleet.FP64HPC()},
		{Name: "small CNN", Class: legit, Profile: fleet.SmallCNN()},
		{Name: "FP64 molecular dynamics", Class: legit, Profile: fleet.FP64MolecularDynamics()},
		{Name: "GPU ETL", Class: legit, Profile: fleet.GPUETL()},
		{Name: "int8 batch inference", Class: legit, Profile: fleet.Int8BatchInference()},
		{Name: "idle notebook", Class: legit, Profile: fleet.IdleNotebook()},
		{Name: "steady miner", Class: baseline, Profile: fleet.SteadyMiner()},
		{Name: "memory-hard miner", Class: baseline, Profile: fleet.MemoryHardMiner()},
		{Name: "throttled miner 90%", Class: adversarial, Profile: fleet.ThrottledMiner(90)},
		{Name: "throttled miner 80%", Class: adversarial, Profile: fleet.ThrottledMiner(80)},
		{Name: "throttled miner 70%", Class: adversarial, Profile: fleet.ThrottledMiner(70)},
		{Name: "token-kernel miner", Class: adversarial, Profile: fleet.TokenKernelMiner()},
		{Name: "jittering miner", Class: adversarial, Profile: fleet.JitterMiner()},
		{Name: "duty-cycled miner 40m/20m", Class: adversarial, Profile: fleet.DutyCycleMiner(40*time.Minute, 20*time.Minute)},
		{Name: "copy-loop miner", Class: adversarial, Profile: fleet.CopyLoopMiner()},
		{Name: "disguised miner", Class: adversarial, Profile: fleet.DisguisedMiner()},
		{Name: "int8 GEMM proof of work", Class: adversarial, Profile: fleet.Int8GEMMMiner()},
		{Name: "memory-hard miner + token kernels", Class: adversarial, Profile: fleet.TokenMemoryHardMiner()},
		{Name: "alternating miner 40m/20m ML", Class: adversarial, Profile: fleet.AlternatingMiner(40*time.Minute, 20*time.Minute)},
		{Name: "alternating miner 10m/10m ML", Class: adversarial, Profile: fleet.AlternatingMiner(10*time.Minute, 10*time.Minute)},
		{Name: "flat training, profiler reads 0", Class: fault, Profile: fleet.ProfilerZeros(fleet.FlatTraining())},
		{Name: "periodic training, profiler frozen", Class: fault, Profile: fleet.ProfilerFrozen(fleet.BurstyTraining(), frozenAt)},
		{Name: "flat training, profiler frozen on a miner's reading", Class: fault, Profile: fleet.ProfilerFrozenAs(fleet.FlatTraining(), fleet.SteadyMiner(), frozenAt)},
		{Name: "steady miner, profiler frozen on a training reading", Class: baseline, Profile: fleet.ProfilerFrozenAs(fleet.SteadyMiner(), fleet.FlatTraining(), frozenAt)},
		{Name: "flat training, exporter restarted", Class: fault, Profile: fleet.FlatTraining(), ExporterRestart: true},
		{Name: "steady miner, exporter restarted", Class: baseline, Profile: fleet.SteadyMiner(), ExporterRestart: true},
		{Name: "flat training on L40S (no FP64 field)", Class: fault, Profile: fleet.FlatTraining(), Model: fleet.AdaModel, Unsupported: []string{fleet.MetricFP64Active}},
		{Name: "FP64 HPC on L40S (no FP64 field)", Class: fault, Profile: fleet.FP64HPC(), Model: fleet.AdaModel, Unsupported: []string{fleet.MetricFP64Active}},
		{Name: "steady miner on L40S (no FP64 field)", Class: baseline, Profile: fleet.SteadyMiner(), Model: fleet.AdaModel, Unsupported: []string{fleet.MetricFP64Active}},
		{Name: "FP64 HPC, FP64 field unsupported", Class: fault, Profile: fleet.FP64HPC(), Unsupported: []string{fleet.MetricFP64Active}},
		{Name: "flat training, FP16 field unsupported", Class: fault, Profile: fleet.FlatTraining(), Unsupported: []string{fleet.MetricFP16Active}},
		{Name: "steady miner, tensor field unsupported", Class: baseline, Profile: fleet.SteadyMiner(), Unsupported: []string{fleet.MetricTensorActive}},
		{Name: "idle", Class: legit, Profile: fleet.Idle()},
		{Name: "busy GPU without a pod", Class: baseline, Profile: fleet.SteadyMiner(), Podless: true},
		{Name: "flat LLM training on MIG", Class: legit, Profile: fleet.FlatTraining(), MIG: true},
		{Name: "steady miner on MIG", Class: baseline, Profile: fleet.SteadyMiner(), MIG: true},
	}
}

// The catalogues.
const (
	legit       = "legitimate"
	adversarial = "adversarial"
	fault       = "fault"
	baseline    = "baseline"
)

// frozenAt is when the frozen profiler stuck: a training step's reading,
// long before the matrix's window.
var frozenAt = time.Date(2026, 11, 24, 9, 0, 7, 0, time.UTC)

// The exporter restart: the dcgm-exporter pod goes at 11:31:07 of the
// 11:00-12:00 window and its successor answers 30 s later, so two
// scrapes are missed and the 5 m chunk (11:30, 11:35] holds 4 samples of
// the old series and 14 of the new.
var (
	restartAt   = time.Date(2026, 11, 24, 11, 31, 7, 0, time.UTC)
	restartDown = 30 * time.Second
)

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

func saturation(s analyzer.Strength) Outcome {
	return Outcome{Verdict: analyzer.Miner, Rule: "pipe_saturation", Strength: s}
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
	"flat LLM training":                  {"gpu-operator": veto, "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": veto},
	"periodic training":                  {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign, "hopper-all-dcp": benign},
	"inference":                          {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign, "hopper-all-dcp": benign},
	"FP32 HPC":                           {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": veto},
	"FP64 HPC":                           {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": veto},
	"small CNN":                          {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign, "hopper-all-dcp": benign},
	"FP64 molecular dynamics":            {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": veto},
	"GPU ETL":                            {"gpu-operator": signature(partial), "exporter-default": benign, "all-dcp": benign, "utilization-only": benign, "hopper-all-dcp": benign},
	"int8 batch inference":               {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign, "hopper-all-dcp": benign},
	"idle notebook":                      {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign, "hopper-all-dcp": benign},
	"steady miner":                       {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": flat(strong), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(strong)},
	"memory-hard miner":                  {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": flat(strong), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(strong)},
	"throttled miner 90%":                {"gpu-operator": signature(partial), "exporter-default": benign, "all-dcp": signature(strong), "utilization-only": benign, "hopper-all-dcp": saturation(strong)},
	"throttled miner 80%":                {"gpu-operator": signature(partial), "exporter-default": benign, "all-dcp": signature(strong), "utilization-only": benign, "hopper-all-dcp": saturation(strong)},
	"throttled miner 70%":                {"gpu-operator": signature(partial), "exporter-default": benign, "all-dcp": signature(strong), "utilization-only": benign, "hopper-all-dcp": saturation(strong)},
	"token-kernel miner":                 {"gpu-operator": veto, "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(strong)},
	"jittering miner":                    {"gpu-operator": signature(partial), "exporter-default": benign, "all-dcp": signature(partial), "utilization-only": benign, "hopper-all-dcp": saturation(strong)},
	"duty-cycled miner 40m/20m":          {"gpu-operator": signature(partial), "exporter-default": benign, "all-dcp": signature(partial), "utilization-only": benign, "hopper-all-dcp": saturation(strong)},
	"copy-loop miner":                    {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": flat(strong), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(strong)},
	"disguised miner":                    {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign, "hopper-all-dcp": saturation(strong)},
	"int8 GEMM proof of work":            {"gpu-operator": veto, "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(partial)},
	"memory-hard miner + token kernels":  {"gpu-operator": veto, "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": veto},
	"alternating miner 40m/20m ML":       {"gpu-operator": signature(partial), "exporter-default": flat(utilOnly), "all-dcp": signature(partial), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(strong)},
	"alternating miner 10m/10m ML":       {"gpu-operator": veto, "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": veto},
	"flat training, profiler reads 0":    {"gpu-operator": flat(utilOnly), "exporter-default": flat(utilOnly), "all-dcp": flat(utilOnly), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(utilOnly)},
	"periodic training, profiler frozen": {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign, "hopper-all-dcp": benign},
	// Frozen on a miner's reading, training would be a strong miner if
	// believed; frozen on training's, a miner would be vetoed.
	"flat training, profiler frozen on a miner's reading": {"gpu-operator": flat(utilOnly), "exporter-default": flat(utilOnly), "all-dcp": flat(utilOnly), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(utilOnly)},
	"steady miner, profiler frozen on a training reading": {"gpu-operator": flat(utilOnly), "exporter-default": flat(utilOnly), "all-dcp": flat(utilOnly), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(utilOnly)},
	// After an exporter restart the profiling fields, read as one
	// window-long point per series, cover only the longer half: the GPU
	// is judged on utilization alone until a whole window has passed.
	"flat training, exporter restarted": {"gpu-operator": veto, "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": veto},
	"steady miner, exporter restarted":  {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": flat(strong), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(strong)},
	// An L40S keeps its model on the Hopper set: no integer pipe there.
	"flat training on L40S (no FP64 field)":  {"gpu-operator": veto, "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": veto},
	"FP64 HPC on L40S (no FP64 field)":       {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": flat(partial), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(partial)},
	"steady miner on L40S (no FP64 field)":   {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": flat(strong), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(strong)},
	"FP64 HPC, FP64 field unsupported":       {"gpu-operator": flat(partial), "exporter-default": flat(utilOnly), "all-dcp": flat(partial), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(partial)},
	"flat training, FP16 field unsupported":  {"gpu-operator": veto, "exporter-default": flat(utilOnly), "all-dcp": veto, "utilization-only": flat(utilOnly), "hopper-all-dcp": veto},
	"steady miner, tensor field unsupported": {"gpu-operator": flat(utilOnly), "exporter-default": flat(utilOnly), "all-dcp": flat(partial), "utilization-only": flat(utilOnly), "hopper-all-dcp": flat(strong)},
	"idle":                                   {"gpu-operator": benign, "exporter-default": benign, "all-dcp": benign, "utilization-only": benign, "hopper-all-dcp": benign},
	"busy GPU without a pod":                 {"gpu-operator": busy, "exporter-default": busy, "all-dcp": busy, "utilization-only": busy, "hopper-all-dcp": busy},
	"flat LLM training on MIG":               {"gpu-operator": veto, "exporter-default": insufficient, "all-dcp": veto, "utilization-only": {}, "hopper-all-dcp": veto},
	"steady miner on MIG":                    {"gpu-operator": flat(partial), "exporter-default": insufficient, "all-dcp": flat(strong), "utilization-only": {}, "hopper-all-dcp": flat(strong)},
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
