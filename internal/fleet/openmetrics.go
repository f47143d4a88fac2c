package fleet

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// WriteOpenMetrics writes series as OpenMetrics text for
// `promtool tsdb create-blocks-from openmetrics`: a `# TYPE <name> gauge`
// line per metric family, then one `name{labels} value timestamp` line per
// sample, families in order of first appearance with all their series
// together, and a final `# EOF`. Label names are sorted; label values are
// escaped (backslash, double quote, newline); values are formatted with
// strconv.FormatFloat(v, 'g', -1, 64), so NaN is `NaN`; timestamps are Unix
// seconds with up to three decimals.
//
// Each series' samples must already be in time order (Samples returns them
// so); a series out of order is an error, as it would be for promtool.
func WriteOpenMetrics(w io.Writer, series ...Series) error {
	var families []string
	byFamily := map[string][]Series{}
	for _, s := range series {
		name := s.Labels["__name__"]
		if name == "" {
			return fmt.Errorf("openmetrics: series %v has no __name__", s.Labels)
		}
		if len(s.Times) != len(s.Values) {
			return fmt.Errorf("openmetrics: series %v has %d times and %d values", s.Labels, len(s.Times), len(s.Values))
		}
		if _, ok := byFamily[name]; !ok {
			families = append(families, name)
		}
		byFamily[name] = append(byFamily[name], s)
	}

	bw := bufio.NewWriter(w)
	for _, name := range families {
		fmt.Fprintf(bw, "# TYPE %s gauge\n", name)
		for _, s := range byFamily[name] {
			prefix := name + labelBlock(s.Labels)
			for i, t := range s.Times {
				if i > 0 && !t.After(s.Times[i-1]) {
					return fmt.Errorf("openmetrics: series %s: sample %d at %s is not after %s",
						prefix, i, t, s.Times[i-1])
				}
				bw.WriteString(prefix)
				bw.WriteByte(' ')
				bw.WriteString(strconv.FormatFloat(s.Values[i], 'g', -1, 64))
				bw.WriteByte(' ')
				bw.WriteString(formatSeconds(t.UnixMilli()))
				bw.WriteByte('\n')
			}
		}
	}
	bw.WriteString("# EOF\n")
	return bw.Flush()
}

// labelBlock renders `{a="1",b="2"}` with sorted names, without __name__;
// "" when there is no other label.
func labelBlock(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for n := range labels {
		if n != "__name__" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(EscapeLabelValue(labels[n]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// EscapeLabelValue escapes a label value for OpenMetrics text: backslash,
// double quote and line feed.
func EscapeLabelValue(v string) string { return labelEscaper.Replace(v) }

// formatSeconds renders Unix milliseconds as seconds with up to three
// decimals and no trailing zeros: 1767571200, 1767571200.5, -0.25.
func formatSeconds(ms int64) string {
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	s := sign + strconv.FormatInt(ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", frac), "0")
	}
	return s
}
