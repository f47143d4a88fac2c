package fleet

import "time"

// Telemetry faults: a GPU whose workload is unchanged but whose profiling
// (DCP) fields are wrong. Utilization, power and the other DCGM_FI_DEV_*
// fields come from NVML, not from the profiling module, and stay live.

// ProfilerZeros is p with every DCGM_FI_PROF_* field reading exactly 0 while
// DCGM_FI_DEV_GPU_UTIL, power and the other DCGM_FI_DEV_* fields stay p's:
// what dcgm-exporter publishes when the profiling module is loaded but
// collects nothing (the profiler held by another client, or a driver and
// DCGM version pair that returns blanks; reported in NVIDIA/dcgm-exporter
// issue #662 and NVIDIA/DCGM issue #303). A detector must not read those
// zeros as an idle tensor pipe on a busy GPU.
func ProfilerZeros(p Profile) Profile {
	return wrapProf(p, "+profiler-zeros", func(_ uint64, _ time.Time, a activity) activity {
		a.dcp = &activity{}
		return a
	})
}

// ProfilerFrozen is p with every DCGM_FI_PROF_* field stuck, from at on, at
// the value it had at at (a profiling module that stopped updating its
// cache while the exporter keeps publishing the last values); before at
// the fields are live. DCGM_FI_DEV_GPU_UTIL, power and the other
// DCGM_FI_DEV_* fields stay p's, live. A stuck series has a stddev of 0,
// which a flat-signal rule must not take for a miner's steadiness.
func ProfilerFrozen(p Profile, at time.Time) Profile {
	return ProfilerFrozenAs(p, p, at)
}

// ProfilerFrozenAs is p with every DCGM_FI_PROF_* field stuck, from at on,
// at what reading reported at at: the profiler froze while the GPU ran
// reading's work (a previous pod's, or an earlier phase of the job) and
// keeps publishing it while p now runs, with p's live utilization, power
// and DCGM_FI_DEV_* fields. A training GPU frozen on a miner's reading
// shows a hash kernel's mix (idle math pipes, held SM activity): exactly
// what a detector that believed it would delete.
func ProfilerFrozenAs(p, reading Profile, at time.Time) Profile {
	suffix := "+profiler-frozen"
	if reading.Name != p.Name {
		suffix += "-as-" + reading.Name
	}
	return wrapProf(p, suffix, func(seed uint64, t time.Time, a activity) activity {
		if t.Before(at) {
			return a
		}
		frozen := reading.activity(seed, at)
		a.dcp = &frozen
		return a
	})
}

// wrapProf is p, named p.Name+suffix, with fault applied after p's own
// rewrite of its activity (if any).
func wrapProf(p Profile, suffix string, fault func(seed uint64, t time.Time, a activity) activity) Profile {
	inner := p.prof
	return Profile{Name: p.Name + suffix, util: p.At, signals: p.signals, prof: func(seed uint64, t time.Time, a activity) activity {
		if inner != nil {
			a = inner(seed, t, a)
		}
		return fault(seed, t, a)
	}}
}
