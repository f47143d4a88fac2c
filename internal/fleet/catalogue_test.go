package fleet

import (
	"testing"
	"time"
)

func TestBenignCatalogueBands(t *testing.T) {
	checkNewProfiles(t, []newProfileCase{
		{SmallCNN(),
			map[string]band{
				MetricGPUUtil: {78, 88}, MetricTensorActive: {0.02, 0.07}, MetricTensorHMMAActive: {0.02, 0.07},
				MetricFP32Active: {0.15, 0.3}, MetricFP16Active: {0.007, 0.026}, MetricIntActive: {0.06, 0.13},
				MetricSMActive: {0.57, 0.73}, MetricDRAMActive: {0.24, 0.43}, MetricPCIeRxBytes: {80e6, 260e6},
				MetricPCIeTxBytes: {1.5e6, 9e6},
			},
			map[string]band{MetricGPUUtil: {4, 8}},
			map[string]band{MetricTensorIMMAActive: {0, 0}, MetricTensorDFMAActive: {0, 0}, MetricNVLinkTxBytes: {0, 0}}},
		{GPUETL(),
			map[string]band{
				MetricGPUUtil: {55, 75}, MetricIntActive: {0.1, 0.35}, MetricFP32Active: {0.015, 0.06},
				MetricFP64Active: {0.005, 0.025}, MetricDRAMActive: {0.3, 0.6}, MetricSMActive: {0.35, 0.65},
				MetricPCIeRxBytes: {0.4e9, 3e9}, MetricPCIeTxBytes: {50e6, 600e6},
			},
			map[string]band{MetricGPUUtil: {20, 45}},
			map[string]band{MetricTensorActive: {0, 0}, MetricTensorIMMAActive: {0, 0}, MetricTensorHMMAActive: {0, 0}, MetricNVLinkTxBytes: {0, 0}}},
		{Int8BatchInference(),
			map[string]band{
				MetricGPUUtil: {91, 97}, MetricTensorIMMAActive: {0.37, 0.58}, MetricTensorHMMAActive: {0.055, 0.12},
				MetricTensorActive: {0.43, 0.7}, MetricFP16Active: {0.055, 0.15}, MetricFP32Active: {0.025, 0.08},
				MetricIntActive: {0.055, 0.12}, MetricSMActive: {0.78, 0.92}, MetricDRAMActive: {0.27, 0.49},
				MetricPCIeRxBytes: {40e6, 200e6}, MetricPCIeTxBytes: {8e6, 50e6},
				MetricPower: {0.65 * tdpWatts, 0.85 * tdpWatts},
			},
			map[string]band{MetricGPUUtil: {2.5, 4.5}},
			map[string]band{MetricGPUUtil: {86, 100}, MetricTensorDFMAActive: {0, 0}}},
		{FP64MolecularDynamics(),
			map[string]band{
				MetricGPUUtil: {99, 100}, MetricFP64Active: {0.34, 0.56}, MetricDRAMActive: {0.29, 0.51},
				MetricIntActive: {0.045, 0.105}, MetricSMActive: {0.87, 0.97}, MetricPower: {0.83 * tdpWatts, 0.96 * tdpWatts},
			},
			map[string]band{MetricGPUUtil: {0, 1}},
			map[string]band{MetricGPUUtil: {98, 100}, MetricTensorActive: {0, 0}, MetricTensorDFMAActive: {0, 0}, MetricTensorHMMAActive: {0, 0}}},
		{IdleNotebook(),
			map[string]band{MetricGPUUtil: {0.1, 10}, MetricPower: {52, 90}},
			nil,
			map[string]band{MetricTensorIMMAActive: {0, 0}, MetricTensorDFMAActive: {0, 0}, MetricTensorActive: {0, 0.08}}},
	})
}

// IdleNotebook runs a cell of 10-40 s every 8-20 minutes: over a day, short
// runs of busy samples, never two cells closer than 8 minutes, signals
// like SmallCNN's while busy and Idle's otherwise.
func TestIdleNotebookCells(t *testing.T) {
	p := IdleNotebook()
	for _, seed := range []uint64{1, 2, 3} {
		ts := (Scrape{Interval: 5 * time.Second}).Grid(testEnd.Add(-24*time.Hour), testEnd)
		var cells []time.Time
		run, busy := 0, false
		for _, at := range ts {
			u, _ := p.Value(MetricGPUUtil, seed, at)
			fp32, _ := p.Value(MetricFP32Active, seed, at)
			if u > 0 {
				if u < 18 || fp32 <= 0 { // a level of 30 or more, ±3 per sample
					t.Fatalf("seed %d at %v: cell at %g%% with FP32 %g", seed, at, u, fp32)
				}
				if !busy {
					cells = append(cells, at)
				}
				run++
				if run > 9 { // 40 s at 5 s
					t.Fatalf("seed %d at %v: a cell longer than 40 s", seed, at)
				}
			} else {
				run = 0
				if fp32 != 0 {
					t.Fatalf("seed %d at %v: idle with FP32 %g", seed, at, fp32)
				}
			}
			busy = u > 0
		}
		if n := len(cells); n < 24*3 || n > 24*7+1 {
			t.Errorf("seed %d: %d cells in a day, want one every 8-20 minutes", seed, n)
		}
		for i := 1; i < len(cells); i++ {
			if gap := cells[i].Sub(cells[i-1]); gap < 8*time.Minute {
				t.Errorf("seed %d: cells at %v and %v, %v apart", seed, cells[i-1], cells[i], gap)
			}
		}
	}
}

// GPUETL's scans fill the host link at gigabytes per second and its host
// waits drop utilization to 15 % or less, several times an hour.
func TestGPUETLPhases(t *testing.T) {
	p := GPUETL()
	for _, seed := range newProfileSeeds {
		u := metricValues(t, p, MetricGPUUtil, seed, testEnd.Add(-time.Hour), testEnd)
		rx := metricValues(t, p, MetricPCIeRxBytes, seed, testEnd.Add(-time.Hour), testEnd)
		waits, scans := 0, 0
		for i := range u {
			if u[i] <= 15 && (i == 0 || u[i-1] > 15) {
				waits++
			}
			if rx[i] >= 1.8e9 && u[i] < 60 {
				t.Errorf("seed %d: scan at %g%%", seed, u[i])
			}
			if rx[i] >= 1.8e9 {
				scans++
			}
		}
		if waits < 10 || scans < 20 {
			t.Errorf("seed %d: %d host waits and %d scan samples in an hour", seed, waits, scans)
		}
	}
}
