package fleet

import (
	"strconv"
	"strings"
	"time"
)

// MIGInstance is a Multi-Instance GPU (MIG) GPU instance as dcgm-exporter
// labels it. Several instances share one physical GPU: the same `gpu`,
// `UUID` and `device` labels, a different GPU_I_ID. dcgm-exporter publishes
// no DCGM_FI_DEV_GPU_UTIL for an instance (its maintainers point to
// DCGM_FI_PROF_GR_ENGINE_ACTIVE instead, NVIDIA/dcgm-exporter issues #50
// and #216), and reports device-level fields such as power on every
// instance with the whole GPU's value (issue #257).
type MIGInstance struct {
	// GPUInstanceID is the GPU instance ID (`GPU_I_ID`): "1", "2", ...
	GPUInstanceID string
	// Profile is the instance profile (`GPU_I_PROFILE`): "1g.10gb",
	// "3g.40gb", ..., the leading number counting its compute slices.
	Profile string
}

// migSlices is the number of compute slices of an A100 or H100 (NVIDIA MIG
// user guide: up to seven instances).
const migSlices = 7

// fraction is the share of the physical GPU's compute slices the instance
// holds: 3/7 for "3g.40gb"; 1/7 when the profile does not say.
func (m MIGInstance) fraction() float64 {
	n, err := strconv.Atoi(strings.SplitN(m.Profile, "g.", 2)[0])
	if err != nil || n < 1 || n > migSlices {
		return 1.0 / migSlices
	}
	return float64(n) / migSlices
}

// MIGGPU returns GPU instance instanceID (profile such as "1g.10gb") of the
// GPU at index on node: GPU(node, index) with MIG set, so every instance of
// one GPU has the GPU's UUID.
func MIGGPU(node, index, instanceID, profile string) GPUSpec {
	g := GPU(node, index)
	g.MIG = &MIGInstance{GPUInstanceID: instanceID, Profile: profile}
	return g
}

// instanceActivity adapts a profile's whole-GPU activity to a MIG instance
// of fraction f of the GPU: ratios stay ratios of the instance, PCIe traffic
// shrinks with the instance's share of the work, and MIG instances have no
// NVLink (NVIDIA MIG user guide: no GPU-to-GPU P2P over NVLink).
func instanceActivity(a activity, f float64) activity {
	a.pcieTx *= f
	a.pcieRx *= f
	if a.dcp != nil {
		d := instanceActivity(*a.dcp, f)
		a.dcp = &d
	}
	return a.withoutNVLink()
}

// holder is one GPU as one pod holds it.
type holder struct {
	pod Pod
	gpu GPUSpec
}

// boards groups the MIG instances of a fleet by physical GPU (UUID), so a
// MIG instance's power series can report the whole board's draw, as
// dcgm-exporter does.
type boards map[string][]holder

func migBoards(pods []Pod) boards {
	b := boards{}
	for _, p := range pods {
		for _, g := range p.GPUs {
			if g.MIG != nil {
				b[g.UUID] = append(b[g.UUID], holder{p, g})
			}
		}
	}
	return b
}

// power is the board power at t of the physical GPU uuid: its idle draw
// plus, for each of its instances that exists at t, the instance's share of
// what its profile would draw over idle on the whole GPU. An instance held
// by two pods (time-slicing) counts once.
func (b boards) power(uuid string, t time.Time) float64 {
	board := uuidSeed(uuid)
	w := idleWatts(board) + 0.8*sampleRand(board, t, 150).NormFloat64()
	seen := map[string]bool{}
	for _, h := range b[uuid] {
		id := h.gpu.MIG.GPUInstanceID
		if seen[id] || !h.pod.Active(t) {
			continue
		}
		seen[id] = true
		seed := h.gpu.Seed()
		a := h.pod.ProfileOf(h.gpu).activity(seed, t)
		w += h.gpu.MIG.fraction() * (a.power - idleWatts(seed))
	}
	return w
}
