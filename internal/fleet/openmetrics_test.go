package fleet

import (
	"math"
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
