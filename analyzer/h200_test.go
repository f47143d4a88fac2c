package analyzer

import (
	"bufio"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// h200Workload is one workload of analyzer/testdata/h200-telemetry.csv:
// real telemetry of real kernels on an NVIDIA H200, recorded at 1 s by
// scripts/gpu-telemetry/record.py (NVML and NVML GPM; provenance in the
// file's header). GPM's percentages are the hardware counters DCGM's
// DCGM_FI_PROF_* ratios read, so each maps to its signal by /100.
type h200Workload struct {
	util    []float64
	signals map[Signal][]float64
}

// h200Columns maps CSV columns to signals and the factor to the signal's
// dcgm-exporter unit. The tensor pipe is GPM's ANY_TENSOR (HMMA, IMMA and
// DMMA); whether DCGM's PIPE_TENSOR_ACTIVE counts DMMA is not established.
var h200Columns = map[string]struct {
	sig   Signal
	scale float64
}{
	"gpm_graphics_util":    {SignalGREngine, 0.01},
	"gpm_sm_util":          {SignalSM, 0.01},
	"gpm_any_tensor_util":  {SignalTensor, 0.01},
	"gpm_fp16_util":        {SignalFP16, 0.01},
	"gpm_fp32_util":        {SignalFP32, 0.01},
	"gpm_fp64_util":        {SignalFP64, 0.01},
	"gpm_dram_bw_util":     {SignalDRAM, 0.01},
	"gpm_integer_util":     {SignalInt, 0.01},
	"gpm_imma_tensor_util": {SignalIMMA, 0.01},
	"gpm_hmma_tensor_util": {SignalHMMA, 0.01},
	"gpm_dfma_tensor_util": {SignalDFMA, 0.01},
	"gpm_pcie_tx_MBps":     {SignalPCIeTx, 1 << 20}, // MiB/s, headers included
	"gpm_pcie_rx_MBps":     {SignalPCIeRx, 1 << 20},
	"mem_copy_util_pct":    {SignalMemCopy, 1},
	"pcie_tx_kBps":         {SignalPCIeTxKB, 1},
	"pcie_rx_kBps":         {SignalPCIeRxKB, 1},
	"power_w":              {SignalPower, 1},
}

func readH200(t *testing.T) map[string]h200Workload {
	t.Helper()
	f, err := os.Open("testdata/h200-telemetry.csv")
	if err != nil {
		t.Fatalf("real H200 telemetry: %v", err)
	}
	defer f.Close()
	out := map[string]h200Workload{}
	var header []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		cells := strings.Split(line, ",")
		if header == nil {
			header = cells
			continue
		}
		w := out[cells[0]]
		if w.signals == nil {
			w.signals = map[Signal][]float64{}
		}
		for i, name := range header {
			v, err := strconv.ParseFloat(cells[i], 64)
			if name == "gpu_util_pct" && err == nil {
				w.util = append(w.util, v)
			}
			if c, ok := h200Columns[name]; ok && err == nil {
				w.signals[c.sig] = append(w.signals[c.sig], v*c.scale)
			}
		}
		out[cells[0]] = w
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("%d workloads in the H200 telemetry, want the recorded 10+", len(out))
	}
	return out
}

// input turns a workload's samples into the analyzer's input: a 30 s window
// of 1 s samples in 10 s chunks, keeping only the signals asked for.
func (w h200Workload) input(keep []Signal) (Input, time.Duration) {
	const n, chunk = 30, 10 * time.Second
	at := func(xs []float64) func(time.Time) (float64, bool) {
		return func(t time.Time) (float64, bool) {
			i := n - 1 - int(testEnd.Sub(t)/time.Second)
			if i < 0 || i >= len(xs) {
				return 0, false
			}
			return xs[i], true
		}
	}
	g, p := gpu("h200", "0"), pod("team-a", "job")
	in := Input{End: testEnd, Window: n * time.Second, Chunk: chunk,
		Series: []Series{series(g, p, n*time.Second, chunk, time.Second, at(w.util))}}
	for _, sig := range keep {
		if xs, ok := w.signals[sig]; ok {
			s := series(g, p, n*time.Second, chunk, time.Second, at(xs))
			s.Signal = sig
			in.Series = append(in.Series, s)
		}
	}
	return in, time.Second
}

// Counter sets as dcgm-exporter ships them (signals only; utilization is
// always there).
var (
	h200AllDCP      = []Signal{SignalSM, SignalGREngine, SignalTensor, SignalFP16, SignalFP32, SignalFP64, SignalDRAM, SignalPCIeTx, SignalPCIeRx, SignalMemCopy, SignalPower}
	h200GPUOperator = []Signal{SignalGREngine, SignalTensor, SignalDRAM, SignalPCIeTx, SignalPCIeRx, SignalMemCopy, SignalPower}
	h200Default     = []Signal{SignalMemCopy, SignalPCIeTxKB, SignalPCIeRxKB, SignalPower}
	// Every DCP field plus the integer pipe and the tensor subtypes
	// (fields 1013-1016), which Hopper reports through GPM.
	h200Hopper = append(slices.Clone(h200AllDCP), SignalInt, SignalIMMA, SignalHMMA, SignalDFMA)
)

// The rules against real kernels on real hardware, per counter set: what
// each workload is judged, and whether the evidence could delete it.
func TestH200Telemetry(t *testing.T) {
	data := readH200(t)
	cases := []struct {
		workload, set string
		keep          []Signal
		verdict       Verdict
		rule          string
		strength      Strength
	}{
		{"llm_train", "all DCP", h200AllDCP, Benign, "training_veto", ""},
		{"inference", "all DCP", h200AllDCP, Benign, "training_veto", ""},
		{"fp32_hpc", "all DCP", h200AllDCP, Benign, "training_veto", ""},
		{"fp64_hpc", "all DCP", h200AllDCP, Benign, "training_veto", ""},
		{"llm_train_dataloader", "all DCP", h200AllDCP, Benign, "flat_high_util", ""},
		{"hash_int", "all DCP", h200AllDCP, Miner, "flat_high_util", StrengthStrong},
		{"hash_memhard", "all DCP", h200AllDCP, Miner, "flat_high_util", StrengthStrong},
		{"hash_int_throttled_80", "all DCP", h200AllDCP, Miner, "compute_signature", StrengthStrong},
		{"hash_int_throttled_70", "all DCP", h200AllDCP, Miner, "compute_signature", StrengthStrong},

		{"llm_train", "GPU Operator", h200GPUOperator, Benign, "training_veto", ""},
		{"inference", "GPU Operator", h200GPUOperator, Benign, "training_veto", ""},
		// The honest limit: FP32 work without tensor cores looks like a
		// miner on the tensor pipe alone, so the evidence stays partial.
		{"fp32_hpc", "GPU Operator", h200GPUOperator, Miner, "flat_high_util", StrengthPartial},
		{"hash_int", "GPU Operator", h200GPUOperator, Miner, "flat_high_util", StrengthPartial},
		{"hash_memhard", "GPU Operator", h200GPUOperator, Miner, "flat_high_util", StrengthPartial},
		{"hash_int_throttled_80", "GPU Operator", h200GPUOperator, Miner, "compute_signature", StrengthPartial},

		{"llm_train", "exporter default", h200Default, Miner, "flat_high_util", StrengthUtilizationOnly},
		{"hash_int", "exporter default", h200Default, Miner, "flat_high_util", StrengthUtilizationOnly},
		{"hash_int_throttled_80", "exporter default", h200Default, Benign, "flat_high_util", ""},

		// With the integer pipe: hashing is strong on what it cannot shed,
		// ML and HPC keep theirs low (0.06-0.17).
		{"llm_train", "Hopper", h200Hopper, Benign, "training_veto", ""},
		{"inference", "Hopper", h200Hopper, Benign, "training_veto", ""},
		{"fp32_hpc", "Hopper", h200Hopper, Benign, "training_veto", ""},
		{"fp64_hpc", "Hopper", h200Hopper, Benign, "training_veto", ""},
		{"llm_train_dataloader", "Hopper", h200Hopper, Benign, "flat_high_util", ""},
		{"hash_int", "Hopper", h200Hopper, Miner, "flat_high_util", StrengthStrong},
		{"hash_int_throttled_80", "Hopper", h200Hopper, Miner, "pipe_saturation", StrengthStrong},
		{"hash_int_throttled_70", "Hopper", h200Hopper, Miner, "pipe_saturation", StrengthStrong},
		{"hash_memhard", "Hopper", h200Hopper, Miner, "flat_high_util", StrengthStrong},
	}
	cfg := DefaultConfig()
	cfg.ScrapeInterval = time.Second
	for _, c := range cases {
		t.Run(c.workload+"/"+c.set, func(t *testing.T) {
			w, ok := data[c.workload]
			if !ok {
				t.Fatalf("no %s in the H200 telemetry", c.workload)
			}
			in, _ := w.input(c.keep)
			rep := Analyze(in, cfg)
			if len(rep.Pods) != 1 {
				t.Fatalf("%d pods, want 1", len(rep.Pods))
			}
			g := rep.Pods[0].GPUs[0]
			if g.Verdict != c.verdict || g.Rule != c.rule || g.Strength != c.strength {
				t.Fatalf("%s by %s, strength %q: %s; want %s by %s, strength %q", g.Verdict, g.Rule, g.Strength, g.Reason, c.verdict, c.rule, c.strength)
			}
			if got := rep.Pods[0].Evidence.Enforceable; got != (c.strength == StrengthStrong) {
				t.Errorf("enforceable %v for strength %q", got, c.strength)
			}
		})
	}
}

// Both sides of the training veto's threshold, on real kernels: every
// training, inference and HPC workload's busiest pipe sits at least 3x above
// it, and every hashing kernel's busiest pipe below the idle bar.
func TestH200VetoMargins(t *testing.T) {
	data := readH200(t)
	cfg := DefaultConfig()
	busiest := func(w h200Workload) (float64, Signal) {
		var best float64
		var name Signal
		for _, s := range pipeSignals {
			if m := mean(w.signals[s]); m >= best {
				best, name = m, s
			}
		}
		return best, name
	}
	for _, name := range []string{"llm_train", "inference", "fp32_hpc", "fp64_hpc"} {
		if b, s := busiest(data[name]); b < 3*cfg.TrainingVeto.PipeActiveAbove {
			t.Errorf("%s: busiest pipe %s %.3f is within 3x of the veto's %g", name, s, b, cfg.TrainingVeto.PipeActiveAbove)
		}
	}
	for _, name := range []string{"hash_int", "hash_memhard", "hash_int_throttled_80", "hash_int_throttled_70"} {
		if b, s := busiest(data[name]); b >= cfg.ComputeSignature.PipeActiveBelow {
			t.Errorf("%s: busiest pipe %s %.4f is not below the idle bar %g", name, s, b, cfg.ComputeSignature.PipeActiveBelow)
		}
		if link := mean(data[name].signals[SignalPCIeTx]) + mean(data[name].signals[SignalPCIeRx]); link >= cfg.ComputeSignature.InterconnectBelow {
			t.Errorf("%s: PCIe %s/s is not below the compute signature's %s/s", name, humanBytes(link), humanBytes(cfg.ComputeSignature.InterconnectBelow))
		}
	}
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
