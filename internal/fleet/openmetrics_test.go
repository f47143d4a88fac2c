package fleet

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWriteOpenMetrics(t *testing.T) {
	t0 := time.Unix(1767571200, 0)
	series := []Series{
		{
			Labels: map[string]string{"__name__": "DCGM_FI_DEV_GPU_UTIL", "pod": "a", "gpu": "0"},
			Times:  []time.Time{t0, t0.Add(15 * time.Second), t0.Add(30*time.Second + 250*time.Millisecond)},
			Values: []float64{100, math.NaN(), 99.5},
		},
		{
			Labels: map[string]string{"__name__": "other_metric"},
			Times:  []time.Time{t0.Add(5 * time.Millisecond)},
			Values: []float64{-1},
		},
		{
			Labels: map[string]string{"__name__": "DCGM_FI_DEV_GPU_UTIL", "pod": "quote\" back\\slash\nnewline", "gpu": "1"},
			Times:  []time.Time{t0},
			Values: []float64{1e21},
		},
	}
	want := `# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",pod="a"} 100 1767571200
DCGM_FI_DEV_GPU_UTIL{gpu="0",pod="a"} NaN 1767571215
DCGM_FI_DEV_GPU_UTIL{gpu="0",pod="a"} 99.5 1767571230.25
DCGM_FI_DEV_GPU_UTIL{gpu="1",pod="quote\" back\\slash\nnewline"} 1e+21 1767571200
# TYPE other_metric gauge
other_metric -1 1767571200.005
# EOF
`
	var b strings.Builder
	if err := WriteOpenMetrics(&b, series...); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteOpenMetricsRejectsBadSeries(t *testing.T) {
	t0 := time.Unix(1767571200, 0)
	tests := map[string]Series{
		"out of order": {Labels: map[string]string{"__name__": "m"}, Times: []time.Time{t0, t0}, Values: []float64{1, 2}},
		"no name":      {Labels: map[string]string{"a": "b"}, Times: []time.Time{t0}, Values: []float64{1}},
		"length":       {Labels: map[string]string{"__name__": "m"}, Times: []time.Time{t0}, Values: []float64{1, 2}},
	}
	for name, s := range tests {
		if err := WriteOpenMetrics(&strings.Builder{}, s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestFormatSeconds(t *testing.T) {
	for ms, want := range map[int64]string{0: "0", 1500: "1.5", 1001: "1.001", 1010: "1.01", -250: "-0.25", 1767571200000: "1767571200"} {
		if got := formatSeconds(ms); got != want {
			t.Errorf("formatSeconds(%d) = %q, want %q", ms, got, want)
		}
	}
}

func TestEscapeLabelValue(t *testing.T) {
	for in, want := range map[string]string{`plain`: `plain`, `a"b`: `a\"b`, `a\b`: `a\\b`, "a\nb": `a\nb`, `\n`: `\\n`} {
		if got := EscapeLabelValue(in); got != want {
			t.Errorf("EscapeLabelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// The profiling series of the labelled fleet (MIG instances, podless GPUs,
// both layouts) survive WriteOpenMetrics: reading the text back gives the
// same labels, millisecond timestamps and values, one TYPE line per metric.
func TestWriteOpenMetricsRoundTripsProfilingSeries(t *testing.T) {
	for _, layout := range []Layout{Honor, Exported} {
		in := FleetSeries(LabelledFleet(testEnd), layout, testEnd.Add(-5*time.Minute), testEnd, Scrape{Metrics: AllMetrics()})
		var b strings.Builder
		if err := WriteOpenMetrics(&b, in...); err != nil {
			t.Fatal(err)
		}
		out, types := parseOpenMetrics(t, b.String())
		// lab-node-7's H100s add the Hopper-only (GPM) fields: every metric.
		if want := AllMetrics(); !slices.Equal(types, want) {
			t.Errorf("%s: TYPE lines for %v, want %v", layout, types, want)
		}
		if len(out) != len(in) {
			t.Fatalf("%s: %d series written, %d read back", layout, len(in), len(out))
		}
		for _, s := range in {
			got, ok := out[labelBlock(s.Labels)+s.Labels["__name__"]]
			if !ok {
				t.Errorf("%s: series %v not read back", layout, s.Labels)
				continue
			}
			if !maps.Equal(got.Labels, s.Labels) || !slicesEqual(got.Values, s.Values) ||
				!slices.EqualFunc(got.Times, s.Times, func(a, b time.Time) bool { return a.UnixMilli() == b.UnixMilli() }) {
				t.Errorf("%s: series %v read back differently", layout, s.Labels)
			}
		}
	}
}

// parseOpenMetrics reads what WriteOpenMetrics writes: series keyed by
// label block and name, and the metric names of the TYPE lines in order.
func parseOpenMetrics(t *testing.T, text string) (map[string]*Series, []string) {
	t.Helper()
	series := map[string]*Series{}
	var types []string
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[len(lines)-1] != "# EOF" {
		t.Fatalf("no # EOF: %q", lines[len(lines)-1])
	}
	for _, line := range lines[:len(lines)-1] {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(name, " ")
			if kind != "gauge" {
				t.Fatalf("TYPE %s %s", name, kind)
			}
			types = append(types, name)
			continue
		}
		labels := map[string]string{}
		name, rest, hasLabels := strings.Cut(line, "{")
		if hasLabels {
			for !strings.HasPrefix(rest, "}") {
				ln, after, _ := strings.Cut(rest, `="`)
				var v strings.Builder
				i := 0
				for ; after[i] != '"'; i++ {
					if after[i] == '\\' {
						i++
						v.WriteByte(map[byte]byte{'\\': '\\', '"': '"', 'n': '\n'}[after[i]])
						continue
					}
					v.WriteByte(after[i])
				}
				labels[ln] = v.String()
				rest = strings.TrimPrefix(after[i+1:], ",")
			}
			rest = rest[1:]
		} else {
			name, rest, _ = strings.Cut(line, " ")
			rest = " " + rest
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 {
			t.Fatalf("line %q: want a value and a timestamp", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		sec, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		labels["__name__"] = name
		key := labelBlock(labels) + name
		if series[key] == nil {
			series[key] = &Series{Labels: labels}
		}
		s := series[key]
		s.Times = append(s.Times, time.UnixMilli(int64(math.Round(sec*1000))))
		s.Values = append(s.Values, v)
	}
	return series, types
}

// A MIG instance's profiling series, written out: GPU_I_* labels sort
// first, ratios and byte rates print in Go's shortest form (an exponent
// from 1e+06 up, which OpenMetrics parsers accept).
func TestWriteOpenMetricsMIGSeries(t *testing.T) {
	t0 := time.Unix(1767571200, 0)
	p := Pod{Namespace: "ns", Name: "p", Container: "c", Node: "n"}
	g := GPUSpec{Index: "0", UUID: "GPU-1", Model: "M", MIG: &MIGInstance{GPUInstanceID: "9", Profile: "1g.10gb"}}
	series := []Series{
		{Labels: metricLabels(p, g, Honor, MetricGREngineActive), Times: []time.Time{t0, t0.Add(15 * time.Second)}, Values: []float64{0.999876, 1e-06}},
		{Labels: metricLabels(p, g, Honor, MetricPCIeRxBytes), Times: []time.Time{t0}, Values: []float64{123456789012}},
	}
	common := `GPU_I_ID="9",GPU_I_PROFILE="1g.10gb",Hostname="n",UUID="GPU-1",container="c",device="nvidia0",gpu="0",` +
		`instance="` + ExporterInstance("n") + `",job="nvidia-dcgm-exporter",modelName="M",namespace="ns",pod="p"`
	want := `# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge
DCGM_FI_PROF_GR_ENGINE_ACTIVE{` + common + `} 0.999876 1767571200
DCGM_FI_PROF_GR_ENGINE_ACTIVE{` + common + `} 1e-06 1767571215
# TYPE DCGM_FI_PROF_PCIE_RX_BYTES gauge
DCGM_FI_PROF_PCIE_RX_BYTES{` + common + `} 1.23456789012e+11 1767571200
# EOF
`
	var b strings.Builder
	if err := WriteOpenMetrics(&b, series...); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
