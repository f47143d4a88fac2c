package cycle

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/promquery"
	"github.com/prometheus/common/model"
)

// The JSON output is a stable interface: other tools read it. Add fields,
// never rename or remove them.

// JSONResult is the `scan --output json` document.
type JSONResult struct {
	At               time.Time  `json:"at"`
	Window           string     `json:"window"`
	Chunk            string     `json:"chunk"`
	ScrapeInterval   string     `json:"scrape_interval"`
	Pods             []JSONPod  `json:"pods"`
	UnattributedGPUs []JSONGPU  `json:"unattributed_gpus"`
	Warnings         []string   `json:"warnings"`
	ActionsSkipped   string     `json:"actions_skipped,omitempty"`
	Query            JSONQuery  `json:"query"`
	Actions          []JSONStep `json:"actions"`
	// Signals is what the cluster's dcgm-exporter lets the detector see.
	Signals analyzer.Inventory `json:"signals"`
	// UntrustedTelemetry are the targets that served dcgm-exporter metric
	// names without being the exporter (forged telemetry), with the pods
	// and GPUs their series claimed: never judged.
	UntrustedTelemetry []promquery.UntrustedTarget `json:"untrusted_telemetry"`
	// Jobs counts the DCGM label sets read per scrape job.
	Jobs []promquery.JobSeries `json:"jobs"`
}

// JSONPod is one pod's verdict, numbers and evidence.
type JSONPod struct {
	Namespace string            `json:"namespace"`
	Pod       string            `json:"pod"`
	Node      string            `json:"node"`
	Verdict   analyzer.Verdict  `json:"verdict"`
	Shared    bool              `json:"shared"`
	GPUs      []JSONGPU         `json:"gpus"`
	Evidence  analyzer.Evidence `json:"evidence"`
}

// JSONGPU is one GPU's window statistics.
type JSONGPU struct {
	GPU             string            `json:"gpu"`
	UUID            string            `json:"uuid"`
	Node            string            `json:"node"`
	Model           string            `json:"model"`
	Container       string            `json:"container,omitempty"`
	Samples         int64             `json:"samples"`
	ExpectedSamples int64             `json:"expected_samples"`
	Coverage        float64           `json:"coverage"`
	Mean            float64           `json:"mean"`
	StdDev          float64           `json:"stddev"`
	Min             float64           `json:"min"`
	Max             float64           `json:"max"`
	BadSamples      int64             `json:"bad_samples"`
	Verdict         analyzer.Verdict  `json:"verdict"`
	Rule            string            `json:"rule"`
	Reason          string            `json:"reason"`
	Shared          bool              `json:"shared"`
	SharedWith      []analyzer.PodKey `json:"shared_with,omitempty"`
	MIGInstance     string            `json:"mig_instance,omitempty"`
	MIGProfile      string            `json:"mig_profile,omitempty"`
	// Profiling is false when dcgm's profiling metrics were absent: only
	// the utilization rule judged the GPU.
	Profiling bool             `json:"profiling"`
	Signals   analyzer.Profile `json:"signals,omitempty"`
	// Strength grades a miner verdict's evidence (strong, partial,
	// utilization_only); empty for other verdicts.
	Strength analyzer.Strength `json:"strength,omitempty"`
}

// JSONQuery says how the window was read.
type JSONQuery struct {
	Semantics   string `json:"range_semantics"`
	Series      int    `json:"series"`
	Queries     int    `json:"queries"`
	PeakSamples int64  `json:"peak_samples"`
	Rereads     int    `json:"rereads"`
}

// JSONStep is one planned or executed action.
type JSONStep struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Kind      string `json:"kind"`
	Result    string `json:"result,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Error     string `json:"error,omitempty"`
	// Owner is the pod's owner (controller), when known.
	Owner *actions.Owner `json:"owner,omitempty"`
}

// View says how much of a result to print. The zero value is the default:
// findings in full, benign pods without their evidence curves (table: not
// listed, only counted), so 10,000 pods print in a few megabytes.
type View struct {
	// AllPods lists every pod in the table, benign ones included.
	AllPods bool
	// AllCurves keeps every pod's per-chunk evidence curve and per-signal
	// numbers in the JSON, benign pods and GPUs included.
	AllCurves bool
}

// finding reports whether a pod is more than benign: its evidence is kept
// whole in every view.
func finding(p analyzer.PodReport) bool { return p.Verdict != analyzer.Benign }

// JSON builds the stable JSON document of a result, every pod's evidence
// whole (View{AllCurves: true}).
func (r Result) JSON() JSONResult { return r.JSONView(View{AllCurves: true}) }

// JSONView builds the JSON document as v says: without AllCurves, a benign
// pod's evidence carries no per-chunk curve and no signal numbers, and
// neither do its GPUs nor a benign unattributed GPU (the profiling flag and
// the reason stay).
func (r Result) JSONView(v View) JSONResult {
	out := JSONResult{
		At: r.At.UTC(), Window: model.Duration(r.Window).String(), Chunk: model.Duration(r.Report.Chunk).String(),
		ScrapeInterval: model.Duration(r.Report.ScrapeInterval).String(),
		Pods:           []JSONPod{}, UnattributedGPUs: []JSONGPU{}, Warnings: r.Warnings, Actions: []JSONStep{},
		ActionsSkipped: r.ActionsSkipped,
		Query: JSONQuery{Semantics: string(r.Read.Semantics), Series: r.Read.Plan.Series, Queries: r.Read.Queries(),
			PeakSamples: r.Read.PeakSamples(), Rereads: r.Read.Rereads},
		Signals: r.Report.Inventory,

		UntrustedTelemetry: append([]promquery.UntrustedTarget{}, r.Read.Untrusted...),
		Jobs:               append([]promquery.JobSeries{}, r.Read.Jobs...),
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	for _, p := range r.Report.Pods {
		jp := JSONPod{Namespace: p.Namespace, Pod: p.Pod, Node: p.Node, Verdict: p.Verdict, Shared: p.Shared, Evidence: p.Evidence, GPUs: []JSONGPU{}}
		summary := !v.AllCurves && !finding(p)
		if summary {
			jp.Evidence.Curves, jp.Evidence.Signals = []analyzer.GPUCurve{}, nil
		}
		for _, g := range p.GPUs {
			jp.GPUs = append(jp.GPUs, jsonGPU(g, summary))
		}
		out.Pods = append(out.Pods, jp)
	}
	for _, g := range r.Report.UnattributedGPUs {
		out.UnattributedGPUs = append(out.UnattributedGPUs, jsonGPU(g, !v.AllCurves && g.Verdict == analyzer.Benign))
	}
	for i, st := range r.Plan.Steps {
		js := JSONStep{Namespace: st.Pod.Namespace, Pod: st.Pod.Pod, Kind: string(st.Kind), Reason: st.Reason, Owner: st.Owner}
		if i < len(r.Outcomes) {
			o := r.Outcomes[i]
			js.Result = string(o.Result)
			if o.Reason != "" {
				js.Reason = o.Reason
			}
			if o.Err != nil {
				js.Error = o.Err.Error()
			}
		}
		out.Actions = append(out.Actions, js)
	}
	return out
}

// jsonGPU is g's JSON. A summary leaves out the per-signal numbers, most of
// a benign GPU's bytes (17 signals: 1,340 of 1,960): its reason keeps the
// numbers that spared it.
func jsonGPU(g analyzer.GPUReport, summary bool) JSONGPU {
	if summary {
		g.Signals = nil
	}
	return JSONGPU{
		GPU: g.Index, UUID: g.UUID, Node: g.Node, Model: g.Model, Container: g.Container,
		Samples: g.Count, ExpectedSamples: g.ExpectedSamples, Coverage: g.Coverage,
		Mean: g.Mean, StdDev: g.StdDev(), Min: g.Min, Max: g.Max, BadSamples: g.BadSamples,
		Verdict: g.Verdict, Rule: g.Rule, Reason: g.Reason, Shared: g.Shared, SharedWith: g.SharedWith,
		MIGInstance: g.MIGInstance, MIGProfile: g.MIGProfile, Profiling: g.Profiling, Signals: g.Signals, Strength: g.Strength,
	}
}

// WriteJSON writes the result as one line of compact JSON (pipe it through
// jq to read it), as v says. Pods are encoded one at a time as they are
// written: a 10,000-pod report is never held encoded in memory.
func (r Result) WriteJSON(w io.Writer, v View) error {
	view := r.JSONView(v)
	pods := view.Pods
	view.Pods = []JSONPod{}
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(view); err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	// The only unescaped `"pods":[]` is the key itself: string values
	// escape their quotes.
	before, after, ok := bytes.Cut(head.Bytes(), []byte(`"pods":[]`))
	if !ok {
		return errors.New("encode result: no pods key in the encoded result")
	}
	bw := bufio.NewWriter(w)
	bw.Write(before)
	bw.WriteString(`"pods":[`)
	var pod bytes.Buffer
	podEnc := json.NewEncoder(&pod)
	podEnc.SetEscapeHTML(false)
	for i, p := range pods {
		if i > 0 {
			bw.WriteByte(',')
		}
		pod.Reset()
		if err := podEnc.Encode(p); err != nil {
			return fmt.Errorf("encode pod %s/%s: %w", p.Namespace, p.Pod, err)
		}
		bw.Write(bytes.TrimSuffix(pod.Bytes(), []byte("\n")))
	}
	bw.WriteByte(']')
	bw.Write(after)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// WriteTable writes a summary, one line per pod that is not benign (every
// pod with v.AllPods; the deciding GPU's numbers), the unattributed GPUs
// that are busy, the actions and any warnings.
func (r Result) WriteTable(w io.Writer, v View) error {
	fmt.Fprintf(w, "window %s ending %s, chunk %s, scrape interval %s (%s)\n",
		model.Duration(r.Window), r.At.UTC().Format(time.RFC3339), model.Duration(r.Report.Chunk),
		model.Duration(r.Report.ScrapeInterval), r.Report.ScrapeIntervalSource)
	r.writeSummary(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tPOD\tNODE\tVERDICT\tRULE\tGPUS\tMEAN\tSTDDEV\tMIN\tMAX\tCOVERAGE\tACTION")
	decisions := map[analyzer.PodKey]string{}
	for _, st := range r.Plan.Steps {
		if st.Decision != "" {
			decisions[st.Pod] = st.Decision
		}
	}
	for _, p := range r.Report.Pods {
		if !v.AllPods && !finding(p) {
			continue
		}
		g := deciding(p)
		gpus := fmt.Sprint(len(p.GPUs))
		if p.Shared {
			gpus += " (shared)"
		}
		rule := g.Rule
		if !g.Profiling && g.Verdict != analyzer.InsufficientData {
			rule += " (no profiling)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.1f\t%.1f\t%.2f\t%s\n", p.Namespace, p.Pod, p.Node, p.Verdict, rule, gpus,
			g.Mean, g.StdDev(), g.Min, g.Max, g.Coverage, cmp.Or(decisions[p.PodKey], "-"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var podless []analyzer.GPUReport
	for _, g := range r.Report.UnattributedGPUs {
		if v.AllPods || g.Verdict != analyzer.Benign {
			podless = append(podless, g)
		}
	}
	if n := len(podless); n > 0 {
		fmt.Fprintf(w, "\n%d GPU(s) with no workload pod:", n)
		for _, g := range podless {
			fmt.Fprintf(w, "  %s gpu %s", g.Node, g.Index)
			if g.MIGInstance != "" {
				fmt.Fprintf(w, " mig %s", g.MIGInstance)
			}
			fmt.Fprintf(w, " (mean %.1f%%, %s)", g.Mean, g.Verdict)
		}
		fmt.Fprintln(w)
	}
	writeUntrusted(w, r.Read.Untrusted)
	if len(r.Outcomes) > 0 {
		fmt.Fprintln(w, "\nactions:")
		for _, o := range r.Outcomes {
			line := fmt.Sprintf("  %-12s %-40s %-8s %s", o.Kind, o.Pod, o.Result, o.Reason)
			if o.Err != nil {
				line += " error: " + o.Err.Error()
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	}
	if r.ActionsSkipped != "" {
		fmt.Fprintf(w, "\nno action: %s\n", r.ActionsSkipped)
	}
	for _, warning := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
	return nil
}

// writeSummary writes the counts an SRE reads first: pods and GPUs per
// verdict, how many findings could delete, what the signals allow, and what
// reading took.
func (r Result) writeSummary(w io.Writer) {
	pods := map[analyzer.Verdict]int{}
	deletable, gpus := 0, 0
	for _, p := range r.Report.Pods {
		pods[p.Verdict]++
		gpus += len(p.GPUs)
		if p.Verdict == analyzer.Miner && p.Evidence.Enforceable {
			deletable++
		}
	}
	busy := 0
	for _, g := range r.Report.UnattributedGPUs {
		if g.Verdict == analyzer.BusyUnattributed {
			busy++
		}
	}
	fmt.Fprintf(w, "%d pods: %d miner (%d on strong evidence), %d insufficient_data, %d benign; %d pod GPUs, %d GPUs without a pod (%d busy)\n",
		len(r.Report.Pods), pods[analyzer.Miner], deletable, pods[analyzer.InsufficientData], pods[analyzer.Benign],
		gpus, len(r.Report.UnattributedGPUs), busy)
	inv := r.Report.Inventory
	fmt.Fprintf(w, "signals: %d GPUs, math pipes on %d, strong evidence possible on %d (miner-detector signals: what to enable)\n",
		inv.GPUs, inv.Roles[analyzer.RolePipes], inv.StrongEvidence)
	fmt.Fprintf(w, "read: %d series, %d queries, peak %d samples, %d re-reads\n",
		r.Read.Plan.Series, r.Read.Queries(), r.Read.PeakSamples(), r.Read.Rereads)
}

// deciding is the GPU whose verdict is the pod's.
func deciding(p analyzer.PodReport) analyzer.GPUReport {
	for _, g := range p.GPUs {
		if g.Verdict == p.Verdict {
			return g
		}
	}
	return p.GPUs[0]
}
