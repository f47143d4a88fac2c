package fleet

import "time"

// LabelledFleet is the backtest fleet: every pod carries its ground truth
// (ExpectMiner) and a Scenario, and together they cover what a detector
// reading utilization and the profiling metrics must tell apart — flat
// training that the old `mean > 95 && stddev < 2` rule flags, miners that
// throttle themselves under it, a memory-hard miner, pods that start or end
// within a backtest window, GPUs that no pod holds, MIG instances of one
// A100, and exporters without profiling metrics. Pods exist from long before
// end unless said otherwise; the miner that starts mid-way starts 4 hours
// before end, the benign pod that ends mid-way ends 3 hours before end.
// Nodes lab-node-1..5 (distinct from DefaultFleet's), every GPU an A100 80GB.
func LabelledFleet(end time.Time) []Pod {
	const (
		n1, n2, n3, n4, n5 = "lab-node-1", "lab-node-2", "lab-node-3", "lab-node-4", "lab-node-5"
	)
	profiless := func(g GPUSpec) GPUSpec {
		g.NoProfiling = true
		return g
	}
	return []Pod{
		{
			Namespace: "ml-research", Name: "llm-pretrain-0", Container: "trainer", Node: n1,
			Profile: FlatTraining(), GPUs: []GPUSpec{GPU(n1, "0"), GPU(n1, "1"), GPU(n1, "2"), GPU(n1, "3")},
			Scenario: "4-GPU pretraining at a flat 98-100 % with NVLink all-reduce: the old rule's false positive, " +
				"benign by its tensor pipe, PCIe input batches and NVLink traffic",
		},
		{
			Namespace: "ml-research", Name: "finetune-7b-0", Container: "trainer", Node: n2,
			Profile: FlatTraining(), GPUs: []GPUSpec{GPU(n2, "0")},
			Scenario: "single-GPU fine-tuning at a flat 98-100 %, no NVLink: benign by its tensor pipe alone",
		},
		{
			Namespace: "team-b", Name: "resnet-train-0", Container: "trainer", Node: n2,
			Profile: BurstyTraining(), GPUs: []GPUSpec{GPU(n2, "1"), GPU(n2, "2")},
			Scenario: "2-GPU training with evaluation/checkpoint dips: benign on utilization and profiling alike",
		},
		{
			Namespace: "serving", Name: "llm-inference-7d9c8b6f4-m2x7z", Container: "server", Node: n2,
			Profile: Inference(), GPUs: []GPUSpec{GPU(n2, "3")},
			Scenario: "inference server, load 10-60 % with requests over PCIe: benign",
		},
		{
			Namespace: "team-x", Name: "render-farm-70", Container: "render", Node: n3,
			Profile: ThrottledMiner(70), GPUs: []GPUSpec{GPU(n3, "0")}, ExpectMiner: true,
			Scenario: "miner throttled to a flat 70 %: SM active ≈ 0.7 with idle pipes and no host traffic",
		},
		{
			Namespace: "team-x", Name: "render-farm-80", Container: "render", Node: n3,
			Profile: ThrottledMiner(80), GPUs: []GPUSpec{GPU(n3, "1")}, ExpectMiner: true,
			Scenario: "miner throttled to a flat 80 %: dodges `mean > 95`, caught by the profiling signals",
		},
		{
			Namespace: "team-x", Name: "render-farm-90", Container: "render", Node: n3,
			Profile: ThrottledMiner(90), GPUs: []GPUSpec{GPU(n3, "2")}, ExpectMiner: true,
			Scenario: "miner throttled to a flat 90 %: just under the old threshold",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-eve", Container: "notebook", Node: n3,
			Profile: MemoryHardMiner(), GPUs: []GPUSpec{GPU(n3, "3")}, ExpectMiner: true,
			Scenario: "memory-hard (Ethash-style) miner: flat 100 %, DRAM saturated, SM half busy, no tensor work",
		},
		{
			Namespace: "team-a", Name: "batch-worker-6f8d7c5b9-k3p9t", Container: "worker", Node: n4,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n4, "0")}, ExpectMiner: true,
			Scenario: "steady compute-bound miner: flat 100 %, SM saturated, pipes idle",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-trudy", Container: "notebook", Node: n4,
			Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n4, "1")}, Start: end.Add(-4 * time.Hour), ExpectMiner: true,
			Scenario: "miner that starts 4 hours before the end: a backtest must flag it only once it has run long enough",
		},
		{
			Namespace: "team-c", Name: "etl-embed-0", Container: "embedder", Node: n4,
			Profile: Inference(), GPUs: []GPUSpec{GPU(n4, "2")}, End: end.Add(-3 * time.Hour),
			Scenario: "benign batch-inference pod that ends 3 hours before the end: its series stops, nothing to report",
		},
		{
			Node: n4, Profile: SteadyMiner(), GPUs: []GPUSpec{GPU(n4, "3")}, ExpectMiner: true,
			Scenario: "busy GPU that no pod holds, mining outside Kubernetes' accounting: series without pod labels",
		},
		{
			Node: n5, Profile: Idle(), GPUs: []GPUSpec{GPU(n5, "0")},
			Scenario: "idle GPU that no pod holds: nothing to report",
		},
		{
			Namespace: "free-notebooks", Name: "jupyter-oscar", Container: "notebook", Node: n5,
			Profile: SteadyMiner(), GPUs: []GPUSpec{MIGGPU(n5, "1", "9", "1g.10gb")}, ExpectMiner: true,
			Scenario: "MIG 1g.10gb instance mining: no GPU_UTIL series, GR_ENGINE_ACTIVE carries the activity",
		},
		{
			Namespace: "ml-research", Name: "lora-tune-0", Container: "trainer", Node: n5,
			Profile: FlatTraining(), GPUs: []GPUSpec{MIGGPU(n5, "1", "2", "3g.40gb")},
			Scenario: "MIG 3g.40gb instance of the same A100 fine-tuning at a flat ~100 %: benign by its tensor pipe",
		},
		{
			Namespace: "serving", Name: "embed-api-5b7c9d8f6-w4n2r", Container: "server", Node: n5,
			Profile: Inference(), GPUs: []GPUSpec{MIGGPU(n5, "1", "3", "2g.20gb")},
			Scenario: "MIG 2g.20gb instance of the same A100 serving a model: benign",
		},
		{
			Namespace: "ml-research", Name: "finetune-legacy-0", Container: "trainer", Node: n5,
			Profile: FlatTraining(), GPUs: []GPUSpec{profiless(GPU(n5, "2"))},
			Scenario: "flat 98-100 % training on an exporter without profiling metrics: only utilization and power, " +
				"which look like mining; benign, so a detector must not act on utilization alone",
		},
		{
			Namespace: "team-d", Name: "batch-legacy-0", Container: "worker", Node: n5,
			Profile: SteadyMiner(), GPUs: []GPUSpec{profiless(GPU(n5, "3"))}, ExpectMiner: true,
			Scenario: "steady miner on an exporter without profiling metrics: only utilization and power to go on",
		},
	}
}
