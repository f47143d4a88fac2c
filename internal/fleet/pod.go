package fleet

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// DefaultModel is the modelName every simulated GPU reports unless set.
const DefaultModel = "NVIDIA A100-SXM4-80GB"

// GPUSpec is one GPU as dcgm-exporter labels it.
type GPUSpec struct {
	Index string // dcgm-exporter's `gpu` label: "0", "1", ...
	UUID  string // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
	Model string // modelName
	// Profile, when set, replaces the pod's Profile on this GPU (a pod that
	// mines on one GPU and trains on the others).
	Profile Profile
	// MIG, when set, makes this a MIG GPU instance of the physical GPU Index
	// and UUID (see MIGGPU): no utilization series, GPU_I_ID and
	// GPU_I_PROFILE labels.
	MIG *MIGInstance
	// NoProfiling is a GPU whose exporter collects no profiling (DCP)
	// fields: the default counters without DCGM_FI_PROF_*, a GPU without
	// DCP support, or the profiling module held by another tool such as
	// Nsight. Only utilization and power are published for it.
	NoProfiling bool
	// Unsupported are the fields this GPU's DCGM does not support (a pipe
	// the board lacks, or a field its driver and DCGM version do not
	// report): dcgm-exporter skips such a counters-file line, so the
	// series is absent, never 0.
	Unsupported []string
}

// Pod is a workload holding GPUs on one node. A Pod with an empty Name stands
// for GPUs that no pod holds: their series carry no workload labels.
type Pod struct {
	Namespace, Name, Container string
	Node                       string
	Profile                    Profile
	GPUs                       []GPUSpec
	// Start and End bound when the pod exists, [Start, End); zero means
	// unbounded on that side.
	Start, End time.Time
	// ExpectMiner is the ground truth: the pod (or the podless GPU) mines on
	// at least one GPU. Whether a detector should act on it is a separate
	// question (protected namespace, too young to judge, shared GPU).
	ExpectMiner bool
	// Scenario says in one line what the pod stands for and what a detector
	// should make of it.
	Scenario string
	// Class is what kind of miner or workload the pod is, in a backtest's
	// per-class score (one of the Class* constants, or empty).
	Class string
	// Forges, when set, is the pod whose GPU series this pod serves from
	// its own /metrics, scraped by an annotation job without honor_labels:
	// forged telemetry (see ForgedSeries). Its GPUs and Profile are what
	// the forgery claims; the forging pod's own GPUs, if any, are exported
	// as usual.
	Forges *Pod
}

// Key is "namespace/name", or "node/-" for GPUs with no pod.
func (p Pod) Key() string {
	if p.Name == "" {
		return p.Node + "/-"
	}
	return p.Namespace + "/" + p.Name
}

// ProfileOf returns what g does while p holds it: g's own Profile when set,
// else p's.
func (p Pod) ProfileOf(g GPUSpec) Profile {
	if !g.Profile.IsZero() {
		return g.Profile
	}
	return p.Profile
}

// Active reports whether p exists at t.
func (p Pod) Active(t time.Time) bool {
	return (p.Start.IsZero() || !t.Before(p.Start)) && (p.End.IsZero() || t.Before(p.End))
}

// GPU returns the GPU at index on node with a deterministic UUID and the
// default model.
func GPU(node, index string) GPUSpec {
	return GPUSpec{Index: index, UUID: gpuUUID(node, index), Model: DefaultModel}
}

// HopperGPU is GPU with the modelName of an H100 (HopperModel): it reports
// the integer pipe and the tensor subtypes (fields 1013-1016) wherever the
// counter set lists them.
func HopperGPU(node, index string) GPUSpec {
	g := GPU(node, index)
	g.Model = HopperModel
	return g
}

// AdaModel is the modelName of an NVIDIA L40S, an Ada board whose
// profiler reports no FP64 pipe.
const AdaModel = "NVIDIA L40S"

// AdaGPU is GPU(node, index) as an L40S: the FP64 pipe field is not
// supported there, so its series is absent.
func AdaGPU(node, index string) GPUSpec {
	g := GPU(node, index)
	g.Model, g.Unsupported = AdaModel, []string{MetricFP64Active}
	return g
}

// Seed is the profile seed of a GPU: derived from its UUID, so two pods
// time-slicing one GPU see the same device utilization, as dcgm-exporter
// reports it to both. A MIG instance's seed also covers its GPU_I_ID: the
// instances of one GPU run independently.
func (g GPUSpec) Seed() uint64 {
	if g.MIG != nil {
		return uuidSeed(g.UUID + "/" + g.MIG.GPUInstanceID)
	}
	return uuidSeed(g.UUID)
}

func uuidSeed(key string) uint64 {
	sum := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(sum[:8])
}

func gpuUUID(node, index string) string {
	s := sha256.Sum256([]byte("gpu/" + node + "/" + index))
	return fmt.Sprintf("GPU-%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// withProfile returns g running p instead of its pod's profile.
func withProfile(g GPUSpec, p Profile) GPUSpec {
	g.Profile = p
	return g
}

// DefaultFleet is the demo's and the integration tests' fleet, with pods
// that exist until end (and, unless said otherwise, since long before any
// window ending at end). Nodes gpu-node-1..5, every GPU an A100 80GB.
func DefaultFleet(end time.Time) []Pod {
	const (
		n1, n2, n3, n4, n5 = "gpu-node-1", "gpu-node-2", "gpu-node-3", "gpu-node-4", "gpu-node-5"
	)
	shared := GPU(n4, "3")
	return []Pod{
		{
			Namespace: "team-a", Name: "batch-worker-5c7d9f8b6-x2k4q", Container: "worker", Node: n1,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n1, "0")}, ExpectMiner: true,
			Scenario: "steady miner in a team namespace: the old rule's target",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-alice", Container: "notebook", Node: n1,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n1, "1")}, ExpectMiner: true,
			Scenario: "steady miner in a free notebook",
		},
		{
			Namespace: "ml-research", Name: "llama-finetune-0", Container: "trainer", Node: n1,
			Profile: BurstyTraining(), GPUs: []GPUSpec{GPU(n1, "2"), GPU(n1, "3")},
			Scenario: "two-GPU training run with evaluation/checkpoint dips: benign",
		},
		{
			Namespace: "serving", Name: "sd-inference-6b8d7c9f5-q7w2e", Container: "server", Node: n1,
			Profile: Inference(), GPUs: []GPUSpec{GPU(n1, "4")},
			Scenario: "inference server, diurnal load 10-60 %: benign",
		},
		{
			Namespace: "team-b", Name: "ddp-train-0", Container: "trainer", Node: n2,
			Profile:     BurstyTraining(),
			GPUs:        []GPUSpec{GPU(n2, "0"), GPU(n2, "1"), GPU(n2, "2"), withProfile(GPU(n2, "3"), SteadyMiner())},
			ExpectMiner: true,
			Scenario:    "4-GPU pod training on GPUs 0-2 and mining on GPU 3: the pod takes its worst GPU's verdict",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-mallory", Container: "notebook", Node: n3,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n3, "0")}, Start: end.Add(-10 * time.Minute), ExpectMiner: true,
			Scenario: "miner started 10 minutes before the end: too little data in a 1h window, never acted on",
		},
		{
			Node: n3, Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n3, "1")}, ExpectMiner: true,
			Scenario: "busy GPU that no pod holds (mining outside Kubernetes' accounting): a finding of its own",
		},
		{
			Node: n3, Profile: Idle(), GPUs: []GPUSpec{GPU(n3, "2"), GPU(n3, "3")},
			Scenario: "idle GPUs that no pod holds: no workload labels, nothing to report",
		},
		{
			Namespace: "team-c", Name: "notebook-0", Container: "notebook", Node: n4,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n4, "0")}, ExpectMiner: true,
			Scenario: "notebook-0 in team-c mines; its namesake in team-d must not be confused with it",
		},
		{
			Namespace: "team-d", Name: "notebook-0", Container: "notebook", Node: n4,
			Profile: Inference(), GPUs: []GPUSpec{GPU(n4, "1")},
			Scenario: "notebook-0 in team-d serves a model: benign despite its namesake",
		},
		{
			Namespace: "kube-system", Name: "node-gpu-check-4kq8s", Container: "check", Node: n4,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n4, "2")}, ExpectMiner: true,
			Scenario: "miner-like pod in kube-system: protected namespace, reported but never touched",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-bob", Container: "notebook", Node: n4,
			Profile: SteadyMiner(), GPUs: []GPUSpec{shared}, ExpectMiner: true,
			Scenario: "mines on a time-sliced GPU shared with jupyter-carol",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-carol", Container: "notebook", Node: n4,
			Profile: SteadyMiner(), GPUs: []GPUSpec{shared},
			Scenario: "shares jupyter-bob's time-sliced GPU without mining: dcgm-exporter reports the device's " +
				"utilization (saturated by bob) on both pods' series, so the two series are identical",
		},
		{
			Namespace: "team-e", Name: "render-farm-0", Container: "render", Node: n5,
			Profile: ThrottledMiner(80), GPUs: []GPUSpec{GPU(n5, "0")}, ExpectMiner: true,
			Scenario: "miner throttled to a flat 80 %: dodges `mean > 95`, caught only by signals beyond utilization",
		},
	}
}

// DemoFleet is DefaultFleet plus the cases only dcgm's profiling metrics can
// settle: a large-model training run holding its GPU at a flat ~100 % (the
// old rule's false positive), a memory-hard miner, a training run whose
// profiler reads 0 (judged on utilization alone) and, on gpu-node-6's H100,
// an adaptive miner hiding behind a token tensor kernel. Load it with every
// metric (Scrape.Metrics = AllMetrics(), or DemoCounters per node) so the
// rules beyond utilization see them.
func DemoFleet(end time.Time) []Pod {
	const n5, n6 = "gpu-node-5", "gpu-node-6"
	return append(DefaultFleet(end),
		Pod{
			Namespace: "ml-research", Name: "llm-pretrain-0", Container: "trainer", Node: n5,
			Profile: FlatTraining(), GPUs: []GPUSpec{GPU(n5, "1")},
			Scenario: "large-model training at a flat ~100 %: the old rule's false positive, spared by its busy tensor pipe",
		},
		Pod{
			Namespace: "team-e", Name: "etl-worker-7f9c", Container: "worker", Node: n5,
			Profile: MemoryHardMiner(), GPUs: []GPUSpec{GPU(n5, "2")}, ExpectMiner: true,
			Scenario: "memory-hard miner (ethash-like): DRAM pinned, math pipes idle",
		},
		Pod{
			Namespace: "free-notebooks", Name: "jupyter-zed", Container: "notebook", Node: n5,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n5, "3")}, Start: end.Add(-10 * time.Minute), ExpectMiner: true,
			Scenario: "miner started 10 minutes before the first cycle on the node exporting every pipe: judged over its own life, deleted 15 minutes after it started",
		},
		Pod{
			Namespace: "ml-research", Name: "llm-pretrain-1", Container: "trainer", Node: "gpu-node-2",
			Profile: FlatTraining(), GPUs: []GPUSpec{GPU("gpu-node-2", "4")},
			Scenario: "flat ~100 % training on a GPU Operator node: its tensor pipe alone spares it",
		},
		Pod{
			Namespace: "ml-research", Name: "llm-pretrain-2", Container: "trainer", Node: n5,
			Profile: ProfilerZeros(FlatTraining()), GPUs: []GPUSpec{GPU(n5, "4")}, Class: ClassTelemetryFault,
			Scenario: "flat ~100 % training whose profiler reads 0 on every DCGM_FI_PROF_* field (a stalled DCGM profiler): " +
				"a profiler_fault, judged on utilization alone: a utilization_only finding, never deleted",
		},
		Pod{
			Namespace: "team-g", Name: "vit-train-0", Container: "trainer", Node: n6,
			Profile: TokenKernelMiner(), GPUs: []GPUSpec{HopperGPU(n6, "0")}, ExpectMiner: true, Class: ClassAdaptive,
			Scenario: "adaptive miner on an H100: a token tensor kernel that the training veto would take for ML, but its " +
				"integer pipe stays saturated: strong evidence, deleted at the second cycle",
		},
	)
}

// DemoCounters is what each demo node's dcgm-exporter exports: the GPU
// Operator's default counters (dcp-metrics-included.csv) everywhere, but on
// gpu-node-5, whose exporter runs the recommended set (every DCP field, as
// the chart's opt-in counters ConfigMap enables), and on gpu-node-6, an
// H100 node whose set adds the integer pipe and tensor subtypes (fields
// 1013-1016).
func DemoCounters(node string) CounterSet {
	switch node {
	case "gpu-node-5":
		return AllDCPCounters
	case "gpu-node-6":
		return HopperCounters
	}
	return GPUOperatorCounters
}
