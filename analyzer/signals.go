package analyzer

import "math"

// Signal names one dcgm-exporter metric the analyzer reads. The zero value
// is GPU utilization, so util-only producers need not set it.
type Signal string

// The signals. GPU utilization is a percentage; the PROF activity gauges are
// ratios 0..1 (DCGM field definitions); bandwidths are bytes per second;
// power is watts.
const (
	SignalUtil     Signal = ""                 // DCGM_FI_DEV_GPU_UTIL, percent
	SignalGREngine Signal = "gr_engine_active" // DCGM_FI_PROF_GR_ENGINE_ACTIVE (per MIG instance)
	SignalSM       Signal = "sm_active"        // DCGM_FI_PROF_SM_ACTIVE
	SignalTensor   Signal = "tensor_active"    // DCGM_FI_PROF_PIPE_TENSOR_ACTIVE
	SignalFP64     Signal = "fp64_active"      // DCGM_FI_PROF_PIPE_FP64_ACTIVE
	SignalFP32     Signal = "fp32_active"      // DCGM_FI_PROF_PIPE_FP32_ACTIVE
	SignalFP16     Signal = "fp16_active"      // DCGM_FI_PROF_PIPE_FP16_ACTIVE
	SignalDRAM     Signal = "dram_active"      // DCGM_FI_PROF_DRAM_ACTIVE
	SignalPCIeTx   Signal = "pcie_tx_bytes"    // DCGM_FI_PROF_PCIE_TX_BYTES, B/s
	SignalPCIeRx   Signal = "pcie_rx_bytes"    // DCGM_FI_PROF_PCIE_RX_BYTES, B/s
	SignalNVLinkTx Signal = "nvlink_tx_bytes"  // DCGM_FI_PROF_NVLINK_TX_BYTES, B/s
	SignalNVLinkRx Signal = "nvlink_rx_bytes"  // DCGM_FI_PROF_NVLINK_RX_BYTES, B/s
	SignalPower    Signal = "power_watts"      // DCGM_FI_DEV_POWER_USAGE, W

	// The integer pipe and the tensor pipe's subtypes (DCGM fields 1016 and
	// 1013-1015; DCGM >= 3.0.4 and >= 2.4.5): on Hopper and newer read
	// from NVML GPM. No counters CSV that dcgm-exporter ships lists them;
	// DCGM 4.6 renamed them (DCGM_FI_PROF_INT_UTIL_RATIO, ...) and keeps
	// the old names as aliases (NVIDIA/DCGM dcgmlib/dcgm_fields.h, 4.6.0).
	SignalInt  Signal = "int_active"         // DCGM_FI_PROF_PIPE_INT_ACTIVE
	SignalIMMA Signal = "tensor_imma_active" // DCGM_FI_PROF_PIPE_TENSOR_IMMA_ACTIVE, int8
	SignalHMMA Signal = "tensor_hmma_active" // DCGM_FI_PROF_PIPE_TENSOR_HMMA_ACTIVE, FP16/BF16/TF32
	SignalDFMA Signal = "tensor_dfma_active" // DCGM_FI_PROF_PIPE_TENSOR_DFMA_ACTIVE, FP64

	// The device-level (DEV_*) fields of dcgm-exporter's default counters,
	// which need no profiling module: the fallbacks for memory and
	// interconnect when the DCGM_FI_PROF_* fields are not exported.
	SignalMemCopy     Signal = "mem_copy_util"          // DCGM_FI_DEV_MEM_COPY_UTIL, percent
	SignalPCIeTxKB    Signal = "pcie_tx_throughput"     // DCGM_FI_DEV_PCIE_TX_THROUGHPUT, KB/s
	SignalPCIeRxKB    Signal = "pcie_rx_throughput"     // DCGM_FI_DEV_PCIE_RX_THROUGHPUT, KB/s
	SignalNVLinkTotal Signal = "nvlink_bandwidth_total" // DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL, MB/s
)

// ProfilingSignals are the signals beyond utilization, in evidence order.
func ProfilingSignals() []Signal {
	return []Signal{SignalGREngine, SignalSM, SignalTensor, SignalFP64, SignalFP32, SignalFP16, SignalDRAM,
		SignalPCIeTx, SignalPCIeRx, SignalNVLinkTx, SignalNVLinkRx, SignalPower,
		SignalMemCopy, SignalPCIeTxKB, SignalPCIeRxKB, SignalNVLinkTotal,
		SignalInt, SignalIMMA, SignalHMMA, SignalDFMA}
}

// pipeSignals are the floating-point and tensor pipes that deep learning
// and HPC keep busy and hash kernels do not use. Hash kernels run on the
// integer pipe (SignalInt), which is judged apart: it is what their
// hashrate scales with.
var pipeSignals = []Signal{SignalTensor, SignalFP16, SignalFP32, SignalFP64}

// profSignals are the profiling module's activity ratios: what a broken
// profiler reports as 0 or freezes (see profilerFault).
var profSignals = []Signal{SignalGREngine, SignalSM, SignalTensor, SignalFP64, SignalFP32, SignalFP16, SignalDRAM,
	SignalInt, SignalIMMA, SignalHMMA, SignalDFMA}

// Spread reports whether the rules judge the signal's spread (its stddev):
// the activity and memory signals (compute_signature's "held", a frozen
// profiler). A reader may read the others without it; their stddev is then
// reported as 0, not as the spread between the parts they were read in.
func (s Signal) Spread() bool {
	switch s {
	case SignalUtil, SignalSM, SignalGREngine, SignalDRAM, SignalMemCopy:
		return true
	}
	return false
}

// ValidRange bounds a valid sample of the signal; values outside are bad
// samples. Utilization's range is the analyzer Config's.
func (s Signal) ValidRange() (lo, hi float64) {
	switch s {
	case SignalUtil:
		return 0, 100
	case SignalPCIeTx, SignalPCIeRx, SignalNVLinkTx, SignalNVLinkRx, SignalPCIeTxKB, SignalPCIeRxKB, SignalNVLinkTotal:
		return 0, math.MaxFloat64
	case SignalMemCopy:
		return 0, 100
	case SignalPower:
		return 0, 10000
	default:
		return 0, 1
	}
}

// Scale turns the signal's unit into the one its role is judged in: ratios
// 0..1 for activity and memory, bytes per second for interconnect.
//
// The DEV_* throughput fields are listed as counters in dcgm-exporter's CSV
// files, but DCGM fills them from NVML's instantaneous readings: PCIe
// throughput in KB/s over a 20 ms sample (NVML nvmlDeviceGetPcieThroughput)
// and NVLink bandwidth in MB/s (DCGM field 449, as KempnerPulse v0.4.1's
// release notes found on real hardware). Were one of them a growing counter
// after all, its mean would be huge and the GPU would look like it moves
// data: that only ever prevents a miner verdict, never causes one.
func (s Signal) Scale() float64 {
	switch s {
	case SignalMemCopy:
		return 0.01
	case SignalPCIeTxKB, SignalPCIeRxKB:
		return 1e3
	case SignalNVLinkTotal:
		return 1e6
	default:
		return 1
	}
}

// SignalStats are one signal's numbers over the window.
type SignalStats struct {
	Mean     float64 `json:"mean"`
	StdDev   float64 `json:"stddev"`
	Samples  int64   `json:"samples"`
	Coverage float64 `json:"coverage"`
}

// Profile is a GPU's profiling signals over the window, the ones with
// enough coverage to be trusted.
type Profile map[Signal]SignalStats

// has reports whether every signal in ss is present.
func (p Profile) has(ss ...Signal) bool {
	for _, s := range ss {
		if _, ok := p[s]; !ok {
			return false
		}
	}
	return true
}

// covered is the profile without the signals covering less than minCoverage
// of the window: too thin to judge with. It is p itself when every signal
// covers (the common case at fleet scale): never write to the result.
func (p Profile) covered(minCoverage float64) Profile {
	thin := false
	for _, st := range p {
		thin = thin || st.Coverage < minCoverage
	}
	if !thin {
		return p // the common case, at fleet scale: shared, never written to
	}
	out := make(Profile, len(p))
	for s, st := range p {
		if st.Coverage >= minCoverage {
			out[s] = st
		}
	}
	return out
}
