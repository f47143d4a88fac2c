package analyzer

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// sharedLoad is how many chunks' worth of samples the pods on one GPU must
// report together within one chunk to be counted as using it at the same time:
// a pod handing the GPU to the next within a chunk stays near 1.
const sharedLoad = 1.25

// Analyze judges every GPU and pod in the input. It never fails: invalid
// chunks are counted as bad samples and excluded.
func Analyze(in Input, cfg Config) Report {
	rep := Report{End: in.End, Window: in.Window, Chunk: in.Chunk}
	rep.ScrapeInterval, rep.ScrapeIntervalSource = cfg.ScrapeInterval, "configured"
	if rep.ScrapeInterval == 0 {
		rep.ScrapeInterval, rep.ScrapeIntervalSource = DetectScrapeInterval(in.Series, in.Chunk), "detected"
	}
	expected := int64(0)
	if rep.ScrapeInterval > 0 {
		expected = int64(math.Round(float64(in.Window) / float64(rep.ScrapeInterval)))
	}

	groups := groupSeries(in, rep.ScrapeInterval)
	shared := findShared(groups, in.Chunk, rep.ScrapeInterval)

	byPod := map[PodKey][]GPUReport{}
	podGroups := map[PodKey][]*group{}
	for _, g := range groups {
		r := judgeGPU(g, expected, cfg)
		if g.pod.Pod == "" {
			if r.Verdict != Benign || cfg.AllCurves {
				r.Curve = g.curve(cfg)
			}
			rep.UnattributedGPUs = append(rep.UnattributedGPUs, r)
			continue
		}
		podGroups[g.pod] = append(podGroups[g.pod], g)
		if others := shared[g.gpu.Key()]; len(others) > 1 {
			for _, o := range others {
				if o != g.pod {
					r.Shared = true
					r.SharedWith = append(r.SharedWith, o)
				}
			}
		}
		byPod[g.pod] = append(byPod[g.pod], r)
	}
	judgeOwners(byPod, podGroups, expected, cfg)
	for key, gpus := range byPod {
		// Evidence curves are built for findings only: at fleet scale the
		// benign pods' curves would be most of the report's memory.
		if worstVerdict(gpus) != Benign || cfg.AllCurves {
			for i, g := range podGroups[key] {
				gpus[i].Curve = g.curve(cfg)
			}
		}
		rep.Pods = append(rep.Pods, podReport(key, gpus, rep, cfg))
	}
	slices.SortFunc(rep.Pods, func(a, b PodReport) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Pod, b.Pod))
	})
	sortGPUs(rep.UnattributedGPUs)
	rep.Inventory = inventory(rep, cfg)
	return rep
}

// group is every series of one GPU for one pod (or unattributed).
type group struct {
	pod       PodKey
	gpu       GPU
	container string
	series    bySignal
	window    window
	// parallel is how many GPUs the group's samples come from at once: 1,
	// except for an owner's merged window (see mergeOwner).
	parallel int64
	// disagrees, for an owner's merged window, is a disagreement between
	// the series of one of its pods' GPUs.
	disagrees *Disagreement
}

// primary is the series the utilization rules judge, and the factor that
// turns them into a percentage: utilization for a whole GPU; for a MIG
// instance, whose utilization dcgm does not report per instance, the
// graphics engine's activity.
func (g *group) primary() (Signal, float64) {
	if g.gpu.MIGInstance != "" {
		return SignalGREngine, 100
	}
	return SignalUtil, 1
}

// window maps chunk ends to positions in the window.
type window struct {
	start time.Time
	chunk time.Duration
	n     int
	// perSegment is how many chunks one segment holds (0: the window is
	// one segment).
	perSegment int
	// interval is the scrape interval (0: unknown), and profSpan the span
	// one chunk of a profiling series covers (a segment, or the chunk):
	// together, how many samples one chunk of a series can hold.
	interval, profSpan time.Duration
}

// index is the position of the chunk ending at end, or -1 outside the window
// or off its chunk grid.
func (w window) index(end Instant) int {
	step := w.chunk.Milliseconds()
	if step <= 0 {
		return -1
	}
	d := int64(end) - w.start.UnixMilli()
	if d <= 0 || d%step != 0 || d/step > int64(w.n) {
		return -1
	}
	return int(d/step) - 1
}

func (c Chunk) samples() int64 { return c.Count + c.BadSamples }

// chunks returns the group's chunks by position in the window (samples() == 0:
// no data). When two series of the same pod and GPU both hold samples for one
// chunk, they are either one exporter's series before and after a restart
// (its instance label changed), together holding no more samples than the
// chunk can, and they merge; or the same samples twice (a target scraped
// twice, or an exporter and its stale twin), holding more, and only the
// fuller counts, so samples are never counted twice. With no scrape
// interval known, the fuller counts. Chunks outside the window are ignored.
func (g *group) chunks(sig Signal) []Chunk {
	out := make([]Chunk, g.window.n)
	capacity := g.capacity(sig)
	for _, s := range g.series.of(sig) {
		for _, c := range s.Chunks {
			i := g.window.index(c.End)
			switch {
			case i < 0:
			case out[i].samples() > 0 && out[i].samples()+c.samples() <= capacity:
				out[i] = Chunk{End: c.End, Moments: out[i].Moments.Merge(c.Moments), BadSamples: out[i].BadSamples + c.BadSamples}
			case c.samples() > out[i].samples():
				out[i] = c
			}
		}
	}
	return out
}

// inOrder returns the chunks in time order without copying them in the
// common case: one series whose chunks are in order and inside the window.
func (g *group) inOrder(sig Signal) []Chunk {
	series := g.series.of(sig)
	if len(series) != 1 {
		return g.chunks(sig)
	}
	cs := series[0].Chunks
	last := -1
	for _, c := range cs {
		i := g.window.index(c.End)
		if i <= last {
			return g.chunks(sig)
		}
		last = i
	}
	return cs
}

// groupSeries joins series of the same pod and GPU, every signal (an
// exporter restart starts a new series).
func groupSeries(in Input, interval time.Duration) []*group {
	type key struct {
		pod PodKey
		gpu string
	}
	w := window{start: in.End.Add(-in.Window), chunk: in.Chunk, interval: interval, profSpan: in.Chunk}
	if in.Segment > 0 {
		w.profSpan = in.Segment
	}
	if in.Chunk > 0 {
		w.n = int(in.Window / in.Chunk)
		if in.Segment > 0 && in.Segment < in.Window && in.Segment%in.Chunk == 0 && in.Window%in.Segment == 0 {
			w.perSegment = int(in.Segment / in.Chunk)
		}
	}
	// Two passes: the first counts each group's series, so that the second
	// fills slices of the right size (10k GPUs hold 170,000 series).
	keys := make([]*group, len(in.Series))
	index := map[key]*group{}
	var out []*group
	for i := range in.Series {
		s := &in.Series[i]
		src := s.source()
		k := key{PodKey{src.Workload.Namespace, src.Workload.Pod}, src.GPU.Key()}
		if src.Workload.Pod == "" {
			k.pod = PodKey{}
		}
		g := index[k]
		if g == nil {
			g = &group{pod: k.pod, gpu: src.GPU, container: src.Workload.Container, window: w}
			index[k] = g
			out = append(out, g)
		}
		g.parallel++ // the count, until the second pass
		keys[i] = g
	}
	for _, g := range out {
		g.series, g.parallel = make(bySignal, 0, g.parallel), 0
	}
	for i, g := range keys {
		g.series = append(g.series, &in.Series[i])
	}
	for _, g := range out {
		g.series.sort()
	}
	return out
}

// bySignal is a group's series sorted by signal (a slice rather than a map:
// a fleet holds one group per pod and GPU).
type bySignal []*Series

// sort orders the series by signal, keeping each signal's in input order.
func (b bySignal) sort() {
	slices.SortStableFunc(b, func(x, y *Series) int { return strings.Compare(string(x.Signal), string(y.Signal)) })
}

// of is the series of sig.
func (b bySignal) of(sig Signal) []*Series {
	i, _ := slices.BinarySearchFunc(b, sig, func(s *Series, sig Signal) int { return strings.Compare(string(s.Signal), string(sig)) })
	j := i
	for j < len(b) && b[j].Signal == sig {
		j++
	}
	return b[i:j:j]
}

// has says whether there is a series of sig.
func (b bySignal) has(sig Signal) bool { return len(b.of(sig)) > 0 }

// repeats says whether some signal has more than one series.
func (b bySignal) repeats() bool {
	for i := 1; i < len(b); i++ {
		if b[i].Signal == b[i-1].Signal {
			return true
		}
	}
	return false
}

// signals are the distinct signals, in order.
func (b bySignal) signals() []Signal {
	var out []Signal
	for i, s := range b {
		if i == 0 || s.Signal != b[i-1].Signal {
			out = append(out, s.Signal)
		}
	}
	return out
}

// findShared returns, per GPU key, the pods that used it at the same time.
func findShared(groups []*group, chunk, interval time.Duration) map[string][]PodKey {
	perChunk := 1.0
	if interval > 0 {
		perChunk = float64(chunk) / float64(interval)
	}
	byGPU := map[string][]*group{}
	for _, g := range groups {
		if g.pod.Pod != "" {
			byGPU[g.gpu.Key()] = append(byGPU[g.gpu.Key()], g)
		}
	}
	out := map[string][]PodKey{}
	for key, gs := range byGPU {
		if len(gs) < 2 {
			continue
		}
		byPos := make([][]Chunk, len(gs))
		for j, g := range gs {
			sig, _ := g.primary()
			byPos[j] = g.chunks(sig)
		}
		for i := range gs[0].window.n {
			var load int64
			var present []PodKey
			for j, g := range gs {
				if n := byPos[j][i].samples(); n > 0 {
					load += n
					present = append(present, g.pod)
				}
			}
			if len(present) < 2 || float64(load) <= sharedLoad*perChunk {
				continue
			}
			for _, p := range present {
				if !slices.Contains(out[key], p) {
					out[key] = append(out[key], p)
				}
			}
		}
		slices.SortFunc(out[key], func(a, b PodKey) int { return cmp.Compare(a.String(), b.String()) })
	}
	return out
}

// mergeChunks merges a group's valid chunks in time order, scaled by scale;
// chunks with values outside [lo, hi] count as bad samples. The evidence
// curve is built only when asked for (utilization's, not the signals').
func mergeChunks(chunks []Chunk, lo, hi, scale float64, curve bool) Stats {
	var s Stats
	if curve {
		s.Curve = make([]ChunkMean, 0, len(chunks))
	}
	for _, c := range chunks {
		if c.samples() == 0 {
			continue
		}
		s.BadSamples += c.BadSamples
		if !c.Moments.Valid(lo, hi) {
			s.BadSamples += max(c.Count, 0)
			continue
		}
		if s.Count == 0 {
			s.FirstChunkEnd = c.End.Time()
		}
		m := c.Moments.Scale(scale)
		s.Moments = s.Moments.Merge(m)
		if curve {
			s.Curve = append(s.Curve, ChunkMean{End: c.End.Time(), Mean: m.Mean, Samples: c.Count})
		}
	}
	return s
}

// primaryRange is the primary signal, its scale and its valid range.
func (g *group) primaryRange(cfg Config) (sig Signal, scale, lo, hi float64) {
	sig, scale = g.primary()
	lo, hi = cfg.ValidMin, cfg.ValidMax
	if sig != SignalUtil {
		lo, hi = sig.ValidRange()
	}
	return sig, scale, lo, hi
}

// curve is the group's evidence curve: the per-chunk means of its primary
// signal.
func (g *group) curve(cfg Config) []ChunkMean {
	sig, scale, lo, hi := g.primaryRange(cfg)
	return mergeChunks(g.inOrder(sig), lo, hi, scale, true).Curve
}

// worstVerdict is the most severe of the GPUs' verdicts.
func worstVerdict(gpus []GPUReport) Verdict {
	v := Benign
	for _, g := range gpus {
		if g.Verdict.Severity() > v.Severity() {
			v = g.Verdict
		}
	}
	return v
}

// A GPU whose series disagree (see Disagreement) is judged as usual, on the
// fuller series of each chunk, and its verdict is never enforceable.
func judgeGPU(g *group, expected int64, cfg Config) GPUReport {
	d := g.disagrees
	if d == nil {
		d = g.disagreement(cfg)
	}
	return withoutEnforcement(judgeWindow(g, expected, cfg), d)
}

// judgeWindow is judgeGPU before disagreements.
func judgeWindow(g *group, expected int64, cfg Config) GPUReport {
	sig, scale, lo, hi := g.primaryRange(cfg)
	r := GPUReport{GPU: g.gpu, Container: g.container, Stats: mergeChunks(g.inOrder(sig), lo, hi, scale, false)}
	r.ExpectedSamples = expected
	if expected > 0 {
		r.Coverage = float64(r.Count) / float64(expected)
	}
	r.Signals = g.profile(expected)
	if r.Count == 0 || r.Coverage < cfg.MinCoverage {
		if young, ok := judgeYoung(g, r, expected, cfg); ok {
			return young
		}
		r.describeSignals(cfg)
		r.Rule = cfg.FlatHighUtil.Name()
		r.Verdict = InsufficientData
		r.Reason = fmt.Sprintf("coverage %.2f < %.2f (%d of %d expected samples, %d bad)",
			r.Coverage, cfg.MinCoverage, r.Count, expected, r.BadSamples)
		return r
	}
	d := decide(g, r, cfg)
	if seg, ok := judgeSegments(g, d, r, expected, cfg); ok {
		return seg
	}
	return d
}

// describeSignals reads the GPU's covered signals by role into the report.
func (r *GPUReport) describeSignals(cfg Config) view {
	// Signals thinner than the coverage guard are shown, never judged on.
	v := r.Signals.covered(cfg.MinCoverage).roles()
	r.Profiling = len(v.pipes) > 0
	r.SignalsUsed, r.SignalsAbsent = v.used(), v.absent()
	return v
}

// decide runs the declared rules on a GPU whose samples cover enough of
// what is judged (the window, a young pod's own life, an owner's window)
// and combines their opinions; a miner verdict's evidence is graded.
func decide(g *group, r GPUReport, cfg Config) GPUReport {
	r.describeSignals(cfg)
	f := newFacts(g, r, cfg)
	r.ProfilerFault = f.ProfilerFault
	r.Active = f.Active
	r.Board = f.Board
	r.Profiling = len(f.view.pipes) > 0 // after a profiler fault, no pipe is judged
	if f.ProfilerFault != "" {
		r.SignalsUsed = f.view.used()
	}
	var ops []Opinion
	for _, rule := range cfg.rules() {
		ops = append(ops, rule.Judge(f))
	}
	r.Verdict, r.Rule, r.Reason = combine(f, ops)
	r.Strength, r.StrengthReason = "", ""
	if r.Verdict != Miner {
		if r.Verdict == Benign && f.Attributed && !r.Profiling {
			r.Reason += "; " + utilizationOnly(r.Signals, cfg.MinCoverage)
		}
		return r
	}
	r.Strength, r.StrengthReason = grade(f, r.Rule, cfg)
	if r.Strength == StrengthUtilizationOnly && f.ProfilerFault == "" {
		r.StrengthReason = utilizationOnly(r.Signals, cfg.MinCoverage) + ", which flat training also shows"
	}
	r.Reason += "; evidence " + string(r.Strength) + ": " + r.StrengthReason
	return r
}

// judgeYoung judges a GPU whose samples start inside the window (a young
// pod) over its own life, from its first sample to the window's end, once
// that span reaches cfg.MinSpanStrong. Only strong evidence counts there:
// the rules run on the span exactly as on a window (the same coverage guard,
// of the span; the same signals), and a verdict that is not a miner on
// strong evidence leaves the GPU insufficient_data, to be judged on the full
// window's coverage like any other. So a young pod can be deleted minutes
// after it starts only when every math pipe FP32, FP64 and tensor work would
// use was seen idle; flat training that starts with busy pipes, and anything
// judged on weaker evidence, waits for the window.
func judgeYoung(g *group, r GPUReport, expected int64, cfg Config) (GPUReport, bool) {
	y, span, ok := judgeSpan(g, r, expected, cfg, cfg.MinSpanStrong)
	if !ok || y.Verdict != Miner || y.Strength != StrengthStrong {
		return r, false
	}
	y.Reason = fmt.Sprintf("young: judged over its own %s (since %s, min span %s for strong evidence): %s",
		formatSpan(span), g.window.end().Add(-span).UTC().Format(time.RFC3339), formatSpan(cfg.MinSpanStrong), y.Reason)
	return y, true
}

// judgeSpan applies the rules to a GPU over its own life, from its first
// sample to the window's end, when that span reaches minSpan and its samples
// cover enough of it. It returns the decided report and the span; false
// when the span is too short or too thin to judge.
func judgeSpan(g *group, r GPUReport, expected int64, cfg Config, minSpan time.Duration) (GPUReport, time.Duration, bool) {
	par := max(g.parallel, 1)
	if minSpan <= 0 || expected <= 0 || r.Count == 0 {
		return r, 0, false
	}
	interval := time.Duration(float64(g.window.chunk*time.Duration(g.window.n)) / float64(expected/par))
	sig, _ := g.primary()
	var first Chunk
	for _, c := range g.inOrder(sig) {
		if c.Count > 0 {
			first = c
			break
		}
	}
	// The first sample is at most one chunk before the first chunk's end:
	// count back its samples at the scrape interval, no further.
	lead := min(time.Duration(first.Count/par)*interval, g.window.chunk)
	span := g.window.end().Sub(first.End.Time()) + lead
	if first.End.IsZero() || span < minSpan || interval <= 0 {
		return r, 0, false
	}
	spanExpected := int64(math.Round(float64(span)/float64(interval))) * par
	y := r
	y.Span, y.ExpectedSamples = span, spanExpected
	y.Coverage = float64(r.Count) / float64(spanExpected)
	if y.Coverage < cfg.MinCoverage {
		return r, 0, false
	}
	y.Signals = Profile{}
	for s, st := range r.Signals {
		st.Coverage = float64(st.Samples) / float64(spanExpected)
		y.Signals[s] = st
	}
	return decide(g, y, cfg), span, true
}

// end is the end of the window.
func (w window) end() time.Time { return w.start.Add(time.Duration(w.n) * w.chunk) }

// formatSpan prints 15m rather than 15m0s.
func formatSpan(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// utilizationOnly says why no math pipe could judge a GPU: none exported,
// or too thin to judge with.
func utilizationOnly(all Profile, minCoverage float64) string {
	switch {
	case len(all) == 0:
		return "profiling metrics absent: utilization rule only"
	case all.hasAny(pipeSignals):
		return fmt.Sprintf("profiling metrics below coverage %.2f: utilization rule only", minCoverage)
	default:
		return "no math pipe exported: utilization rule only"
	}
}

// profile merges every profiling signal the group has, each over the same
// expected sample count as utilization.
func (g *group) profile(expected int64) Profile {
	return g.profileOf(g.inOrder, expected)
}

// profileOf merges every profiling signal the group has from the chunks
// chunksOf gives (the window's, or one segment's), each over expected.
func (g *group) profileOf(chunksOf func(Signal) []Chunk, expected int64) Profile {
	p := Profile{}
	g.profileInto(p, chunksOf, expected)
	return p
}

// profileInto is profileOf into p.
func (g *group) profileInto(p Profile, chunksOf func(Signal) []Chunk, expected int64) {
	for _, sig := range ProfilingSignals() {
		if !g.series.has(sig) {
			continue
		}
		lo, hi := sig.ValidRange()
		st := mergeChunks(chunksOf(sig), lo, hi, sig.Scale(), false)
		if st.Count == 0 {
			continue
		}
		ss := SignalStats{Mean: st.Mean, Samples: st.Count}
		if sig.Spread() {
			ss.StdDev = st.StdDev()
		}
		if expected > 0 {
			ss.Coverage = float64(st.Count) / float64(expected)
		}
		p[sig] = ss
	}
}

func podReport(key PodKey, gpus []GPUReport, rep Report, cfg Config) PodReport {
	sortGPUs(gpus)
	p := PodReport{PodKey: key, Verdict: Benign, GPUs: gpus}
	worst := gpus[0]
	for _, g := range gpus {
		p.Shared = p.Shared || g.Shared
		if g.Verdict.Severity() > worst.Verdict.Severity() {
			worst = g
		}
	}
	p.Verdict, p.Node = worst.Verdict, worst.Node
	p.Evidence = Evidence{
		Rule: worst.Rule,
		Thresholds: Thresholds{
			MeanAbove:   cfg.FlatHighUtil.MeanAbove,
			StdDevBelow: cfg.FlatHighUtil.StdDevBelow,
			MinCoverage: cfg.MinCoverage,
		},
		Profiling:            worst.Profiling,
		SpanSecs:             worst.Span.Seconds(),
		Owner:                worst.Owner,
		Strength:             worst.Strength,
		StrengthReason:       worst.StrengthReason,
		Enforceable:          worst.Verdict == Miner && worst.Strength.Enforceable(),
		ProfilerFault:        worst.ProfilerFault,
		Disagreement:         worst.Disagreement,
		Segments:             worst.Segments,
		SignalsUsed:          append([]Signal{}, worst.SignalsUsed...),
		SignalsAbsent:        append([]Signal{}, worst.SignalsAbsent...),
		Reason:               fmt.Sprintf("gpu %s (%s) on %s: %s", worst.Index, worst.UUID, worst.Node, worst.Reason),
		WindowSecs:           rep.Window.Seconds(),
		WindowEnd:            rep.End,
		ScrapeIntervalSecs:   rep.ScrapeInterval.Seconds(),
		ScrapeIntervalSource: rep.ScrapeIntervalSource,
		ChunkSecs:            rep.Chunk.Seconds(),
	}
	if len(worst.Signals) > 0 {
		p.Evidence.Signals = worst.Signals
	}
	if worst.Profiling {
		switch worst.Rule {
		case cfg.TrainingVeto.Name():
			p.Evidence.TrainingVeto = &cfg.TrainingVeto
		case cfg.ComputeSignature.Name():
			p.Evidence.ComputeSignature = &cfg.ComputeSignature
		case cfg.PipeSaturation.Name():
			p.Evidence.PipeSaturation = &cfg.PipeSaturation
		}
	}
	if worst.Verdict == Miner {
		b := worst.Board
		p.Evidence.Board = &b
	}
	for _, g := range gpus {
		p.Evidence.Curves = append(p.Evidence.Curves, GPUCurve{GPU: g.Index, UUID: g.UUID, MIGInstance: g.MIGInstance, ChunkMeans: g.Curve})
	}
	return p
}

func sortGPUs(gpus []GPUReport) {
	slices.SortFunc(gpus, func(a, b GPUReport) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Index, b.Index), cmp.Compare(a.UUID, b.UUID),
			cmp.Compare(a.MIGInstance, b.MIGInstance))
	})
}

// DetectScrapeInterval estimates the sample spacing from the data: for each
// utilization (or MIG graphics engine) series, the spacing in its fullest
// chunk (chunk / samples); the fleet's
// interval is the median of those. Gaps and young pods thin some chunks but
// not the fullest one of most series, so a fleet scraped every 30 s is not
// taken for a half-empty fleet scraped every 15 s. Zero when there is no data.
func DetectScrapeInterval(series []Series, chunk time.Duration) time.Duration {
	var fullest []int64
	for _, s := range series {
		// Only the chunked signals, utilization and a MIG instance's
		// graphics engine: the others may be read as one window-long chunk.
		if s.Signal != SignalUtil && (s.Signal != SignalGREngine || s.source().GPU.MIGInstance == "") {
			continue
		}
		var n int64
		for _, c := range s.Chunks {
			n = max(n, c.Count+c.BadSamples)
		}
		if n > 0 {
			fullest = append(fullest, n)
		}
	}
	if len(fullest) == 0 {
		return 0
	}
	slices.Sort(fullest)
	mid := len(fullest) / 2
	median := float64(fullest[mid])
	if len(fullest)%2 == 0 {
		median = (float64(fullest[mid-1]) + float64(fullest[mid])) / 2
	}
	return time.Duration(float64(chunk) / median).Round(time.Millisecond)
}
