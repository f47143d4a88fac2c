package analyzer

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a signal tells about a GPU, whichever metric carries it:
// clusters export different dcgm-exporter counter sets (the GPU Operator's
// dcp-metrics-included.csv, the exporter's own default-counters.csv with no
// profiling fields, every DCP field), and the rules judge roles, each taken
// from the best signal that is there.
type Role string

const (
	// RoleActivity: how busy the SMs are. SM_ACTIVE, else GR_ENGINE_ACTIVE
	// (the GPU Operator's set has only the latter).
	RoleActivity Role = "activity"
	// RolePipes: the math pipes (tensor, FP16, FP32, FP64) that training,
	// inference and HPC keep busy and hashing does not use; each covered
	// pipe counts.
	RolePipes Role = "math_pipes"
	// RoleMemory: device-memory traffic. DRAM_ACTIVE, else
	// DEV_MEM_COPY_UTIL / 100.
	RoleMemory Role = "memory"
	// RoleInterconnect: host and peer traffic, bytes per second. The covered
	// PROF PCIe and NVLink directions (one is enough), else the DEV PCIe
	// throughput and NVLink bandwidth fields.
	RoleInterconnect Role = "interconnect"
)

// Roles lists the roles in evidence order.
func Roles() []Role { return []Role{RoleActivity, RolePipes, RoleMemory, RoleInterconnect} }

// Signals are the signals that can fill the role, preferred first.
func (r Role) Signals() []Signal {
	switch r {
	case RoleActivity:
		return []Signal{SignalSM, SignalGREngine}
	case RolePipes:
		return slices.Clone(pipeSignals)
	case RoleMemory:
		return []Signal{SignalDRAM, SignalMemCopy}
	case RoleInterconnect:
		return []Signal{SignalPCIeTx, SignalPCIeRx, SignalNVLinkTx, SignalNVLinkRx, SignalPCIeTxKB, SignalPCIeRxKB, SignalNVLinkTotal}
	}
	return nil
}

// profInterconnect are the profiling module's interconnect signals, preferred
// over the device-level fields when any is covered.
var profInterconnect = []Signal{SignalPCIeTx, SignalPCIeRx, SignalNVLinkTx, SignalNVLinkRx}

// view is a GPU's covered profile read by role.
type view struct {
	activity    SignalStats
	activitySig Signal // "" when no activity signal is covered
	pipes       []Signal
	memory      SignalStats
	memorySig   Signal
	// interconnect is the covered interconnect signals' summed mean, B/s.
	interconnect     float64
	interconnectSigs []Signal
	p                Profile
}

// roles reads a covered profile by role.
func (p Profile) roles() view {
	v := view{p: p}
	for _, s := range RoleActivity.Signals() {
		if st, ok := p[s]; ok {
			v.activity, v.activitySig = st, s
			break
		}
	}
	for _, s := range pipeSignals {
		if _, ok := p[s]; ok {
			v.pipes = append(v.pipes, s)
		}
	}
	for _, s := range RoleMemory.Signals() {
		if st, ok := p[s]; ok {
			v.memory, v.memorySig = st, s
			break
		}
	}
	links := profInterconnect
	if !p.hasAny(profInterconnect) {
		links = []Signal{SignalPCIeTxKB, SignalPCIeRxKB, SignalNVLinkTotal}
	}
	for _, s := range links {
		if st, ok := p[s]; ok {
			v.interconnect += st.Mean
			v.interconnectSigs = append(v.interconnectSigs, s)
		}
	}
	return v
}

func (p Profile) hasAny(ss []Signal) bool {
	for _, s := range ss {
		if _, ok := p[s]; ok {
			return true
		}
	}
	return false
}

// busiestPipe is the busiest covered pipe's mean and name; ok is false when
// no pipe is covered.
func (v view) busiestPipe() (mean float64, name Signal, ok bool) { return v.p.pipe() }

// missingPipes are the math pipes not covered.
func (v view) missingPipes() []Signal {
	var out []Signal
	for _, s := range pipeSignals {
		if !slices.Contains(v.pipes, s) {
			out = append(out, s)
		}
	}
	return out
}

// used lists the signals the view rests on, in role order.
func (v view) used() []Signal {
	var out []Signal
	if v.activitySig != "" {
		out = append(out, v.activitySig)
	}
	out = append(out, v.pipes...)
	if v.memorySig != "" {
		out = append(out, v.memorySig)
	}
	return append(out, v.interconnectSigs...)
}

// absent lists, per role, the preferred signals that were not covered: what
// enabling more dcgm-exporter counters would add.
func (v view) absent() []Signal {
	var out []Signal
	if v.activitySig != SignalSM {
		out = append(out, SignalSM)
	}
	out = append(out, v.missingPipes()...)
	if v.memorySig != SignalDRAM {
		out = append(out, SignalDRAM)
	}
	for _, s := range profInterconnect {
		if !slices.Contains(v.interconnectSigs, s) {
			out = append(out, s)
		}
	}
	return out
}

// Strength is how much a miner verdict's evidence can bear. Only strong
// evidence is enforceable (deletable) by default.
//
// Measured on an NVIDIA H200 (analyzer/testdata/h200-telemetry.csv, NVML
// GPM at 1 s): an FP32 matrix loop without TF32 held utilization at a flat
// 100 % with the tensor pipe at 0.000 and the FP32 pipe at 0.76, and an FP64
// matrix loop ran on the tensor cores' DMMA path with the FP64 pipe at
// 0.000; an integer SHA-256 kernel left every math pipe at 0.000 with the
// integer pipe at 1.00. PCIe traffic (headers included) was 2 MB/s for the
// hashing kernel, 6 MB/s for the FP32 loop and 20 MB/s for a memory-hard
// hash: the interconnect does not tell HPC from mining. So an idle tensor
// pipe alone (the GPU Operator's counters) cannot clear FP32/FP64 work, and
// only every pipe that such work uses, seen idle, can.
type Strength string

const (
	// StrengthStrong: the tensor, FP32 and FP64 pipes were all covered and
	// every covered pipe was idle: no training, inference or HPC kernel ran.
	StrengthStrong Strength = "strong"
	// StrengthPartial: some math pipes were seen, not enough to rule out
	// FP32/FP64 work that uses no tensor core (the GPU Operator's default
	// counters export the tensor pipe only), or a pipe was neither idle nor
	// busy: recorded, alerted and posted, never deleted by default.
	StrengthPartial Strength = "partial"
	// StrengthUtilizationOnly: no math pipe was covered, so flat training
	// cannot be told apart: never deleted by default.
	StrengthUtilizationOnly Strength = "utilization_only"
)

// Enforceable reports whether a miner verdict of this strength may lead to
// a deletion without an operator's opt-in.
func (s Strength) Enforceable() bool { return s == StrengthStrong }

// strongPipes are the pipes that must be covered and idle for strong
// evidence: training and inference use the tensor pipe, FP32 HPC the FP32
// pipe, FP64 HPC the FP64 pipe (or DMMA on the tensor cores). FP16 work
// without tensor cores and without FP32 is not a workload anyone runs.
var strongPipes = []Signal{SignalTensor, SignalFP32, SignalFP64}

// strength grades the evidence of a miner verdict; idleBelow is the bar a
// pipe's mean must stay under to count as idle.
func (v view) strength(idleBelow float64) (Strength, string) {
	busiest, name, ok := v.busiestPipe()
	var missing []Signal
	for _, s := range strongPipes {
		if !slices.Contains(v.pipes, s) {
			missing = append(missing, s)
		}
	}
	switch {
	case !ok:
		return StrengthUtilizationOnly, "no math pipe exported: flat training looks the same on utilization alone"
	case busiest >= idleBelow:
		return StrengthPartial, fmt.Sprintf("math pipe %s at %.3f is not idle (< %g)", name, busiest, idleBelow)
	case len(missing) > 0:
		return StrengthPartial, fmt.Sprintf("covered pipes idle (busiest %s %.4f < %g), but %s not exported: FP32/FP64 work without tensor cores looks the same",
			name, busiest, idleBelow, joinSignals(missing))
	}
	return StrengthStrong, fmt.Sprintf("tensor, FP32 and FP64 pipes covered and idle (busiest %s %.4f < %g)", name, busiest, idleBelow)
}

func joinSignals(ss []Signal) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}
