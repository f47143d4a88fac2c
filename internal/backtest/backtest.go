package backtest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

// Judge evaluates the window ending at `at`, as the detector would have then.
type Judge func(ctx context.Context, at time.Time) (analyzer.Report, error)

// DefaultMinOverlap is the share of the window a labelled interval must cover
// for the tick to count as a positive.
const DefaultMinOverlap = 0.8

// busyWithoutPod is the unattributed-GPU verdict for a GPU busy outside any
// pod; it is a positive prediction for that GPU.
const busyWithoutPod analyzer.Verdict = "busy_without_pod"

// Options say how truth is computed at each tick.
type Options struct {
	// Window is the detector's window: tick t judges (t-Window, t].
	Window time.Duration
	// MinOverlap is the share of Window a labelled interval must cover for
	// the entity to be a positive at that tick; less (but some) overlap is a
	// ramp, left out of the counts. Zero means DefaultMinOverlap.
	MinOverlap float64
	// Strikes is how many consecutive ticks with a deletable prediction
	// (a miner on strong evidence) delete a miner: actions.strikesToEnforce.
	// With ticks as often as the schedule, the first such tick is when
	// enforce mode would delete it. Zero means 2.
	Strikes int
}

// Seconds is a duration that JSON renders as seconds (a float).
type Seconds time.Duration

// MarshalJSON writes the duration in seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, time.Duration(s).Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON reads a duration in seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = Seconds(f * float64(time.Second))
	return nil
}

// Entity is what is scored: a pod (namespace and name) or a GPU used outside
// any pod (node and index, or UUID).
type Entity struct {
	Kind      string `json:"kind"` // "pod" or "gpu"
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Node      string `json:"node,omitempty"`
	GPU       string `json:"gpu,omitempty"`
	UUID      string `json:"uuid,omitempty"`
}

// Entity kinds.
const (
	KindPod = "pod"
	KindGPU = "gpu"
)

func (e Entity) String() string {
	switch {
	case e.Kind == KindPod:
		return e.Namespace + "/" + e.Pod
	case e.Node != "" && e.GPU != "":
		return e.Node + " gpu " + e.GPU
	default:
		return "gpu " + e.UUID
	}
}

// Counts are over (tick, entity) pairs. An insufficient_data verdict is a
// negative prediction (it lands in FN or TN) and is also counted in
// Undecided; pairs in a ramp are counted in Ramp only.
type Counts struct {
	TP        int `json:"tp"`
	FP        int `json:"fp"`
	FN        int `json:"fn"`
	TN        int `json:"tn"`
	Undecided int `json:"undecided"`
	Ramp      int `json:"ramp"`
	// DeletableTP counts the TPs on strong evidence: the detections enforce
	// mode would act on by default.
	DeletableTP int `json:"deletable_tp"`
	// DeletableFP counts the FPs on strong evidence: the ones enforce mode
	// would delete (Result.DeletableFalsePositives for the totals).
	DeletableFP int `json:"deletable_fp"`
}

// add counts one scored (tick, entity) pair in c.
func (c *Counts) add(cell int, strong, undecided bool) {
	switch cell {
	case cellTP:
		c.TP++
		if strong {
			c.DeletableTP++
		}
	case cellFN:
		c.FN++
	case cellFP:
		c.FP++
		if strong {
			c.DeletableFP++
		}
	case cellTN:
		c.TN++
	case cellRamp:
		c.Ramp++
		return
	}
	if undecided {
		c.Undecided++
	}
}

// The cells a (tick, entity) pair lands in.
const (
	cellTP = iota
	cellFN
	cellFP
	cellTN
	cellRamp
)

// Class kinds: a class holding labelled miners, or only benign entities.
const (
	KindMiner  = "miner"
	KindBenign = "benign"
)

// ClassResult is the score of one class of entities (Miner.Class,
// Benign.Class, Unclassified for the rest), over the class's own (tick,
// entity) pairs: a miner class's false positives are its own entities
// flagged outside their labelled intervals; the false positives that cost
// the totals' precision are in the benign classes.
type ClassResult struct {
	Class string `json:"class"`
	// Kind is KindMiner when the class holds a labelled miner, else
	// KindBenign.
	Kind     string `json:"kind"`
	Entities int    `json:"entities"`
	Counts   Counts `json:"counts"`
	// Precision and Recall as for the totals, over the class's pairs; nil
	// (JSON null) for a benign class, which has no positives to find, and
	// when the denominator is zero.
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	// Miners and Detected count the class's labelled miners and those of
	// them detected at least once.
	Miners   int `json:"miners"`
	Detected int `json:"detected"`
}

// Miner statuses.
const (
	StatusDetected = "detected"     // a positive prediction while the interval overlapped the window
	StatusMissed   = "missed"       // overlapped some window, never detected
	StatusNotSeen  = "out_of_range" // no tick's window overlapped the interval
)

// MinerResult is how the detector did on one labelled miner.
type MinerResult struct {
	Entity Entity `json:"entity"`
	Class  string `json:"class"`
	Note   string `json:"note"`
	// From and To are the labelled interval; null is unbounded.
	From *time.Time `json:"from"`
	To   *time.Time `json:"to"`
	// PositiveTicks are the ticks at which the entity was a positive and this
	// interval overlapped the window; DetectedTicks those of them with a
	// positive prediction; RampTicks those with partial overlap.
	PositiveTicks int `json:"positive_ticks"`
	DetectedTicks int `json:"detected_ticks"`
	RampTicks     int `json:"ramp_ticks"`
	// FirstDetection is the first tick with a positive prediction while the
	// interval overlapped the window (ramp ticks included); TimeToDetect is
	// FirstDetection minus the later of From and the first tick.
	FirstDetection *time.Time `json:"first_detection"`
	TimeToDetect   *Seconds   `json:"time_to_detect_seconds"`
	// FirstDeletion is the first tick ending Strikes consecutive ticks of
	// deletable predictions (miner on strong evidence): when enforce mode,
	// ticking at this rate, would delete it; TimeToDelete is FirstDeletion
	// minus the later of From and the first tick. Null: never deletable.
	FirstDeletion *time.Time `json:"first_deletion"`
	TimeToDelete  *Seconds   `json:"time_to_delete_seconds"`
	Status        string     `json:"status"`
}

// FalsePositive is one positive prediction for an entity that was not mining
// in the window, with the report's own explanation.
type FalsePositive struct {
	Tick    time.Time        `json:"tick"`
	Entity  Entity           `json:"entity"`
	Class   string           `json:"class"`
	Verdict analyzer.Verdict `json:"verdict"`
	Rule    string           `json:"rule"`
	Reason  string           `json:"reason"`
	// Strength is the evidence's strength: only strong evidence deletes by
	// default, so a strong false positive is the one that would kill a job.
	Strength analyzer.Strength `json:"strength,omitempty"`
}

// Result is the score of a backtest. Its JSON form is a stable interface: add
// fields, never rename or remove them.
type Result struct {
	FirstTick  time.Time `json:"first_tick"`
	LastTick   time.Time `json:"last_tick"`
	Ticks      int       `json:"ticks"`
	Window     Seconds   `json:"window_seconds"`
	MinOverlap float64   `json:"min_overlap"`
	Entities   int       `json:"entities"`
	Counts     Counts    `json:"counts"`
	// Precision is TP/(TP+FP) and Recall TP/(TP+FN); nil (JSON null) when
	// the denominator is zero.
	Precision      *float64        `json:"precision"`
	Recall         *float64        `json:"recall"`
	Miners         []MinerResult   `json:"miners"`
	Missed         []MinerResult   `json:"missed"`
	FalsePositives []FalsePositive `json:"false_positives"`
	// DeletableFalsePositives counts the false positives on strong
	// evidence: the ones enforce mode would delete.
	DeletableFalsePositives int `json:"deletable_false_positives"`
	// Classes score each class apart: miner classes first, then benign
	// ones, by name, Unclassified last of its kind.
	Classes []ClassResult `json:"classes"`
}

// prediction is one entity's verdict at one tick, most severe wins.
type prediction struct {
	class    int // negative < undecided < positive
	verdict  analyzer.Verdict
	rule     string
	reason   string
	strength analyzer.Strength
}

const (
	negative = iota
	undecided
	positive
)

func (p prediction) merge(q prediction) prediction {
	if q.class > p.class {
		return q
	}
	return p
}

// Run asks judge for the report at each tick (ascending) and scores it
// against labels.
func Run(ctx context.Context, ticks []time.Time, judge Judge, labels Labels, opt Options) (Result, error) {
	if opt.MinOverlap == 0 {
		opt.MinOverlap = DefaultMinOverlap
	}
	if opt.Strikes == 0 {
		opt.Strikes = 2
	}
	switch {
	case len(ticks) == 0:
		return Result{}, errors.New("backtest: no ticks")
	case len(ticks) > MaxTicks:
		return Result{}, fmt.Errorf("backtest: %d ticks, at most %d", len(ticks), MaxTicks)
	case opt.Window <= 0:
		return Result{}, fmt.Errorf("backtest: window must be positive, got %v", opt.Window)
	case !(opt.MinOverlap > 0 && opt.MinOverlap <= 1):
		return Result{}, fmt.Errorf("backtest: min overlap must be in (0, 1], got %v", opt.MinOverlap)
	}
	for i := 1; i < len(ticks); i++ {
		if !ticks[i].After(ticks[i-1]) {
			return Result{}, fmt.Errorf("backtest: ticks must ascend: %s follows %s",
				ticks[i].UTC().Format(time.RFC3339), ticks[i-1].UTC().Format(time.RFC3339))
		}
	}
	if err := labels.Validate(); err != nil {
		return Result{}, fmt.Errorf("labels: %w", err)
	}

	reg := newRegistry()
	preds := make([]map[string]prediction, len(ticks))
	for i, t := range ticks {
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("tick %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		rep, err := judge(ctx, t)
		if err != nil {
			return Result{}, fmt.Errorf("tick %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		preds[i] = reg.observe(rep)
	}
	return score(ticks, preds, reg, labels, opt), nil
}

// registry names entities. A GPU is keyed by node and index when both are
// known, else by UUID; UUIDs seen with a node and index are aliased to them
// so that a label by UUID and a report by node and index meet.
type registry struct {
	entities map[string]Entity
	alias    map[string]string // "uuid:..." -> "gpu:node/index"
}

func newRegistry() *registry {
	return &registry{entities: map[string]Entity{}, alias: map[string]string{}}
}

func podKey(namespace, pod string) string { return "pod:" + namespace + "/" + pod }

func gpuKey(node, index, uuid string) string {
	if node != "" && index != "" {
		return "gpu:" + node + "/" + index
	}
	return "uuid:" + uuid
}

func (r *registry) add(key string, e Entity) {
	if old, ok := r.entities[key]; ok {
		e.UUID = cmp.Or(old.UUID, e.UUID)
		e.Node = cmp.Or(old.Node, e.Node)
	}
	r.entities[key] = e
}

func (r *registry) observe(rep analyzer.Report) map[string]prediction {
	out := map[string]prediction{}
	for _, p := range rep.Pods {
		key := podKey(p.Namespace, p.Pod)
		r.add(key, Entity{Kind: KindPod, Namespace: p.Namespace, Pod: p.Pod})
		out[key] = out[key].merge(podPrediction(p))
	}
	for _, g := range rep.UnattributedGPUs {
		key := gpuKey(g.Node, g.Index, g.UUID)
		if g.Node != "" && g.Index != "" && g.UUID != "" {
			if _, ok := r.alias["uuid:"+g.UUID]; !ok {
				r.alias["uuid:"+g.UUID] = key
			}
		}
		r.add(key, Entity{Kind: KindGPU, Node: g.Node, GPU: g.Index, UUID: g.UUID})
		out[key] = out[key].merge(gpuPrediction(g))
	}
	return out
}

func podPrediction(p analyzer.PodReport) prediction {
	pr := prediction{verdict: p.Verdict, rule: p.Evidence.Rule, reason: p.Evidence.Reason, strength: p.Evidence.Strength}
	if pr.rule == "" && pr.reason == "" {
		for _, g := range p.GPUs {
			if g.Verdict == p.Verdict {
				pr.rule, pr.reason = g.Rule, g.Reason
				break
			}
		}
	}
	switch p.Verdict {
	case analyzer.Miner:
		pr.class = positive
	case analyzer.InsufficientData:
		pr.class = undecided
	}
	return pr
}

func gpuPrediction(g analyzer.GPUReport) prediction {
	pr := prediction{verdict: g.Verdict, rule: g.Rule, reason: g.Reason, strength: g.Strength}
	switch g.Verdict {
	case analyzer.Miner, busyWithoutPod:
		pr.class = positive
	case analyzer.InsufficientData:
		pr.class = undecided
	}
	return pr
}

// canonical resolves a UUID key to the node/index key it was seen under.
func (r *registry) canonical(key string) string {
	if a, ok := r.alias[key]; ok {
		return a
	}
	return key
}

func (r *registry) labelKey(m Miner) string {
	if m.IsPod() {
		key := podKey(m.Namespace, m.Pod)
		r.add(key, Entity{Kind: KindPod, Namespace: m.Namespace, Pod: m.Pod})
		return key
	}
	key := r.canonical(gpuKey(m.Node, m.GPU, m.UUID))
	if _, ok := r.entities[key]; !ok {
		r.entities[key] = Entity{Kind: KindGPU, Node: m.Node, GPU: m.GPU, UUID: m.UUID}
	}
	return key
}

// interval is a labelled [from, to); zero ends are unbounded.
type interval struct{ from, to time.Time }

// overlap is how much of the window (t-w, t] the interval covers.
func (iv interval) overlap(t time.Time, w time.Duration) (start, end time.Time) {
	start, end = t.Add(-w), t
	if !iv.from.IsZero() && iv.from.After(start) {
		start = iv.from
	}
	if !iv.to.IsZero() && iv.to.Before(end) {
		end = iv.to
	}
	if !end.After(start) {
		return start, start
	}
	return start, end
}

// covered is the length of the union of the intervals within (t-w, t].
func covered(ivs []interval, t time.Time, w time.Duration) time.Duration {
	type span struct{ s, e time.Time }
	var spans []span
	for _, iv := range ivs {
		if s, e := iv.overlap(t, w); e.After(s) {
			spans = append(spans, span{s, e})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.s.Compare(b.s) })
	var total time.Duration
	var cur span
	for i, sp := range spans {
		switch {
		case i == 0:
			cur = sp
		case !sp.s.After(cur.e):
			if sp.e.After(cur.e) {
				cur.e = sp.e
			}
		default:
			total += cur.e.Sub(cur.s)
			cur = sp
		}
	}
	if len(spans) > 0 {
		total += cur.e.Sub(cur.s)
	}
	return total
}

func score(ticks []time.Time, preds []map[string]prediction, reg *registry, labels Labels, opt Options) Result {
	// Fold UUID-keyed predictions into their node/index entity.
	for i, m := range preds {
		folded := make(map[string]prediction, len(m))
		for k, p := range m {
			c := reg.canonical(k)
			folded[c] = folded[c].merge(p)
		}
		preds[i] = folded
	}
	for k := range reg.entities {
		if c := reg.canonical(k); c != k {
			e := reg.entities[k]
			reg.add(c, e)
			delete(reg.entities, k)
		}
	}

	labelKeys := make([]string, len(labels.Miners))
	byEntity := map[string][]interval{}
	classOf := map[string]string{} // entity key -> class; absent: Unclassified
	minerClass := map[string]bool{}
	for i, m := range labels.Miners {
		labelKeys[i] = reg.labelKey(m)
		byEntity[labelKeys[i]] = append(byEntity[labelKeys[i]], interval{m.From, m.To})
		if _, ok := classOf[labelKeys[i]]; !ok {
			classOf[labelKeys[i]] = m.ClassOf()
		}
		minerClass[m.ClassOf()] = true
	}
	for _, b := range labels.Benign {
		// A benign entry adds no entity: one never reported is not scored.
		key := podKey(b.Namespace, b.Pod)
		if !b.IsPod() {
			key = reg.canonical(gpuKey(b.Node, b.GPU, b.UUID))
		}
		if _, ok := classOf[key]; !ok {
			classOf[key] = b.Class
		}
	}
	keys := make([]string, 0, len(reg.entities))
	for k := range reg.entities {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	class := func(key string) string { return cmp.Or(classOf[key], Unclassified) }
	classes := map[string]*ClassResult{}
	classRes := func(name string) *ClassResult {
		if c, ok := classes[name]; ok {
			return c
		}
		c := &ClassResult{Class: name, Kind: KindBenign}
		if minerClass[name] {
			c.Kind = KindMiner
		}
		classes[name] = c
		return c
	}
	for _, k := range keys {
		classRes(class(k)).Entities++
	}

	need := time.Duration(opt.MinOverlap * float64(opt.Window))
	res := Result{
		FirstTick: ticks[0].UTC(), LastTick: ticks[len(ticks)-1].UTC(), Ticks: len(ticks),
		Window: Seconds(opt.Window), MinOverlap: opt.MinOverlap, Entities: len(keys),
		Miners: make([]MinerResult, len(labels.Miners)), Missed: []MinerResult{}, FalsePositives: []FalsePositive{},
	}
	for i, m := range labels.Miners {
		res.Miners[i] = MinerResult{Entity: reg.entities[labelKeys[i]], Class: class(labelKeys[i]), Note: m.Note, From: timePtr(m.From), To: timePtr(m.To)}
	}

	for ti, t := range ticks {
		truth := map[string]int{} // labelled entities only: positive, or undecided for a ramp
		for _, k := range keys {
			ivs := byEntity[k]
			c := covered(ivs, t, opt.Window)
			p := preds[ti][k]
			var cell int
			switch {
			case c > 0 && c >= need:
				truth[k] = positive
				cell = cellFN
				if p.class == positive {
					cell = cellTP
				}
			case c > 0:
				truth[k] = undecided
				cell = cellRamp
			case p.class == positive:
				cell = cellFP
				res.FalsePositives = append(res.FalsePositives, FalsePositive{
					Tick: t.UTC(), Entity: reg.entities[k], Class: class(k), Verdict: p.verdict, Rule: p.rule, Reason: p.reason, Strength: p.strength})
			default:
				cell = cellTN
			}
			strong, undecided := p.class == positive && p.strength.Enforceable(), p.class == undecided
			res.Counts.add(cell, strong, undecided)
			classRes(class(k)).Counts.add(cell, strong, undecided)
		}
		for i, m := range labels.Miners {
			k := labelKeys[i]
			if s, e := (interval{m.From, m.To}).overlap(t, opt.Window); !e.After(s) {
				continue
			}
			mr := &res.Miners[i]
			detected := preds[ti][k].class == positive
			switch truth[k] {
			case positive:
				mr.PositiveTicks++
				if detected {
					mr.DetectedTicks++
				}
			case undecided:
				mr.RampTicks++
			}
			if detected && mr.FirstDetection == nil {
				first := t.UTC()
				mr.FirstDetection = &first
				start := ticks[0]
				if m.From.After(start) {
					start = m.From
				}
				ttd := Seconds(t.Sub(start))
				mr.TimeToDetect = &ttd
			}
		}
	}

	for i, m := range labels.Miners {
		mr := &res.Miners[i]
		streak := 0
		for ti, t := range ticks {
			if p := preds[ti][labelKeys[i]]; p.class == positive && p.strength.Enforceable() {
				streak++
			} else {
				streak = 0
			}
			if streak == opt.Strikes {
				first := t.UTC()
				start := ticks[0]
				if m.From.After(start) {
					start = m.From
				}
				ttd := Seconds(t.Sub(start))
				mr.FirstDeletion, mr.TimeToDelete = &first, &ttd
				break
			}
		}
	}
	for i := range res.Miners {
		mr := &res.Miners[i]
		switch {
		case mr.FirstDetection != nil:
			mr.Status = StatusDetected
		case mr.PositiveTicks+mr.RampTicks > 0:
			mr.Status = StatusMissed
			res.Missed = append(res.Missed, *mr)
		default:
			mr.Status = StatusNotSeen
		}
	}
	res.DeletableFalsePositives = res.Counts.DeletableFP
	res.Precision = ratio(res.Counts.TP, res.Counts.TP+res.Counts.FP)
	res.Recall = ratio(res.Counts.TP, res.Counts.TP+res.Counts.FN)
	for _, mr := range res.Miners {
		c := classRes(mr.Class)
		c.Miners++
		if mr.Status == StatusDetected {
			c.Detected++
		}
	}
	res.Classes = []ClassResult{}
	for _, c := range classes {
		if c.Kind == KindMiner {
			c.Precision = ratio(c.Counts.TP, c.Counts.TP+c.Counts.FP)
			c.Recall = ratio(c.Counts.TP, c.Counts.TP+c.Counts.FN)
		}
		res.Classes = append(res.Classes, *c)
	}
	slices.SortFunc(res.Classes, func(a, b ClassResult) int {
		return cmp.Or(
			cmp.Compare(b.Kind, a.Kind), // "miner" before "benign"
			compareBool(a.Class == Unclassified, b.Class == Unclassified),
			cmp.Compare(a.Class, b.Class),
		)
	})
	return res
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
