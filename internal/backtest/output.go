package backtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"
)

// MaxTableFalsePositives bounds the false positives the table lists; the
// JSON output has them all.
const MaxTableFalsePositives = 50

// WriteJSON writes the result as indented JSON.
func WriteJSON(w io.Writer, r Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteTable writes a summary (precision, recall, counts), the same per
// class, one line per labelled miner and the false positives with the
// report's evidence.
func WriteTable(w io.Writer, r Result) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "backtest: %d ticks from %s to %s, window %s, positive when a label covers >= %s of the window\n",
		r.Ticks, rfc3339(r.FirstTick), rfc3339(r.LastTick), dur(time.Duration(r.Window)), percent(r.MinOverlap))
	fmt.Fprintf(ew, "%d entities (pods and GPUs outside pods), %d labelled miners, %d missed; counts are over (tick, entity) pairs\n\n",
		r.Entities, len(r.Miners), len(r.Missed))

	c := r.Counts
	tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "precision\t%s\tTP / (TP + FP) = %d / %d\n", metric(r.Precision, "no positive predictions"), c.TP, c.TP+c.FP)
	fmt.Fprintf(tw, "recall\t%s\tTP / (TP + FN) = %d / %d\n", metric(r.Recall, "no positive ticks"), c.TP, c.TP+c.FN)
	fmt.Fprintf(tw, "TP\t%d\tlabelled miner, detected\n", c.TP)
	fmt.Fprintf(tw, "FP\t%d\tdetected, not labelled in the window\n", c.FP)
	fmt.Fprintf(tw, "FN\t%d\tlabelled miner, not detected\n", c.FN)
	fmt.Fprintf(tw, "TN\t%d\tneither\n", c.TN)
	fmt.Fprintf(tw, "undecided\t%d\tinsufficient_data, scored as negative (in FN or TN)\n", c.Undecided)
	fmt.Fprintf(tw, "ramp\t%d\tlabel covers part of the window, not scored\n", c.Ramp)
	fmt.Fprintf(tw, "deletable TP\t%d\tTP on strong evidence (enforce mode deletes on it by default)\n", c.DeletableTP)
	fmt.Fprintf(tw, "deletable FP\t%d\tFP on strong evidence: the ones that would kill a job\n", r.DeletableFalsePositives)
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Classes) > 0 {
		fmt.Fprintln(ew, "\nper class (counts over each class's own (tick, entity) pairs; a benign class has no precision or recall, only false positives):")
		tw = tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLASS\tKIND\tENTITIES\tMINERS DETECTED\tPRECISION\tRECALL\tTP\tFP\tFN\tTN\tDELETABLE TP\tDELETABLE FP")
		for _, c := range r.Classes {
			detected, precision, recall := "-", "-", "-"
			if c.Kind == KindMiner {
				detected = fmt.Sprintf("%d/%d", c.Detected, c.Miners)
				precision, recall = ratioCell(c.Precision), ratioCell(c.Recall)
			}
			k := c.Counts
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", c.Class, c.Kind, c.Entities, detected, precision, recall,
				k.TP, k.FP, k.FN, k.TN, k.DeletableTP, k.DeletableFP)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(ew)
	if len(r.Miners) == 0 {
		fmt.Fprintln(ew, "labelled miners: none")
	} else {
		tw = tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MINER\tCLASS\tNOTE\tDETECTED\tFIRST DETECTION\tTIME TO DETECT\tTIME TO DELETE\tSTATUS")
		for _, m := range r.Miners {
			first, ttd, ttdel := "-", "-", "-"
			if m.FirstDetection != nil {
				first = rfc3339(*m.FirstDetection)
			}
			if m.TimeToDetect != nil {
				ttd = dur(time.Duration(*m.TimeToDetect))
			}
			if m.TimeToDelete != nil {
				ttdel = dur(time.Duration(*m.TimeToDelete))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", m.Entity, cmp.Or(m.Class, Unclassified), cmp.Or(m.Note, "-"), m.DetectedTicks, m.PositiveTicks, first, ttd, ttdel, m.Status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(ew)
	if len(r.FalsePositives) == 0 {
		fmt.Fprintln(ew, "false positives: none")
		return ew.err
	}
	fmt.Fprintf(ew, "false positives: %d\n", len(r.FalsePositives))
	tw = tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TICK\tENTITY\tCLASS\tVERDICT\tRULE\tEVIDENCE\tREASON")
	for i, fp := range r.FalsePositives {
		if i == MaxTableFalsePositives {
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rfc3339(fp.Tick), fp.Entity, cmp.Or(fp.Class, Unclassified), fp.Verdict, cmp.Or(fp.Rule, "-"),
			cmp.Or(string(fp.Strength), "-"), cmp.Or(oneLine(fp.Reason), "-"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := len(r.FalsePositives) - MaxTableFalsePositives; n > 0 {
		fmt.Fprintf(ew, "... and %d more (see the JSON output)\n", n)
	}
	return ew.err
}

// errWriter keeps the first write error so the rendering reads straight.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func metric(v *float64, undefined string) string {
	if v == nil {
		return "n/a (" + undefined + ")"
	}
	return fmt.Sprintf("%.3f", *v)
}

// ratioCell is a precision or recall in a table cell: n/a when undefined.
func ratioCell(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", *v)
}

func percent(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", f*100), "0"), ".") + "%"
}

func dur(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return model.Duration(d).String()
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
