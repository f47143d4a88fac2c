package demo

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
)

// The demo finds the miners and deletes those it may, spares training,
// inference, the young pod, the protected namespace and the shared GPU, and
// records everything once.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	o, err := Run(context.Background(), Options{Out: &out})
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	// Only gpu-node-5 exports every math pipe: its miners are deleted on
	// strong evidence. The GPU Operator's counters (the other nodes) show
	// the tensor pipe alone, which FP32/FP64 work leaves idle too: their
	// miners are recorded, posted and alerted, not deleted.
	wantDeleted := []string{
		"free-notebooks/jupyter-zed", // started 10 minutes before the first cycle
		"team-e/etl-worker-7f9c",     // memory-hard miner
		"team-e/render-farm-0",       // throttled to 80 %: caught by its compute signature
		// The repeat offender's first pod (two strikes) and two replacements
		// (each at the first cycle after it started, on its owner's evidence).
		"team-f/hash-relay-6c8f9d7b5-m4q9z", "team-f/hash-relay-6c8f9d7b5-t2w8r", "team-f/hash-relay-6c8f9d7b5-x7k2p",
		"team-g/vit-train-0", // adaptive: a token tensor kernel, caught by its integer pipe on the H100
	}
	got := slices.Clone(o.Deleted)
	slices.Sort(got)
	if !slices.Equal(got, wantDeleted) {
		t.Errorf("deleted %v, want %v", got, wantDeleted)
	}
	for _, spared := range []string{
		"ml-research/llama-finetune-0", "serving/sd-inference-6b8d7c9f5-q7w2e", "team-d/notebook-0",
		"kube-system/node-gpu-check-4kq8s", "free-notebooks/jupyter-bob", "free-notebooks/jupyter-carol",
		"free-notebooks/jupyter-mallory", "ml-research/llm-pretrain-0", "ml-research/llm-pretrain-1",
		"free-notebooks/jupyter-alice", "team-a/batch-worker-5c7d9f8b6-x2k4q", "team-b/ddp-train-0", "team-c/notebook-0",
		"ml-research/llm-pretrain-2", // training whose profiler reads 0
	} {
		if !slices.Contains(o.Remained, spared) {
			t.Errorf("%s was deleted", spared)
		}
	}
	// The young miner: judged over its own 10 minutes in the first cycle,
	// deleted in the second, 15 minutes after it started.
	var zedDeletedAt time.Time
	for _, r := range o.Results {
		for _, st := range r.Plan.Steps {
			if st.Kind == "delete" && st.Pod.Pod == "jupyter-zed" {
				zedDeletedAt = r.At
			}
		}
	}
	if started := o.Results[0].At.Add(-10 * time.Minute); zedDeletedAt.Sub(started) != 15*time.Minute {
		t.Errorf("jupyter-zed deleted at %v, %v after it started; want 15m", zedDeletedAt, zedDeletedAt.Sub(started))
	}
	// Deleted on the second cycle (two strikes), not the first.
	first := o.Results[0]
	for _, st := range first.Plan.Steps {
		if st.Kind == "delete" {
			t.Errorf("cycle 1 deleted %s: one window must never delete", st.Pod)
		}
	}
	// Verdicts the demo relies on.
	verdicts := map[string]analyzer.Verdict{}
	for _, p := range first.Report.Pods {
		verdicts[p.PodKey.String()] = p.Verdict
	}
	for pod, want := range map[string]analyzer.Verdict{
		"ml-research/llama-finetune-0":        analyzer.Benign,
		"team-d/notebook-0":                   analyzer.Benign,
		"team-c/notebook-0":                   analyzer.Miner,
		"free-notebooks/jupyter-mallory":      analyzer.InsufficientData,
		"ml-research/llm-pretrain-0":          analyzer.Benign,
		"ml-research/llm-pretrain-1":          analyzer.Benign,
		"team-a/batch-worker-5c7d9f8b6-x2k4q": analyzer.Miner,
		"team-e/render-farm-0":                analyzer.Miner,
	} {
		if verdicts[pod] != want {
			t.Errorf("%s: verdict %s, want %s", pod, verdicts[pod], want)
		}
	}
	rules := map[string]string{}
	for _, p := range first.Report.Pods {
		rules[p.PodKey.String()] = p.Evidence.Rule
	}
	strengths := map[string]analyzer.Strength{}
	for _, p := range first.Report.Pods {
		strengths[p.PodKey.String()] = p.Evidence.Strength
	}
	for pod, want := range map[string]analyzer.Strength{
		"team-a/batch-worker-5c7d9f8b6-x2k4q": analyzer.StrengthPartial, // GPU Operator counters
		"team-e/etl-worker-7f9c":              analyzer.StrengthStrong,  // every pipe exported
		"team-e/render-farm-0":                analyzer.StrengthStrong,
		"team-g/vit-train-0":                  analyzer.StrengthStrong,          // the integer pipe, on the H100
		"ml-research/llm-pretrain-2":          analyzer.StrengthUtilizationOnly, // profiler fault
	} {
		if strengths[pod] != want {
			t.Errorf("%s: evidence %q, want %q", pod, strengths[pod], want)
		}
	}
	if rules["ml-research/llm-pretrain-1"] != "training_veto" {
		t.Errorf("flat training on the GPU Operator's counters spared by %q, want training_veto", rules["ml-research/llm-pretrain-1"])
	}
	if rules["ml-research/llm-pretrain-0"] != "training_veto" || rules["team-e/render-farm-0"] != "compute_signature" {
		t.Errorf("flat training spared by %q, throttled miner caught by %q; want training_veto and compute_signature",
			rules["ml-research/llm-pretrain-0"], rules["team-e/render-farm-0"])
	}
	// The adaptive miner: the training veto would spare its token tensor
	// kernel; its saturated integer pipe makes the evidence strong.
	// The training GPU whose profiler reads 0: a profiler fault, judged
	// on utilization alone in every cycle, never deleted.
	for i, r := range o.Results {
		for _, p := range r.Report.Pods {
			switch p.PodKey.String() {
			case "team-g/vit-train-0":
				if i > 1 { // deleted at the second cycle: its samples leave the window
					continue
				}
				if p.Verdict != analyzer.Miner || !strings.Contains(p.Evidence.StrengthReason, "integer_hash") || p.Evidence.ProfilerFault != "" {
					t.Errorf("cycle at %s: vit-train-0 %s, evidence %s: %s", r.At, p.Verdict, p.Evidence.Strength, p.Evidence.StrengthReason)
				}
			case "ml-research/llm-pretrain-2":
				if p.Verdict != analyzer.Miner || p.Evidence.Strength != analyzer.StrengthUtilizationOnly || p.Evidence.Enforceable ||
					!strings.Contains(p.Evidence.ProfilerFault, "every profiling field reads 0") {
					t.Errorf("cycle at %s: llm-pretrain-2 %s, evidence %s (enforceable %v), profiler fault %q", r.At, p.Verdict,
						p.Evidence.Strength, p.Evidence.Enforceable, p.Evidence.ProfilerFault)
				}
			}
		}
		if got := r.Report.Inventory.ProfilerFaults; got != 1 {
			t.Errorf("cycle at %s: %d GPUs with a profiler fault, want 1 (llm-pretrain-2)", r.At, got)
		}
		for _, st := range r.Plan.Steps {
			if st.Kind == "delete" && st.Pod.String() == "ml-research/llm-pretrain-2" {
				t.Errorf("cycle at %s deletes the training GPU whose profiler reads 0", r.At)
			}
			if st.Kind == "delete" && st.Pod.String() == "team-g/vit-train-0" && i != 1 {
				t.Errorf("vit-train-0 deleted in cycle %d, want the second (two strikes)", i+1)
			}
		}
	}
	reasons := map[string]int{}
	for _, e := range o.Events {
		reasons[e.Reason]++
		if e.Reason == "GPUBusyWithoutPod" {
			// Recorded on the Node, counted once per cycle, never a deletion.
			if e.InvolvedObject.Kind != "Node" || e.InvolvedObject.Name != "gpu-node-3" || int(e.Count) != len(o.Results) || e.Namespace != "default" {
				t.Errorf("busy-GPU-without-pod event on %s %s/%s count %d, want Node gpu-node-3 in default, count %d",
					e.InvolvedObject.Kind, e.Namespace, e.InvolvedObject.Name, e.Count, len(o.Results))
			}
		}
	}
	if reasons["GPUBusyWithoutPod"] != 1 {
		t.Errorf("%d GPUBusyWithoutPod events, want 1 (gpu-node-3 gpu 1)", reasons["GPUBusyWithoutPod"])
	}
	// 12 miner pods besides the offender (the profiler-fault training
	// among them: a utilization_only finding is recorded and posted), and
	// each of the offender's 4 pods; deleted ones get a deletion Event;
	// the owner one escalation and one stop.
	if reasons["GPUMinerPodDeleted"] != len(wantDeleted) || reasons["GPUMinerDetected"] != 16 ||
		reasons["GPUMinerRepeatOffender"] != 1 || reasons["GPUMinerOwnerStopped"] != 1 {
		t.Errorf("events %v, want 16 GPUMinerDetected, %d GPUMinerPodDeleted, one GPUMinerRepeatOffender and one GPUMinerOwnerStopped", reasons, len(wantDeleted))
	}
	// One Slack thread per new finding over three cycles: no repeats; and
	// one message for the standing forgery.
	var top, forgeries int
	for _, p := range o.Slack {
		switch {
		case strings.HasPrefix(p.Text, "Untrusted telemetry: pod free-notebooks/jupyter-forger"):
			forgeries++
		case p.ThreadTS == "":
			top++
		}
	}
	if top != 16 || forgeries != 1 {
		t.Errorf("%d new Slack threads and %d forgery posts, want 16 (one per miner pod) and 1", top, forgeries)
	}
	// The forger is reported on its own pod, once, counted every cycle;
	// the pod it frames stays benign in every cycle and is never deleted.
	if reasons[actions.EventReasonUntrustedTelemetry] != 1 {
		t.Errorf("%d %s events, want 1", reasons[actions.EventReasonUntrustedTelemetry], actions.EventReasonUntrustedTelemetry)
	}
	for _, e := range o.Events {
		if e.Reason == actions.EventReasonUntrustedTelemetry && (e.InvolvedObject.Name != "jupyter-forger" || int(e.Count) != len(o.Results)) {
			t.Errorf("%s event on %s count %d, want jupyter-forger counted %d times", e.Reason, e.InvolvedObject.Name, e.Count, len(o.Results))
		}
	}
	for i, r := range o.Results {
		if len(r.Read.Untrusted) != 1 || r.Read.Untrusted[0].Pod != "jupyter-forger" {
			t.Errorf("cycle %d: untrusted %+v, want jupyter-forger", i+1, r.Read.Untrusted)
		}
		for _, p := range r.Report.Pods {
			if p.PodKey.String() == "ml-research/llm-pretrain-0" && p.Verdict != analyzer.Benign {
				t.Errorf("cycle %d: the framed pod is %s: %s", i+1, p.Verdict, p.Evidence.Reason)
			}
		}
	}
	if slices.Contains(o.Deleted, "ml-research/llm-pretrain-0") || !slices.Contains(o.Remained, "ml-research/llm-pretrain-0") {
		t.Errorf("the framed pod was deleted")
	}
	for _, want := range []string{"=== cycle 6 of 6 ===", "deleted (miners, 2 strikes, enforce)", "GPUs with no pod: gpu-node-3/gpu1 mean 99.",
		"gpu-node-6 exports hopper-all-dcp",
		"  team-g/vit-train-0: strong (flat_high_util): integer pipe saturated (pipe_saturation integer_hash): the work a hash kernel cannot shed\n",
		"profiler faults (profiling fields not believed: judged on utilization alone, never deleted by default):\n" +
			"  ml-research/llm-pretrain-2 gpu 4 on gpu-node-5: every profiling field reads 0 (",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
