package benchscale

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Row is one measured case.
type Row struct {
	Case     string // "1h all families", "24h util"
	GPUs     int
	Window   time.Duration
	Families int
	Util     bool // utilization only
	Cycle    Cycle
	Floor    Floor
}

// Ratio is cycle wall over floor wall; 0 when either is missing.
func (r Row) Ratio() float64 {
	if r.Floor.Wall <= 0 || r.Cycle.Err != nil {
		return 0
	}
	return r.Cycle.Wall.Seconds() / r.Floor.Wall.Seconds()
}

// RSSMiB is the detector's peak RSS in MiB, rounded.
func (r Row) RSSMiB() int64 { return (r.Cycle.MaxRSSBytes + 1<<19) >> 20 }

var header = []string{"case", "GPUs", "window", "families", "cycle wall", "queries", "peak samples",
	"bytes received", "detector peak RSS MiB", "floor wall", "ratio (cycle/floor)", "output bytes"}

// WriteTable prints rows as a Markdown table.
func WriteTable(w io.Writer, rows []Row) error {
	var b strings.Builder
	line := func(cells []string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
		if i > 0 {
			sep[i] = "---:"
		}
	}
	line(sep)
	for _, r := range rows {
		cycle, ratio := seconds(r.Cycle.Wall), fmt.Sprintf("%.1fx", r.Ratio())
		if r.Cycle.Err != nil {
			cycle, ratio = "error after "+seconds(r.Cycle.Wall), "-"
		}
		line([]string{r.Case, fmt.Sprint(r.GPUs), promDuration(r.Window), fmt.Sprint(r.Families), cycle,
			fmt.Sprint(r.Cycle.Query.Queries), fmt.Sprint(r.Cycle.Query.PeakSamples), megabytes(r.Cycle.Received),
			fmt.Sprint(r.RSSMiB()), seconds(r.Floor.Wall), ratio, megabytes(r.Cycle.OutputBytes)})
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ClosingLine is the one-line summary for the largest fleet measured:
// `bench: 10000 GPUs: 1h 17 signals 18.3x floor 1100 MiB; 24h util 13.2x floor 1700 MiB`.
// A case that failed reads "failed"; one not measured "not run".
func ClosingLine(rows []Row) string {
	gpus := 0
	for _, r := range rows {
		gpus = max(gpus, r.GPUs)
	}
	part := func(util bool) string {
		for _, r := range rows {
			if r.GPUs != gpus || r.Util != util {
				continue
			}
			name := fmt.Sprintf("%s %d signals", promDuration(r.Window), r.Families)
			if util {
				name = promDuration(r.Window) + " util"
			}
			if r.Cycle.Err != nil {
				return name + " failed"
			}
			return fmt.Sprintf("%s %.1fx floor %d MiB", name, r.Ratio(), r.RSSMiB())
		}
		if util {
			return "24h util not run"
		}
		return "1h signals not run"
	}
	return fmt.Sprintf("bench: %d GPUs: %s; %s", gpus, part(false), part(true))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
