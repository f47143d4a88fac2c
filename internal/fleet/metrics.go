package fleet

import (
	"math"
	"slices"
	"strings"
)

// The dcgm-exporter metrics the fleet can simulate. Field meanings follow
// NVIDIA's DCGM documentation ("Field identifiers" and the profiling-metrics
// section of the DCGM user guide); units are those dcgm-exporter publishes.
const (
	// MetricGPUUtil is the share of the sample period during which one or
	// more kernels ran, as an integer percentage 0..100. Not published for
	// MIG instances.
	MetricGPUUtil = "DCGM_FI_DEV_GPU_UTIL"
	// MetricGREngineActive is the ratio (0..1) of time the graphics or
	// compute engine was busy: GPU_UTIL's profiling counterpart, and the
	// activity signal of a MIG instance.
	MetricGREngineActive = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
	// MetricSMActive is the ratio (0..1) of cycles an SM had at least one
	// warp resident, averaged over all SMs.
	MetricSMActive = "DCGM_FI_PROF_SM_ACTIVE"
	// MetricTensorActive is the ratio (0..1) of cycles the tensor (HMMA/IMMA)
	// pipe was busy.
	MetricTensorActive = "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"
	// MetricFP64Active, MetricFP32Active and MetricFP16Active are the ratios
	// (0..1) of cycles the FP64, FMA (FP32) and FP16 pipes were busy.
	MetricFP64Active = "DCGM_FI_PROF_PIPE_FP64_ACTIVE"
	MetricFP32Active = "DCGM_FI_PROF_PIPE_FP32_ACTIVE"
	MetricFP16Active = "DCGM_FI_PROF_PIPE_FP16_ACTIVE"
	// MetricDRAMActive is the ratio (0..1) of cycles the device-memory
	// interface was sending or receiving data.
	MetricDRAMActive = "DCGM_FI_PROF_DRAM_ACTIVE"
	// MetricPCIeTxBytes and MetricPCIeRxBytes are the rates (bytes per
	// second, headers included) the GPU sent to and received from the host
	// over PCIe.
	MetricPCIeTxBytes = "DCGM_FI_PROF_PCIE_TX_BYTES"
	MetricPCIeRxBytes = "DCGM_FI_PROF_PCIE_RX_BYTES"
	// MetricNVLinkTxBytes and MetricNVLinkRxBytes are the rates (bytes per
	// second) the GPU sent to and received from its NVLink peers.
	MetricNVLinkTxBytes = "DCGM_FI_PROF_NVLINK_TX_BYTES"
	MetricNVLinkRxBytes = "DCGM_FI_PROF_NVLINK_RX_BYTES"
	// MetricPower is the board power draw in watts. dcgm-exporter publishes
	// it even without profiling, and on every MIG instance of a GPU with the
	// whole board's value.
	MetricPower = "DCGM_FI_DEV_POWER_USAGE"
	// MetricMemCopyUtil is the share of the sample period during which
	// device memory was read or written, an integer percentage (NVML's
	// memory utilization): DRAM_ACTIVE's device-level counterpart.
	MetricMemCopyUtil = "DCGM_FI_DEV_MEM_COPY_UTIL"
	// MetricPCIeTxThroughput and MetricPCIeRxThroughput are NVML's PCIe
	// throughput in KB/s over a 20 ms sample (nvmlDeviceGetPcieThroughput),
	// listed as counters in dcgm-exporter's default-counters.csv.
	MetricPCIeTxThroughput = "DCGM_FI_DEV_PCIE_TX_THROUGHPUT"
	MetricPCIeRxThroughput = "DCGM_FI_DEV_PCIE_RX_THROUGHPUT"
	// MetricNVLinkBandwidthTotal is the NVLink traffic of all links in MB/s
	// (DCGM field 449).
	MetricNVLinkBandwidthTotal = "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"
	// MetricIntActive is the ratio (0..1) of cycles the integer pipe was
	// busy (DCGM field 1016, DCGM 3.0.4 and later; reported on Hopper and
	// newer GPUs).
	MetricIntActive = "DCGM_FI_PROF_PIPE_INT_ACTIVE"
	// MetricTensorIMMAActive, MetricTensorHMMAActive and
	// MetricTensorDFMAActive split PIPE_TENSOR_ACTIVE by operation (DCGM
	// fields 1013, 1014 and 1015): the ratios (0..1) of cycles the tensor
	// pipe ran integer (int8/int4 IMMA), half-precision (FP16/BF16/TF32
	// HMMA) and double-precision (FP64 DFMA/DMMA) matrix operations.
	MetricTensorIMMAActive = "DCGM_FI_PROF_PIPE_TENSOR_IMMA_ACTIVE"
	MetricTensorHMMAActive = "DCGM_FI_PROF_PIPE_TENSOR_HMMA_ACTIVE"
	MetricTensorDFMAActive = "DCGM_FI_PROF_PIPE_TENSOR_DFMA_ACTIVE"
)

// Metric is the utilization metric dcgm-exporter publishes, the only one the
// fleet emits unless Scrape.Metrics asks for more.
const Metric = MetricGPUUtil

var profilingMetrics = []string{
	MetricGREngineActive, MetricSMActive, MetricTensorActive,
	MetricFP64Active, MetricFP32Active, MetricFP16Active, MetricDRAMActive,
	MetricPCIeTxBytes, MetricPCIeRxBytes, MetricNVLinkTxBytes, MetricNVLinkRxBytes,
	MetricPower,
	MetricMemCopyUtil, MetricPCIeTxThroughput, MetricPCIeRxThroughput, MetricNVLinkBandwidthTotal,
	MetricIntActive, MetricTensorIMMAActive, MetricTensorHMMAActive, MetricTensorDFMAActive,
}

// ProfilingMetrics lists every metric the fleet simulates except
// DCGM_FI_DEV_GPU_UTIL, in a stable order.
func ProfilingMetrics() []string { return slices.Clone(profilingMetrics) }

// AllMetrics is DCGM_FI_DEV_GPU_UTIL followed by ProfilingMetrics: what to
// put in Scrape.Metrics for the full set.
func AllMetrics() []string { return append([]string{MetricGPUUtil}, profilingMetrics...) }

// isProfiling reports whether metric needs dcgm-exporter's profiling (DCP)
// module: every DCGM_FI_PROF_* field.
func isProfiling(metric string) bool {
	return strings.HasPrefix(metric, "DCGM_FI_PROF_")
}

// physicalOnly reports whether metric is published for the physical GPU
// only, never per MIG instance (device-level fields other than power, which
// the fleet reports on each instance with the board's value).
func physicalOnly(metric string) bool {
	switch metric {
	case MetricGPUUtil, MetricMemCopyUtil, MetricPCIeTxThroughput, MetricPCIeRxThroughput, MetricNVLinkBandwidthTotal:
		return true
	}
	return false
}

// CounterSet is a set of dcgm-exporter metrics a cluster exports, as
// shipped by NVIDIA.
type CounterSet struct {
	// Name is short and stable: "gpu-operator", "exporter-default", ...
	Name string
	// Source says where the set comes from.
	Source string
	// Metrics are what FleetSeries emits with this set (Scrape.Metrics).
	Metrics []string
}

// The counter sets clusters really run. Sources: dcgm-exporter's
// etc/dcp-metrics-included.csv (what the GPU Operator deploys) and
// etc/default-counters.csv (the exporter's own default and its Helm
// chart's), restricted to the metrics the fleet simulates.
var (
	GPUOperatorCounters = CounterSet{Name: "gpu-operator", Source: "dcgm-exporter etc/dcp-metrics-included.csv (the GPU Operator's default)",
		Metrics: []string{MetricGPUUtil, MetricMemCopyUtil, MetricPower, MetricGREngineActive, MetricTensorActive, MetricDRAMActive,
			MetricPCIeTxBytes, MetricPCIeRxBytes}}
	ExporterDefaultCounters = CounterSet{Name: "exporter-default", Source: "dcgm-exporter etc/default-counters.csv (no DCGM_FI_PROF_*)",
		Metrics: []string{MetricGPUUtil, MetricMemCopyUtil, MetricPower, MetricPCIeTxThroughput, MetricPCIeRxThroughput, MetricNVLinkBandwidthTotal}}
	AllDCPCounters = CounterSet{Name: "all-dcp", Source: "every DCP field enabled (SM_ACTIVE and the FP16/32/64 pipes uncommented)",
		Metrics: []string{MetricGPUUtil,
			MetricGREngineActive, MetricSMActive, MetricTensorActive,
			MetricFP64Active, MetricFP32Active, MetricFP16Active, MetricDRAMActive,
			MetricPCIeTxBytes, MetricPCIeRxBytes, MetricNVLinkTxBytes, MetricNVLinkRxBytes,
			MetricPower,
			MetricMemCopyUtil, MetricPCIeTxThroughput, MetricPCIeRxThroughput, MetricNVLinkBandwidthTotal}}
	UtilizationOnlyCounters = CounterSet{Name: "utilization-only", Source: "DCGM_FI_DEV_GPU_UTIL alone",
		Metrics: []string{MetricGPUUtil}}
	// HopperCounters is AllDCPCounters plus the fields DCGM reports only on
	// Hopper and newer GPUs (through NVML's GPU Performance Monitoring):
	// the integer pipe and the tensor pipe split by operation.
	HopperCounters = CounterSet{Name: "hopper-all-dcp", Source: "every DCP field plus the integer pipe and tensor subtypes (fields 1013-1016), on Hopper: NVML GPM",
		Metrics: AllMetrics()}
)

// CounterSets lists the counter sets, the common case first.
func CounterSets() []CounterSet {
	return []CounterSet{GPUOperatorCounters, ExporterDefaultCounters, AllDCPCounters, UtilizationOnlyCounters, HopperCounters}
}

// Board facts of the simulated GPU, the NVIDIA A100-SXM4-80GB (NVIDIA A100
// datasheet; NVIDIA Ampere architecture whitepaper).
const (
	// tdpWatts is the A100 SXM4 board power limit (400 W).
	tdpWatts = 400.0
	// nvlinkPerDirection is A100 NVLink 3's 600 GB/s total bandwidth, halved
	// for one direction.
	nvlinkPerDirection = 300e9
	// pcieGen4x16 is PCIe 4.0 x16's usable rate per direction, about 25 GB/s
	// (16 GT/s per lane, 128b/130b encoding, protocol overhead).
	pcieGen4x16 = 25e9
)

// HopperModel is the modelName of an NVIDIA H100 SXM5 80GB, the GPU on
// which DCGM reports the integer pipe and the tensor subtypes
// (HopperCounters).
const HopperModel = "NVIDIA H100 80GB HBM3"

// activity is everything dcgm-exporter reports about one GPU (or MIG
// instance) at one instant.
type activity struct {
	util               float64 // percent, DCGM_FI_DEV_GPU_UTIL
	gr, sm, tensor     float64 // ratios
	fp64, fp32, fp16   float64 // ratios
	dram               float64 // ratio
	pcieTx, pcieRx     float64 // bytes per second
	nvlinkTx, nvlinkRx float64 // bytes per second
	power              float64 // watts
	intp               float64 // ratio, PIPE_INT_ACTIVE
	imma, hmma, dfma   float64 // ratios, the tensor pipe by operation
	// dcp, when set, is what the profiling module reports instead: every
	// DCGM_FI_PROF_* field is read from it (a broken or frozen profiler),
	// the device-level fields from a itself.
	dcp *activity
}

// get returns the value of metric, rounded as dcgm-exporter prints it:
// ratios to six decimals, byte rates to whole bytes, watts to milliwatts.
func (a activity) get(metric string) (float64, bool) {
	if a.dcp != nil && isProfiling(metric) {
		return a.dcp.get(metric)
	}
	switch metric {
	case MetricGPUUtil:
		return a.util, true
	case MetricGREngineActive:
		return ratio(a.gr), true
	case MetricSMActive:
		return ratio(a.sm), true
	case MetricTensorActive:
		return ratio(a.tensor), true
	case MetricFP64Active:
		return ratio(a.fp64), true
	case MetricFP32Active:
		return ratio(a.fp32), true
	case MetricFP16Active:
		return ratio(a.fp16), true
	case MetricDRAMActive:
		return ratio(a.dram), true
	case MetricPCIeTxBytes:
		return byteRate(a.pcieTx, pcieGen4x16), true
	case MetricPCIeRxBytes:
		return byteRate(a.pcieRx, pcieGen4x16), true
	case MetricNVLinkTxBytes:
		return byteRate(a.nvlinkTx, nvlinkPerDirection), true
	case MetricNVLinkRxBytes:
		return byteRate(a.nvlinkRx, nvlinkPerDirection), true
	case MetricPower:
		return math.Round(clamp(a.power, 0, 1.2*tdpWatts)*1000) / 1000, true
	case MetricMemCopyUtil:
		return math.Round(clamp(a.dram, 0, 1) * 100), true
	case MetricPCIeTxThroughput:
		return math.Round(byteRate(a.pcieTx, pcieGen4x16) / 1e3), true
	case MetricPCIeRxThroughput:
		return math.Round(byteRate(a.pcieRx, pcieGen4x16) / 1e3), true
	case MetricNVLinkBandwidthTotal:
		return math.Round((byteRate(a.nvlinkTx, nvlinkPerDirection) + byteRate(a.nvlinkRx, nvlinkPerDirection)) / 1e6), true
	case MetricIntActive:
		return ratio(a.intp), true
	case MetricTensorIMMAActive:
		return ratio(a.imma), true
	case MetricTensorHMMAActive:
		return ratio(a.hmma), true
	case MetricTensorDFMAActive:
		return ratio(a.dfma), true
	}
	return 0, false
}

// withoutNVLink is a with no NVLink traffic, in what the profiling module
// reports too.
func (a activity) withoutNVLink() activity {
	a.nvlinkTx, a.nvlinkRx = 0, 0
	if a.dcp != nil {
		d := a.dcp.withoutNVLink()
		a.dcp = &d
	}
	return a
}

func ratio(v float64) float64 { return math.Round(clamp(v, 0, 1)*1e6) / 1e6 }

func byteRate(v, limit float64) float64 { return math.Round(clamp(v, 0, limit)) }
