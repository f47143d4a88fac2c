package actions

import (
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour:                  "1h",
		90 * time.Minute:           "1h30m",
		5 * time.Minute:            "5m",
		7 * 24 * time.Hour:         "168h",
		time.Hour + 30*time.Second: "1h0m30s",
		0:                          "0s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestEvidenceStartAndEnd(t *testing.T) {
	late := gpu("node-a", "1", analyzer.Miner)
	late.FirstChunkEnd = t0.Add(30 * time.Minute)
	empty := gpu("node-a", "2", analyzer.InsufficientData)
	empty.Count, empty.FirstChunkEnd, empty.Curve = 0, time.Time{}, nil
	r := report("a", "b", late, gpu("node-a", "0", analyzer.Miner), empty)
	if got, want := evidenceStart(r), t0.Add(testChunk); !got.Equal(want) {
		t.Errorf("evidenceStart = %v, want the earliest GPU's first chunk end %v", got, want)
	}
	if got, want := evidenceEnd(r), t0.Add(time.Hour); !got.Equal(want) {
		t.Errorf("evidenceEnd = %v, want %v", got, want)
	}
	if !evidenceStart(report("a", "b", empty)).IsZero() {
		t.Error("evidenceStart of a pod without samples is not zero")
	}
}

func TestGPULinesOnlyDecidingGPUs(t *testing.T) {
	r := report("a", "b", gpu("node-a", "0", analyzer.Benign), gpu("node-a", "1", analyzer.Miner))
	lines := Finding{Report: r}.GPULines()
	want := "GPU 1 (GPU-node-a-1) on node-a: mean 99.1% stddev 0.4 over 1h (240/240 samples): rule flat_high_util mean > 95 and stddev < 2"
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("GPULines() = %q, want [%q]", lines, want)
	}
}
