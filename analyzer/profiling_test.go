package analyzer

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// The rules beyond utilization, judged end to end through Analyze: one hour
// in 5-minute chunks scraped every 15 s (240 expected samples a GPU).
const profWindow, profChunk, profInterval = time.Hour, 5 * time.Minute, 15 * time.Second

func profConfig() Config {
	cfg := DefaultConfig()
	cfg.ScrapeInterval = profInterval
	return cfg
}

// signalSeries is one profiling signal of a GPU, built like utilization. A
// live profiler's ratios are never stuck on one reading: values strictly
// between 0 and 1 alternate by ±0.0005 sample to sample (the mean of every
// chunk unchanged), as a frozen profiler's would not (see profilerFault).
func signalSeries(sig Signal, g GPU, w Workload, value func(time.Time) (float64, bool)) Series {
	live := value
	if slices.Contains(profSignals, sig) {
		live = func(t time.Time) (float64, bool) {
			v, ok := value(t)
			if ok && v > 0.001 && v < 0.999 {
				if (t.Unix()/int64(profInterval/time.Second))%2 == 0 {
					v += 0.0005
				} else {
					v -= 0.0005
				}
			}
			return v, ok
		}
	}
	s := series(g, w, profWindow, profChunk, profInterval, live)
	s.Signal = sig
	return s
}

// gpuSeries is a GPU's utilization (nil: none, as on MIG) and flat profiling
// signals.
func gpuSeries(g GPU, w Workload, util func(time.Time) (float64, bool), signals map[Signal]float64) []Series {
	var out []Series
	if util != nil {
		out = append(out, series(g, w, profWindow, profChunk, profInterval, util))
	}
	for _, sig := range ProfilingSignals() { // stable order
		if v, ok := signals[sig]; ok {
			out = append(out, signalSeries(sig, g, w, flat(v)))
		}
	}
	return out
}

// Profiles as dcgm-exporter reports them.
var (
	trainingProfile = map[Signal]float64{SignalSM: 0.95, SignalTensor: 0.4, SignalFP16: 0.2, SignalFP32: 0.1,
		SignalDRAM: 0.5, SignalPCIeTx: 5e7, SignalPCIeRx: 1e8, SignalNVLinkTx: 2e9, SignalNVLinkRx: 2e9}
	minerProfile = map[Signal]float64{SignalSM: 0.99, SignalTensor: 0.001, SignalFP16: 0, SignalFP32: 0.001,
		SignalDRAM: 0.3, SignalPCIeTx: 3000, SignalPCIeRx: 2000}
	throttledMinerProfile = map[Signal]float64{SignalSM: 0.8, SignalTensor: 0.001, SignalFP32: 0.001,
		SignalDRAM: 0.3, SignalPCIeTx: 3000, SignalPCIeRx: 2000} // 5 kB/s of pool traffic
	inferenceProfile = map[Signal]float64{SignalSM: 0.35, SignalTensor: 0.1, SignalFP32: 0.05,
		SignalDRAM: 0.2, SignalPCIeTx: 2e7, SignalPCIeRx: 3e7}
	smOnlyProfile = map[Signal]float64{SignalSM: 0.99, SignalDRAM: 0.3}
)

func TestAnalyzeProfilingRules(t *testing.T) {
	vetoOff := profConfig()
	vetoOff.TrainingVeto.Disabled = true
	cases := []struct {
		name      string
		cfg       Config
		util      float64
		signals   map[Signal]float64
		verdict   Verdict
		rule      string
		profiling bool
		reasonHas []string
	}{
		{"flat 100% training spared by its busy tensor pipe", profConfig(), 100, trainingProfile,
			Benign, "training_veto", true, []string{"mean 100.00 > 95", "but tensor_active 0.400 > 0.1 with device memory 0.500"}},
		{"flat 100% without profiling metrics: the old rule calls it a miner", profConfig(), 100, nil,
			Miner, "flat_high_util", false, []string{"mean 100.00 > 95", "profiling metrics absent: utilization rule only"}},
		{"flat 100% with idle pipes stays a miner, the veto's numbers noted", profConfig(), 100, minerProfile,
			Miner, "flat_high_util", true, []string{"mean 100.00 > 95", "training_veto: busiest float pipe", "<= 0.1", "evidence partial"}},
		{"flat 100% training with the veto disabled is a miner", vetoOff, 100, trainingProfile,
			Miner, "flat_high_util", true, []string{"mean 100.00 > 95"}},
		{"flat 100% with SM but no pipe metrics: the veto cannot spare, utilization only", profConfig(), 100, smOnlyProfile,
			Miner, "flat_high_util", false, []string{"mean 100.00 > 95", "evidence utilization_only", "no math pipe exported"}},
		{"throttled 80% miner caught by its compute signature", profConfig(), 80, throttledMinerProfile,
			Miner, "compute_signature", true, []string{"active 0.80", "sm_active 1.000 while active", "busy 1.000 > 0.5"}},
		{"throttled 80% without profiling metrics: utilization rule only, benign", profConfig(), 80, nil,
			Benign, "flat_high_util", false, []string{"mean 80.00 <= 95", "profiling metrics absent: utilization rule only"}},
		{"inference at 40% with a used tensor pipe is benign", profConfig(), 40, inferenceProfile,
			Benign, "flat_high_util", true, []string{"mean 40.00 <= 95", "compute_signature: ", "math pipes in use", "training_veto: tensor_active 0.250"}},
		{"training below 95% is benign: busy pipes and data movement", profConfig(), 85, trainingProfile,
			Benign, "flat_high_util", true, []string{"compute_signature: ", "math pipes in use"}},
		{"flat 80% with SM but no pipe metrics: compute signature cannot judge", profConfig(), 80, smOnlyProfile,
			Benign, "flat_high_util", false, []string{"no math pipe exported: utilization rule only"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk,
				Series: gpuSeries(gpu("n1", "0"), pod("team-a", "job"), flat(c.util), c.signals)}, c.cfg)
			if len(rep.Pods) != 1 || len(rep.Pods[0].GPUs) != 1 {
				t.Fatalf("want one pod with one GPU, got %+v", rep.Pods)
			}
			p, g := rep.Pods[0], rep.Pods[0].GPUs[0]
			if p.Verdict != c.verdict || g.Rule != c.rule || p.Evidence.Rule != c.rule {
				t.Fatalf("verdict %s by %s (evidence rule %s): %s; want %s by %s", p.Verdict, g.Rule, p.Evidence.Rule, g.Reason, c.verdict, c.rule)
			}
			if g.Profiling != c.profiling || p.Evidence.Profiling != c.profiling {
				t.Errorf("profiling: GPU %v, evidence %v, want %v", g.Profiling, p.Evidence.Profiling, c.profiling)
			}
			for _, want := range c.reasonHas {
				if !strings.Contains(g.Reason, want) || !strings.Contains(p.Evidence.Reason, want) {
					t.Errorf("reason %q (evidence %q) does not mention %q", g.Reason, p.Evidence.Reason, want)
				}
			}
			if g.Count != 240 || g.Coverage != 1 || g.Mean != c.util {
				t.Errorf("utilization numbers: count %d coverage %v mean %v", g.Count, g.Coverage, g.Mean)
			}
			// The deciding rule's thresholds, and only its, travel with the evidence.
			if got, want := p.Evidence.TrainingVeto != nil, c.rule == "training_veto"; got != want {
				t.Errorf("evidence carries training veto thresholds: %v, want %v", got, want)
			} else if got && *p.Evidence.TrainingVeto != c.cfg.TrainingVeto {
				t.Errorf("evidence training veto %+v, want %+v", *p.Evidence.TrainingVeto, c.cfg.TrainingVeto)
			}
			if got, want := p.Evidence.ComputeSignature != nil, c.rule == "compute_signature"; got != want {
				t.Errorf("evidence carries compute signature thresholds: %v, want %v", got, want)
			} else if got && *p.Evidence.ComputeSignature != c.cfg.ComputeSignature {
				t.Errorf("evidence compute signature %+v, want %+v", *p.Evidence.ComputeSignature, c.cfg.ComputeSignature)
			}
			// Signal numbers: every exported signal, full coverage.
			if len(g.Signals) != len(c.signals) || len(p.Evidence.Signals) != len(c.signals) {
				t.Errorf("%d signals (evidence %d), want %d", len(g.Signals), len(p.Evidence.Signals), len(c.signals))
			}
			for sig, v := range c.signals {
				st := p.Evidence.Signals[sig]
				if math.Abs(st.Mean-v) > 1e-9*math.Max(1, v) || st.Samples != 240 || st.Coverage != 1 || st.StdDev > 0.0006 {
					t.Errorf("%s: %+v, want mean %v over 240 samples", sig, st, v)
				}
			}
		})
	}
}

// Profiling metrics that arrived for the last half hour only are too thin to
// judge with (coverage 0.5 < the 0.8 guard): the utilization rule alone
// decides, the evidence says why, and the thin numbers are still shown.
func TestComputeSignatureThinProfiling(t *testing.T) {
	g, w := gpu("n1", "0"), pod("team-a", "job")
	in := []Series{series(g, w, profWindow, profChunk, profInterval, flat(80))}
	half := testEnd.Add(-profWindow / 2).Add(time.Millisecond)
	for _, sig := range ProfilingSignals() {
		if v, ok := throttledMinerProfile[sig]; ok {
			in = append(in, signalSeries(sig, g, w, since(half, flat(v))))
		}
	}
	rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, profConfig())
	gr := rep.Pods[0].GPUs[0]
	if rep.Pods[0].Verdict != Benign || gr.Rule != "flat_high_util" || gr.Profiling {
		t.Fatalf("verdict %s by %s profiling %v (%s), want benign by flat_high_util without (usable) profiling", rep.Pods[0].Verdict, gr.Rule, gr.Profiling, gr.Reason)
	}
	if st := gr.Signals[SignalSM]; st.Samples != 120 || st.Coverage != 0.5 {
		t.Errorf("sm_active %+v, want 120 samples, coverage 0.5", st)
	}
	for _, want := range []string{"profiling metrics below coverage 0.80", "utilization rule only"} {
		if !strings.Contains(gr.Reason, want) {
			t.Errorf("reason %q does not say the profiling metrics were too thin (%q)", gr.Reason, want)
		}
	}
}

// A GPU no pod holds is never a pod: busy, it is a node finding.
func TestAnalyzeUnattributedGPUs(t *testing.T) {
	none := Workload{}
	var in []Series
	in = append(in, gpuSeries(gpu("n1", "0"), none, flat(100), nil)...)
	in = append(in, gpuSeries(gpu("n1", "1"), none, flat(100), minerProfile)...)
	in = append(in, gpuSeries(gpu("n1", "2"), none, flat(0), nil)...)
	in = append(in, gpuSeries(gpu("n1", "3"), none, flat(50), nil)...)
	in = append(in, gpuSeries(gpu("n1", "4"), none, flat(100), trainingProfile)...)
	in = append(in, gpuSeries(gpu("n1", "5"), pod("team-a", "job"), flat(10), nil)...)
	rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, profConfig())

	if len(rep.Pods) != 1 || rep.Pods[0].Pod != "job" {
		t.Fatalf("pods %+v, want only team-a/job", rep.Pods)
	}
	cases := []struct {
		uuid      string
		name      string
		verdict   Verdict
		reasonHas []string
		notHas    string
	}{
		{"GPU-n1-0", "host process at 100% without profiling", BusyUnattributed,
			[]string{"no pod holds it, yet mean utilization 100.00 > 50"}, "looks like a miner"},
		{"GPU-n1-1", "host process with a miner's signature says so", BusyUnattributed,
			[]string{"no pod holds it, yet", "; looks like a miner: compute_signature: active 1.00, sm_active 0.990"}, ""},
		{"GPU-n1-2", "idle GPU", Benign, []string{"no pod holds it; mean utilization 0.00 <= 50"}, ""},
		{"GPU-n1-3", "exactly 50% is not busy (strict)", Benign, []string{"50.00 <= 50"}, ""},
		{"GPU-n1-4", "busy training outside any pod is still a finding", BusyUnattributed,
			[]string{"100.00 > 50"}, "looks like a miner"},
	}
	if len(rep.UnattributedGPUs) != len(cases) {
		t.Fatalf("%d unattributed GPUs, want %d", len(rep.UnattributedGPUs), len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i := slices.IndexFunc(rep.UnattributedGPUs, func(g GPUReport) bool { return g.UUID == c.uuid })
			if i < 0 {
				t.Fatalf("%s not among the unattributed GPUs", c.uuid)
			}
			g := rep.UnattributedGPUs[i]
			if g.Verdict != c.verdict || g.Rule != "busy_without_pod" {
				t.Fatalf("verdict %s by %s (%s), want %s by busy_without_pod", g.Verdict, g.Rule, g.Reason, c.verdict)
			}
			for _, want := range c.reasonHas {
				if !strings.Contains(g.Reason, want) {
					t.Errorf("reason %q does not mention %q", g.Reason, want)
				}
			}
			if c.notHas != "" && strings.Contains(g.Reason, c.notHas) {
				t.Errorf("reason %q should not say %q", g.Reason, c.notHas)
			}
		})
	}
	for _, p := range rep.Pods {
		if p.Verdict == BusyUnattributed {
			t.Errorf("pod %s has the unattributed verdict", p.PodKey)
		}
	}
}

func migGPU(instance string) GPU {
	g := gpu("n1", "0")
	g.UUID, g.MIGInstance, g.MIGProfile = "GPU-a100", instance, "3g.40gb"
	return g
}

// withGR adds a MIG instance's graphics-engine activity, its only
// utilization, to a profile.
func withGR(gr float64, profile map[Signal]float64) map[Signal]float64 {
	out := map[Signal]float64{SignalGREngine: gr}
	for k, v := range profile {
		out[k] = v
	}
	return out
}

// MIG instances of one GPU are judged apart, on the graphics engine's
// activity as a percentage (dcgm reports no utilization per instance).
func TestAnalyzeMIGInstances(t *testing.T) {
	var in []Series
	in = append(in, gpuSeries(migGPU("1"), pod("team-a", "miner"), nil, withGR(0.999, nil))...)
	in = append(in, gpuSeries(migGPU("2"), pod("team-b", "trainer"), nil, withGR(0.999, trainingProfile))...)
	in = append(in, gpuSeries(migGPU("3"), pod("team-c", "throttled"), nil, withGR(0.8, throttledMinerProfile))...)
	rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, profConfig())

	cases := []struct {
		ns, pod   string
		instance  string
		verdict   Verdict
		rule      string
		profiling bool
		mean      float64
	}{
		{"team-a", "miner", "1", Miner, "flat_high_util", false, 99.9},
		{"team-b", "trainer", "2", Benign, "training_veto", true, 99.9},
		{"team-c", "throttled", "3", Miner, "compute_signature", true, 80},
	}
	keys := map[string]bool{}
	for _, c := range cases {
		t.Run(c.pod, func(t *testing.T) {
			p := findPod(t, rep, c.ns, c.pod)
			if len(p.GPUs) != 1 {
				t.Fatalf("%d GPUs, want the one instance", len(p.GPUs))
			}
			g := p.GPUs[0]
			keys[g.Key()] = true
			if g.MIGInstance != c.instance || g.Key() != "GPU-a100/mig-"+c.instance {
				t.Errorf("instance %q key %q, want instance %s", g.MIGInstance, g.Key(), c.instance)
			}
			if p.Verdict != c.verdict || g.Rule != c.rule || g.Profiling != c.profiling {
				t.Fatalf("verdict %s by %s profiling %v (%s), want %s by %s profiling %v", p.Verdict, g.Rule, g.Profiling, g.Reason, c.verdict, c.rule, c.profiling)
			}
			if g.Count != 240 || g.Coverage != 1 || g.BadSamples != 0 || math.Abs(g.Mean-c.mean) > 1e-9 {
				t.Errorf("primary numbers: count %d coverage %v bad %d mean %v, want 240, 1, 0, %v", g.Count, g.Coverage, g.BadSamples, g.Mean, c.mean)
			}
			// Evidence curves are built for findings only.
			if c.verdict == Benign {
				if len(g.Curve) != 0 || len(p.Evidence.Curves[0].ChunkMeans) != 0 {
					t.Errorf("benign pod carries a curve of %d chunks", len(g.Curve))
				}
			} else if len(g.Curve) != 12 || math.Abs(g.Curve[0].Mean-c.mean) > 1e-9 {
				t.Errorf("curve %+v, want 12 chunks at %v", g.Curve, c.mean)
			}
			if g.Shared {
				t.Errorf("instance marked shared with %v: MIG instances are separate GPUs", g.SharedWith)
			}
			if len(p.Evidence.Curves) != 1 || p.Evidence.Curves[0].MIGInstance != c.instance {
				t.Errorf("evidence curves %+v, want one for instance %s", p.Evidence.Curves, c.instance)
			}
		})
	}
	if len(keys) != len(cases) || len(rep.Pods) != len(cases) {
		t.Fatalf("%d distinct GPU keys over %d pods, want %d", len(keys), len(rep.Pods), len(cases))
	}
}

// A utilization series on a MIG instance is not what the rules judge: the
// graphics engine is.
func TestAnalyzeMIGInstanceWithoutGREngine(t *testing.T) {
	rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk,
		Series: gpuSeries(migGPU("1"), pod("a", "p"), flat(100), nil)}, profConfig())
	if v := rep.Pods[0].Verdict; v != InsufficientData {
		t.Fatalf("verdict %s (%s), want insufficient_data", v, rep.Pods[0].Evidence.Reason)
	}
}

// The report is the same whatever order the series arrive in: one pod on
// two MIG instances of one GPU lists them by instance.
func TestAnalyzeMIGInstancesOrdered(t *testing.T) {
	build := func(order ...string) Report {
		var in []Series
		for _, inst := range order {
			in = append(in, gpuSeries(migGPU(inst), pod("a", "p"), nil, withGR(0.5, nil))...)
			in = append(in, gpuSeries(migGPU(inst), Workload{}, nil, withGR(0.6, nil))...)
		}
		return Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, profConfig())
	}
	for _, order := range [][]string{{"1", "2"}, {"2", "1"}} {
		rep := build(order...)
		var pods, free []string
		for _, g := range rep.Pods[0].GPUs {
			pods = append(pods, g.MIGInstance)
		}
		for _, g := range rep.UnattributedGPUs {
			free = append(free, g.MIGInstance)
		}
		if !slices.Equal(pods, []string{"1", "2"}) || !slices.Equal(free, []string{"1", "2"}) {
			t.Errorf("input order %v: pod GPUs %v, unattributed %v; want instances 1, 2 in both", order, pods, free)
		}
	}
}

// An invalid chunk of a profiling signal is a bad sample of that signal:
// the signal loses the chunk, utilization keeps it.
func TestAnalyzeInvalidProfilingChunk(t *testing.T) {
	cases := []struct {
		name  string
		sig   Signal
		chunk Moments
	}{
		{"SM mean above 1 (max out of range)", SignalSM, MomentsFromStats(20, 1.5, 0, 1.5, 1.5)},
		{"SM negative minimum", SignalSM, MomentsFromStats(20, 0.5, 0.5, -0.1, 1)},
		{"SM NaN", SignalSM, Moments{Count: 20, Mean: math.NaN(), M2: math.NaN(), Min: 0.9, Max: 1}},
		{"SM mean 1.5 from a producer that leaves min and max unset", SignalSM, Moments{Count: 20, Mean: 1.5}},
		{"negative PCIe bytes", SignalPCIeRx, MomentsFromStats(20, -5, 0, -5, -5)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := gpuSeries(gpu("n1", "0"), pod("a", "p"), flat(80), throttledMinerProfile)
			for i := range in {
				if in[i].Signal == c.sig {
					in[i].Chunks[3].Moments = c.chunk
				}
			}
			rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, profConfig())
			g := rep.Pods[0].GPUs[0]
			if g.Count != 240 || g.BadSamples != 0 || g.Coverage != 1 || g.Mean != 80 {
				t.Errorf("utilization touched by a bad %s chunk: count %d bad %d coverage %v mean %v", c.sig, g.Count, g.BadSamples, g.Coverage, g.Mean)
			}
			st := g.Signals[c.sig]
			want := throttledMinerProfile[c.sig]
			if st.Samples != 220 || math.Abs(st.Coverage-220.0/240) > 1e-12 || math.Abs(st.Mean-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("%s: %+v, want mean %v over 220 samples (coverage %.4f): the bad chunk excluded", c.sig, st, want, 220.0/240)
			}
			// 220/240 is above compute signature's 0.9: the miner is still caught.
			if rep.Pods[0].Verdict != Miner || g.Rule != "compute_signature" {
				t.Errorf("verdict %s by %s (%s), want miner by compute_signature", rep.Pods[0].Verdict, g.Rule, g.Reason)
			}
		})
	}
}

// On a MIG instance the graphics engine is utilization: its bad chunk is a
// bad utilization sample.
func TestAnalyzeInvalidMIGPrimaryChunk(t *testing.T) {
	in := gpuSeries(migGPU("1"), pod("a", "p"), nil, withGR(0.999, nil))
	in[0].Chunks[3].Moments = MomentsFromStats(20, 1.2, 0, 1.2, 1.2)
	cfg := profConfig()
	cfg.MinCoverage = 0.5
	rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, cfg)
	g := rep.Pods[0].GPUs[0]
	if g.Count != 220 || g.BadSamples != 20 || math.Abs(g.Mean-99.9) > 1e-9 {
		t.Fatalf("count %d bad %d mean %v, want 220, 20, 99.9", g.Count, g.BadSamples, g.Mean)
	}
}

// A pipe signal seen for one chunk of the window is too thin to spare a GPU
// held flat at 100 % for the whole hour (Profile: "the ones with enough
// coverage to be trusted").
func TestTrainingVetoNeedsCoverage(t *testing.T) {
	in := gpuSeries(gpu("n1", "0"), pod("a", "p"), flat(100), minerProfile)
	for i := range in {
		if in[i].Signal == SignalTensor {
			in[i] = signalSeries(SignalTensor, gpu("n1", "0"), pod("a", "p"), since(testEnd.Add(-profChunk).Add(time.Millisecond), flat(0.4)))
		}
	}
	rep := Analyze(Input{End: testEnd, Window: profWindow, Chunk: profChunk, Series: in}, profConfig())
	g := rep.Pods[0].GPUs[0]
	if st := g.Signals[SignalTensor]; st.Samples != 20 {
		t.Fatalf("tensor: %+v, want 20 samples (one chunk)", st)
	}
	if rep.Pods[0].Verdict != Miner {
		t.Errorf("flat 100%% spared by a tensor signal covering %.2f of the window: %s by %s (%s)",
			g.Signals[SignalTensor].Coverage, rep.Pods[0].Verdict, g.Rule, g.Reason)
	}
}
