package fleet

import "time"

// Classes of the labelled fleet's pods and GPUs: what kind of miner or
// workload each is, so that a backtest scores the detector class by class.
// A miner class says what the miner does to hide, a benign class why the
// detector must leave it alone.
const (
	// ClassSteady: a hash at a flat, full utilization (on a whole GPU, a
	// MIG instance or an exporter without profiling): the old rule's target.
	ClassSteady = "steady"
	// ClassThrottled: a steady hash throttled below 95 % (intensity
	// setting, power cap) to pass under `mean > 95`.
	ClassThrottled = "throttled"
	// ClassMemoryHard: a DAG (Ethash-style) hash, bound by device memory.
	ClassMemoryHard = "memory-hard"
	// ClassAdaptive: a miner that has read the rules and adds cheap activity
	// (a token tensor kernel) or varies its pattern (jitter, a duty cycle)
	// to look like ML work.
	ClassAdaptive = "adaptive"
	// ClassMLShapedPoW: a proof of work that is ML-shaped math itself (an
	// int8 GEMM, Pearl-style), with nothing to shed.
	ClassMLShapedPoW = "ml-shaped-pow"
	// ClassOutsideKubernetes: a GPU busy with no pod holding it.
	ClassOutsideKubernetes = "outside-kubernetes"
	// ClassLegitimate: training, inference, batch jobs, idle GPUs: never
	// to be deleted.
	ClassLegitimate = "legitimate"
	// ClassTelemetryFault: legitimate work on a GPU whose profiler lies
	// (fields stuck at 0 or frozen): judged on utilization alone, never to
	// be deleted.
	ClassTelemetryFault = "telemetry-fault"
)

// LabelledFleet is the backtest fleet: every pod carries its ground truth
// (ExpectMiner), its Class and a Scenario, and together they cover what a
// detector reading utilization and the profiling metrics must tell apart —
// flat training that the old `mean > 95 && stddev < 2` rule flags, miners
// that throttle themselves under it, a memory-hard miner, adaptive miners
// (a token tensor kernel, jitter, a 40m on / 20m off duty cycle), an int8
// GEMM proof of work, training on a GPU whose profiler reads 0 or is
// frozen, pods that start or end within a backtest window, GPUs that no pod
// holds, MIG instances of one A100, and exporters without profiling
// metrics. Pods exist from long before end unless said otherwise; the
// miner that starts mid-way starts 4 hours before end, the benign pod that
// ends mid-way ends 3 hours before end. Nodes lab-node-1..7 (distinct from
// DefaultFleet's), every GPU an A100 80GB but lab-node-7's, H100s, whose
// integer pipe and tensor subtypes are seen where the counter set lists
// fields 1013-1016 (HopperCounters).
func LabelledFleet(end time.Time) []Pod {
	const (
		n1, n2, n3, n4, n5 = "lab-node-1", "lab-node-2", "lab-node-3", "lab-node-4", "lab-node-5"
		n6, n7             = "lab-node-6", "lab-node-7"
	)
	profiless := func(g GPUSpec) GPUSpec {
		g.NoProfiling = true
		return g
	}
	return []Pod{
		{
			Namespace: "ml-research", Name: "llm-pretrain-0", Container: "trainer", Node: n1,
			Profile: FlatTraining(), GPUs: []GPUSpec{GPU(n1, "0"), GPU(n1, "1"), GPU(n1, "2"), GPU(n1, "3")},
			Class: ClassLegitimate,
			Scenario: "4-GPU pretraining at a flat 98-100 % with NVLink all-reduce: the old rule's false positive, " +
				"benign by its tensor pipe, PCIe input batches and NVLink traffic",
		},
		{
			Namespace: "ml-research", Name: "finetune-7b-0", Container: "trainer", Node: n2,
			Profile: FlatTraining(), GPUs: []GPUSpec{GPU(n2, "0")},
			Class:    ClassLegitimate,
			Scenario: "single-GPU fine-tuning at a flat 98-100 %, no NVLink: benign by its tensor pipe alone",
		},
		{
			Namespace: "team-b", Name: "resnet-train-0", Container: "trainer", Node: n2,
			Profile: BurstyTraining(), GPUs: []GPUSpec{GPU(n2, "1"), GPU(n2, "2")},
			Class:    ClassLegitimate,
			Scenario: "2-GPU training with evaluation/checkpoint dips: benign on utilization and profiling alike",
		},
		{
			Namespace: "serving", Name: "llm-inference-7d9c8b6f4-m2x7z", Container: "server", Node: n2,
			Profile: Inference(), GPUs: []GPUSpec{GPU(n2, "3")},
			Class:    ClassLegitimate,
			Scenario: "inference server, load 10-60 % with requests over PCIe: benign",
		},
		{
			Namespace: "team-x", Name: "render-farm-70", Container: "render", Node: n3,
			Profile: ThrottledMiner(70), GPUs: []GPUSpec{GPU(n3, "0")}, ExpectMiner: true,
			Class:    ClassThrottled,
			Scenario: "miner throttled to a flat 70 %: SM active ≈ 0.7 with idle pipes and no host traffic",
		},
		{
			Namespace: "team-x", Name: "render-farm-80", Container: "render", Node: n3,
			Profile: ThrottledMiner(80), GPUs: []GPUSpec{GPU(n3, "1")}, ExpectMiner: true,
			Class:    ClassThrottled,
			Scenario: "miner throttled to a flat 80 %: dodges `mean > 95`, caught by the profiling signals",
		},
		{
			Namespace: "team-x", Name: "render-farm-90", Container: "render", Node: n3,
			Profile: ThrottledMiner(90), GPUs: []GPUSpec{GPU(n3, "2")}, ExpectMiner: true,
			Class:    ClassThrottled,
			Scenario: "miner throttled to a flat 90 %: just under the old threshold",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-eve", Container: "notebook", Node: n3,
			Profile: MemoryHardMiner(), GPUs: []GPUSpec{GPU(n3, "3")}, ExpectMiner: true,
			Class:    ClassMemoryHard,
			Scenario: "memory-hard (Ethash-style) miner: flat 100 %, DRAM saturated, SM half busy, no tensor work",
		},
		{
			Namespace: "team-a", Name: "batch-worker-6f8d7c5b9-k3p9t", Container: "worker", Node: n4,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n4, "0")}, ExpectMiner: true,
			Class:    ClassSteady,
			Scenario: "steady compute-bound miner: flat 100 %, SM saturated, pipes idle",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-trudy", Container: "notebook", Node: n4,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n4, "1")}, Start: end.Add(-4 * time.Hour), ExpectMiner: true,
			Class:    ClassSteady,
			Scenario: "miner that starts 4 hours before the end: a backtest must flag it only once it has run long enough",
		},
		{
			Namespace: "team-c", Name: "etl-embed-0", Container: "embedder", Node: n4,
			Profile: Inference(), GPUs: []GPUSpec{GPU(n4, "2")}, End: end.Add(-3 * time.Hour),
			Class:    ClassLegitimate,
			Scenario: "benign batch-inference pod that ends 3 hours before the end: its series stops, nothing to report",
		},
		{
			Node: n4, Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n4, "3")}, ExpectMiner: true,
			Class:    ClassOutsideKubernetes,
			Scenario: "busy GPU that no pod holds, mining outside Kubernetes' accounting: series without pod labels",
		},
		{
			Node: n5, Profile: Idle(), GPUs: []GPUSpec{GPU(n5, "0")},
			Class:    ClassLegitimate,
			Scenario: "idle GPU that no pod holds: nothing to report",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-oscar", Container: "notebook", Node: n5,
			Profile: SteadyMiner(), GPUs: []GPUSpec{MIGGPU(n5, "1", "9", "1g.10gb")}, ExpectMiner: true,
			Class:    ClassSteady,
			Scenario: "MIG 1g.10gb instance mining: no GPU_UTIL series, GR_ENGINE_ACTIVE carries the activity",
		},
		{
			Namespace: "ml-research", Name: "lora-tune-0", Container: "trainer", Node: n5,
			Profile: FlatTraining(), GPUs: []GPUSpec{MIGGPU(n5, "1", "2", "3g.40gb")},
			Class:    ClassLegitimate,
			Scenario: "MIG 3g.40gb instance of the same A100 fine-tuning at a flat ~100 %: benign by its tensor pipe",
		},
		{
			Namespace: "serving", Name: "embed-api-5b7c9d8f6-w4n2r", Container: "server", Node: n5,
			Profile: Inference(), GPUs: []GPUSpec{MIGGPU(n5, "1", "3", "2g.20gb")},
			Class:    ClassLegitimate,
			Scenario: "MIG 2g.20gb instance of the same A100 serving a model: benign",
		},
		{
			Namespace: "ml-research", Name: "finetune-legacy-0", Container: "trainer", Node: n5,
			Profile: FlatTraining(), GPUs: []GPUSpec{profiless(GPU(n5, "2"))},
			Class: ClassLegitimate,
			Scenario: "flat 98-100 % training on an exporter without profiling metrics: only utilization and power, " +
				"which look like mining; benign, so a detector must not act on utilization alone",
		},
		{
			Namespace: "team-d", Name: "batch-legacy-0", Container: "worker", Node: n5,
			Profile: SteadyMiner(), GPUs: []GPUSpec{profiless(GPU(n5, "3"))}, ExpectMiner: true,
			Class:    ClassSteady,
			Scenario: "steady miner on an exporter without profiling metrics: only utilization and power to go on",
		},
		{
			Namespace: "team-y", Name: "hpo-sweep-0", Container: "worker", Node: n6,
			Profile: DutyCycleMiner(40*time.Minute, 20*time.Minute), GPUs: []GPUSpec{GPU(n6, "0")}, ExpectMiner: true,
			Class: ClassAdaptive,
			Scenario: "duty-cycled miner, 40m on / 20m off (a third of its hashrate): every 1h window holds 40 minutes of " +
				"a steady hash, caught by compute_signature; without the integer pipe its evidence is partial, not deleted",
		},
		{
			Namespace: "team-y", Name: "augment-worker-0", Container: "worker", Node: n6,
			Profile: JitterMiner(), GPUs: []GPUSpec{GPU(n6, "1")}, ExpectMiner: true,
			Class: ClassAdaptive,
			Scenario: "jittering miner, a new intensity in 55-100 % every 2 minutes (~22 % of its hashrate): mean ≈ 78, " +
				"stddev ≈ 13 pass the old rule; caught by compute_signature, mostly on partial evidence (its SM activity " +
				"varies just above what strong evidence allows), strong in the odd window whose levels stay close",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-mike", Container: "notebook", Node: n6,
			Profile: TokenKernelMiner(), GPUs: []GPUSpec{GPU(n6, "2")}, ExpectMiner: true,
			Class: ClassAdaptive,
			Scenario: "token-kernel miner on an A100: a token HMMA kernel holds the tensor pipe at ~0.15 (~3 % of its " +
				"hashrate) and the training veto spares it; no integer pipe on this board: missed (the threat model's \"not seen\")",
		},
		{
			Namespace: "ml-research", Name: "llm-pretrain-xid-0", Container: "trainer", Node: n6,
			Profile: ProfilerZeros(FlatTraining()), GPUs: []GPUSpec{GPU(n6, "3")},
			Class: ClassTelemetryFault,
			Scenario: "flat 98-100 % training whose profiler reads 0 on every DCGM_FI_PROF_* field (a stalled DCGM profiler): " +
				"a profiler_fault, judged on utilization alone; flat_high_util flags it on utilization_only evidence, never deletable",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-nina", Container: "notebook", Node: n7,
			Profile: TokenKernelMiner(), GPUs: []GPUSpec{HopperGPU(n7, "0")}, ExpectMiner: true,
			Class: ClassAdaptive,
			Scenario: "the same token-kernel miner on an H100: its integer pipe (field 1016) stays saturated under the token " +
				"kernel; caught on strong evidence, deletable (with fields 1013-1016 exported)",
		},
		{
			Namespace: "team-z", Name: "quant-bench-0", Container: "bench", Node: n7,
			Profile: Int8GEMMMiner(), GPUs: []GPUSpec{HopperGPU(n7, "1")}, ExpectMiner: true,
			Class: ClassMLShapedPoW,
			Scenario: "int8-GEMM proof of work (Pearl-style) on an H100: IMMA saturated, no HMMA, FP16 or FP32 work; with " +
				"the tensor subtypes exported it is caught on partial evidence, never deleted by default; without them the training veto spares it",
		},
		{
			Namespace: "serving", Name: "int8-scorer-0", Container: "server", Node: n7,
			Profile: Int8BatchInference(), GPUs: []GPUSpec{HopperGPU(n7, "2")},
			Class: ClassLegitimate,
			Scenario: "TensorRT int8 batch inference on an H100: IMMA-heavy like the int8 miner, with HMMA and FP16 work, " +
				"input batches and unsteady utilization beside it: benign",
		},
		{
			Namespace: "team-b", Name: "resnet-train-1", Container: "trainer", Node: n7,
			Profile: ProfilerFrozen(BurstyTraining(), end.Add(-8*time.Hour+7*time.Second)), GPUs: []GPUSpec{HopperGPU(n7, "3")},
			Class: ClassTelemetryFault,
			Scenario: "training with dips on an H100 whose profiling fields froze 8 hours before the end: a profiler_fault, " +
				"judged on utilization alone, benign (its dips fail the utilization rule)",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-forger", Container: "notebook", Node: n2,
			Forges: &Pod{Namespace: "ml-research", Name: "finetune-7b-0", Container: "trainer", Node: n2,
				Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n2, "0")}},
			Scenario: "a tenant without a GPU serving dcgm-exporter's names from its own /metrics, framing finetune-7b-0's GPU " +
				"as a flat idle-pipe miner: untrusted telemetry, never evidence; finetune-7b-0 stays benign",
		},
	}
}
