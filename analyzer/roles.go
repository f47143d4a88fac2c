package analyzer

import (
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

// RoleSaturation: what proof of work saturates and ML work does not
// alone: the integer pipe and the tensor pipe's subtypes (Hopper and
// newer; GA100 and newer for the subtypes), read by pipe_saturation.
const RoleSaturation Role = "saturation"

// Roles lists the roles in evidence order.
func Roles() []Role {
	return []Role{RoleActivity, RolePipes, RoleMemory, RoleInterconnect, RoleSaturation}
}

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
	case RoleSaturation:
		return []Signal{SignalInt, SignalIMMA, SignalHMMA, SignalDFMA}
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

func joinSignals(ss []Signal) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}
