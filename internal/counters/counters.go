// Package counters holds the dcgm-exporter counters file the detector
// recommends: the GPU Operator's dcp-metrics-included.csv with the DCP
// fields it leaves commented out (SM_ACTIVE and the FP16/FP32/FP64 pipes,
// NVLink bytes) enabled, and what each field adds to the detector's
// decisions. It renders the file (the Helm chart ships the same text) and
// the lines to enable for the signals a cluster lacks.
package counters

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/miner-detector/miner-detector/analyzer"
)

// Field is one line of a dcgm-exporter counters CSV: DCGM field, Prometheus
// metric type, help text; Signal is the detector's signal it carries, if any,
// and Adds what enabling it changes.
type Field struct {
	Name, Type, Help string
	Signal           analyzer.Signal
	Adds             string
}

// Line is the field as a counters-CSV line.
func (f Field) Line() string { return fmt.Sprintf("%s, %s, %s", f.Name, f.Type, f.Help) }

// Recommended is the recommended counters file, in its order. The device
// fields and the help texts follow dcgm-exporter's etc/dcp-metrics-included.csv.
func Recommended() []Field {
	return []Field{
		{Name: "DCGM_FI_DEV_SM_CLOCK", Type: "gauge", Help: "SM clock frequency (in MHz)."},
		{Name: "DCGM_FI_DEV_MEM_CLOCK", Type: "gauge", Help: "Memory clock frequency (in MHz)."},
		{Name: "DCGM_FI_DEV_MEMORY_TEMP", Type: "gauge", Help: "Memory temperature (in C)."},
		{Name: "DCGM_FI_DEV_GPU_TEMP", Type: "gauge", Help: "GPU temperature (in C)."},
		{Name: "DCGM_FI_DEV_POWER_USAGE", Type: "gauge", Help: "Power draw (in W).", Signal: analyzer.SignalPower,
			Adds: "power, shown in the evidence"},
		{Name: "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", Type: "counter", Help: "Total energy consumption since boot (in mJ)."},
		{Name: "DCGM_FI_DEV_PCIE_TX_THROUGHPUT", Type: "counter", Help: "Total number of bytes transmitted through PCIe TX (in KB) via NVML.",
			Signal: analyzer.SignalPCIeTxKB, Adds: "interconnect when the PROF PCIe fields are absent"},
		{Name: "DCGM_FI_DEV_PCIE_RX_THROUGHPUT", Type: "counter", Help: "Total number of bytes received through PCIe RX (in KB) via NVML.",
			Signal: analyzer.SignalPCIeRxKB, Adds: "interconnect when the PROF PCIe fields are absent"},
		{Name: "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", Type: "counter", Help: "Total number of PCIe retries."},
		{Name: "DCGM_FI_DEV_GPU_UTIL", Type: "gauge", Help: "GPU utilization (in %).", Signal: analyzer.SignalUtil,
			Adds: "the flat_high_util rule: needed for everything"},
		{Name: "DCGM_FI_DEV_MEM_COPY_UTIL", Type: "gauge", Help: "Memory utilization (in %).", Signal: analyzer.SignalMemCopy,
			Adds: "memory activity when DRAM_ACTIVE is absent"},
		{Name: "DCGM_FI_DEV_ENC_UTIL", Type: "gauge", Help: "Encoder utilization (in %)."},
		{Name: "DCGM_FI_DEV_DEC_UTIL", Type: "gauge", Help: "Decoder utilization (in %)."},
		{Name: "DCGM_FI_DEV_XID_ERRORS", Type: "gauge", Help: "Value of the last XID error encountered."},
		{Name: "DCGM_FI_DEV_FB_FREE", Type: "gauge", Help: "Framebuffer memory free (in MiB)."},
		{Name: "DCGM_FI_DEV_FB_USED", Type: "gauge", Help: "Framebuffer memory used (in MiB)."},
		{Name: "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", Type: "counter", Help: "Total number of NVLink bandwidth counters for all lanes.",
			Signal: analyzer.SignalNVLinkTotal, Adds: "interconnect when the PROF NVLink fields are absent"},
		{Name: "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", Type: "counter", Help: "Number of remapped rows for uncorrectable errors"},
		{Name: "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", Type: "counter", Help: "Number of remapped rows for correctable errors"},
		{Name: "DCGM_FI_DEV_ROW_REMAP_FAILURE", Type: "gauge", Help: "Whether remapping of rows has failed"},
		{Name: "DCGM_FI_DRIVER_VERSION", Type: "label", Help: "Driver Version"},
		{Name: "DCGM_FI_PROF_GR_ENGINE_ACTIVE", Type: "gauge", Help: "Ratio of time the graphics engine is active.",
			Signal: analyzer.SignalGREngine, Adds: "activity (and the only activity of a MIG instance)"},
		{Name: "DCGM_FI_PROF_SM_ACTIVE", Type: "gauge", Help: "The ratio of cycles an SM has at least 1 warp assigned.",
			Signal: analyzer.SignalSM, Adds: "SM activity, finer than the graphics engine's for compute_signature"},
		{Name: "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", Type: "gauge", Help: "Ratio of cycles the tensor (HMMA) pipe is active.",
			Signal: analyzer.SignalTensor, Adds: "training_veto for training and inference; needed for strong evidence"},
		{Name: "DCGM_FI_PROF_DRAM_ACTIVE", Type: "gauge", Help: "Ratio of cycles the device memory interface is active sending or receiving data.",
			Signal: analyzer.SignalDRAM, Adds: "memory activity for memory-hard miners"},
		{Name: "DCGM_FI_PROF_PIPE_FP64_ACTIVE", Type: "gauge", Help: "Ratio of cycles the fp64 pipes are active.",
			Signal: analyzer.SignalFP64, Adds: "spares FP64 HPC; needed for strong (deletable) evidence"},
		{Name: "DCGM_FI_PROF_PIPE_FP32_ACTIVE", Type: "gauge", Help: "Ratio of cycles the fp32 pipes are active.",
			Signal: analyzer.SignalFP32, Adds: "spares FP32 HPC; needed for strong (deletable) evidence"},
		{Name: "DCGM_FI_PROF_PIPE_FP16_ACTIVE", Type: "gauge", Help: "Ratio of cycles the fp16 pipes are active.",
			Signal: analyzer.SignalFP16, Adds: "spares FP16 work outside the tensor cores"},
		{Name: "DCGM_FI_PROF_PCIE_TX_BYTES", Type: "gauge", Help: "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
			Signal: analyzer.SignalPCIeTx, Adds: "interconnect for compute_signature"},
		{Name: "DCGM_FI_PROF_PCIE_RX_BYTES", Type: "gauge", Help: "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
			Signal: analyzer.SignalPCIeRx, Adds: "interconnect for compute_signature"},
		{Name: "DCGM_FI_PROF_NVLINK_TX_BYTES", Type: "gauge", Help: "The rate of data transmitted over NVLink, not including protocol headers, in bytes per second.",
			Signal: analyzer.SignalNVLinkTx, Adds: "interconnect: multi-GPU training's all-reduce"},
		{Name: "DCGM_FI_PROF_NVLINK_RX_BYTES", Type: "gauge", Help: "The rate of data received over NVLink, not including protocol headers, in bytes per second.",
			Signal: analyzer.SignalNVLinkRx, Adds: "interconnect: multi-GPU training's all-reduce"},
		// Fields 1013-1016, which no counters file dcgm-exporter ships lists:
		// Hopper and newer report them (NVML GPM); IMMA/HMMA/DFMA need GA100
		// or newer; the integer pipe is not reported on Ampere or Ada. On a
		// GPU that lacks one, dcgm-exporter skips the line ("metric not
		// enabled"): the series is absent, never 0. DCGM 4.6 names them
		// DCGM_FI_PROF_INT_UTIL_RATIO, ..._IMMA/HMMA/DFMA_UTIL_RATIO; the
		// detector reads both spellings.
		{Name: "DCGM_FI_PROF_PIPE_INT_ACTIVE", Type: "gauge", Help: "Ratio of cycles the integer pipe is active (Hopper and newer).",
			Signal: analyzer.SignalInt, Adds: "pipe_saturation: a hash kernel's integer pipe, strong evidence whatever the miner adds (Hopper and newer)"},
		{Name: "DCGM_FI_PROF_PIPE_TENSOR_IMMA_ACTIVE", Type: "gauge", Help: "Ratio of cycles the tensor (IMMA) pipe is active (GA100 and newer).",
			Signal: analyzer.SignalIMMA, Adds: "pipe_saturation: int8 GEMM proof of work (GA100 and newer)"},
		{Name: "DCGM_FI_PROF_PIPE_TENSOR_HMMA_ACTIVE", Type: "gauge", Help: "Ratio of cycles the tensor (HMMA) pipe is active (GA100 and newer).",
			Signal: analyzer.SignalHMMA, Adds: "training_veto: half-precision tensor work told apart from int8 (GA100 and newer)"},
		{Name: "DCGM_FI_PROF_PIPE_TENSOR_DFMA_ACTIVE", Type: "gauge", Help: "Ratio of cycles the tensor (DFMA) pipe is active (GA100 and newer).",
			Signal: analyzer.SignalDFMA, Adds: "training_veto: FP64 on the tensor cores (GA100 and newer)"},
	}
}

// CSV renders the recommended counters file.
func CSV() string {
	var b strings.Builder
	b.WriteString("# Miner Detector's recommended dcgm-exporter counters: the GPU Operator's\n")
	b.WriteString("# dcp-metrics-included.csv with every DCP field the detector judges on enabled.\n")
	b.WriteString("# Format: DCGM FIELD, Prometheus metric type, help message\n")
	for _, f := range Recommended() {
		b.WriteString(f.Line())
		b.WriteString("\n")
	}
	return b.String()
}

// For returns the field that carries sig.
func For(sig analyzer.Signal) (Field, bool) {
	for _, f := range Recommended() {
		if f.Signal == sig && f.Name != "" && sig != analyzer.SignalUtil {
			return f, true
		}
	}
	return Field{}, false
}

// WriteInventory prints what the cluster's signals let the detector decide,
// and the counters-CSV lines to enable for what is missing.
func WriteInventory(w io.Writer, inv analyzer.Inventory) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Signals on %d GPUs (covering the coverage guard of the window):\n", inv.GPUs)
	fmt.Fprintln(tw, "ROLE\tSIGNAL\tMETRIC\tGPUS")
	metric := func(s analyzer.Signal) string {
		if f, ok := For(s); ok {
			return f.Name
		}
		return "-"
	}
	for _, role := range analyzer.Roles() {
		for _, s := range role.Signals() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", role, s, metric(s), inv.Signals[s])
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nRules: flat_high_util can judge %d GPUs, training_veto %d, compute_signature %d, pipe_saturation %d.\n",
		inv.Rules["flat_high_util"], inv.Rules["training_veto"], inv.Rules["compute_signature"], inv.Rules["pipe_saturation"])
	fmt.Fprintf(w, "Strong (deletable) evidence is possible on %d of %d GPUs (the integer pipe, or the tensor, FP32 and FP64 pipes the board has, exported).\n",
		inv.StrongEvidence, inv.GPUs)
	if inv.ProfilerFaults > 0 {
		fmt.Fprintf(w, "Profiler faults: %d GPUs' profiling fields disagree with their utilization (zeros or a frozen reading on a busy GPU); they are judged on utilization alone.\n",
			inv.ProfilerFaults)
	}
	if inv.SeriesDisagree > 0 {
		fmt.Fprintf(w, "Disagreeing series: %d GPUs are served by two series that report different values (two exporters, or a stale one); their verdicts are never enforceable. scan's evidence names both.\n",
			inv.SeriesDisagree)
	}
	missing := inv.Missing()
	if len(missing) == 0 {
		_, err := fmt.Fprintln(w, "\nEvery signal the detector judges on is exported.")
		return err
	}
	fmt.Fprintln(w, "\nTo see more, enable these lines in dcgm-exporter's counters CSV (the GPU Operator:")
	fmt.Fprintln(w, "dcgmExporter.config.name; the chart ships the whole file with dcgmExporterCounters.enabled=true):")
	for _, s := range missing {
		if f, ok := For(s); ok {
			fmt.Fprintf(w, "  %s\n      # on %d of %d GPUs; adds: %s\n", f.Line(), inv.Signals[s], inv.GPUs, f.Adds)
		}
	}
	return nil
}
