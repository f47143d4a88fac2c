package fleet

import (
	"maps"
	"testing"
	"time"
)

func TestMIGLabels(t *testing.T) {
	node := "gpu-node-9"
	whole, inst := GPU(node, "1"), MIGGPU(node, "1", "3", "2g.20gb")
	p := Pod{Namespace: "team-a", Name: "w-0", Container: "main", Node: node}
	for _, layout := range []Layout{Honor, Exported} {
		want := Labels(p, whole, layout)
		want["GPU_I_ID"], want["GPU_I_PROFILE"] = "3", "2g.20gb"
		if got := Labels(p, inst, layout); !maps.Equal(got, want) {
			t.Errorf("%s: Labels =\n%v\nwant\n%v", layout, got, want)
		}
	}
	if inst.UUID != whole.UUID || inst.Index != whole.Index {
		t.Errorf("MIG instance %s/%s of GPU %s/%s: want the physical GPU's UUID and index", inst.UUID, inst.Index, whole.UUID, whole.Index)
	}
	if a, b := inst.Seed(), MIGGPU(node, "1", "4", "2g.20gb").Seed(); a == b || a == whole.Seed() {
		t.Error("MIG instances of one GPU share a seed")
	}
}

func TestMIGFraction(t *testing.T) {
	for profile, want := range map[string]float64{
		"1g.10gb": 1.0 / 7, "2g.20gb": 2.0 / 7, "3g.40gb": 3.0 / 7, "4g.40gb": 4.0 / 7, "7g.80gb": 1,
		"1g.10gb+me": 1.0 / 7, "": 1.0 / 7, "bogus": 1.0 / 7, "9g.90gb": 1.0 / 7,
	} {
		if got := (MIGInstance{Profile: profile}).fraction(); got != want {
			t.Errorf("fraction(%q) = %v, want %v", profile, got, want)
		}
	}
}

// The three MIG instances of LabelledFleet's lab-node-5 GPU 1: no
// utilization series, the engine ratio carries the activity, the profiling
// signals are each instance's own, and power is the whole board's.
func TestMIGSeries(t *testing.T) {
	pods := LabelledFleet(testEnd)
	from := testEnd.Add(-time.Hour)
	series := FleetSeries(pods, Honor, from, testEnd, Scrape{Metrics: AllMetrics()})
	type instance struct{ pod, id string }
	mean := map[instance]map[string]float64{}
	power := map[string][]float64{}
	uuids := map[string]bool{}
	for _, s := range series {
		id := s.Labels["GPU_I_ID"]
		if id == "" {
			continue
		}
		if s.Labels["__name__"] == MetricGPUUtil {
			t.Errorf("GPU_UTIL series for MIG instance %s: %v", id, s.Labels)
		}
		if s.Labels["gpu"] != "1" || s.Labels["Hostname"] != "lab-node-5" || s.Labels["GPU_I_PROFILE"] == "" {
			t.Errorf("MIG series labels %v", s.Labels)
		}
		uuids[s.Labels["UUID"]] = true
		k := instance{s.Labels["pod"], id}
		if mean[k] == nil {
			mean[k] = map[string]float64{}
		}
		mean[k][s.Labels["__name__"]], _ = moments(s.Values)
		if s.Labels["__name__"] == MetricPower {
			power[id] = s.Values
		}
	}
	if len(mean) != 3 || len(uuids) != 1 {
		t.Fatalf("MIG instances %v on %d GPUs, want 3 on one", mean, len(uuids))
	}
	miner, trainer, server := mean[instance{"jupyter-oscar", "9"}], mean[instance{"lora-tune-0", "2"}], mean[instance{"embed-api-5b7c9d8f6-w4n2r", "3"}]
	if miner[MetricGREngineActive] < 0.95 || miner[MetricSMActive] < 0.9 || miner[MetricTensorActive] != 0 {
		t.Errorf("mining instance: %v", miner)
	}
	if trainer[MetricGREngineActive] < 0.95 || trainer[MetricTensorActive] < 0.2 {
		t.Errorf("training instance: %v", trainer)
	}
	if g := server[MetricGREngineActive]; g < 0.1 || g > 0.6 || server[MetricTensorActive] < 0.05 {
		t.Errorf("inference instance: %v", server)
	}
	for k, m := range mean {
		if m[MetricNVLinkTxBytes] != 0 || m[MetricNVLinkRxBytes] != 0 {
			t.Errorf("instance %v has NVLink traffic", k)
		}
	}
	// A 3g instance moves 3/7 of what the whole GPU would: the flat
	// training's input stream stays within tens of MB/s.
	if rx := trainer[MetricPCIeRxBytes]; rx < 10e6 || rx > 150e6 {
		t.Errorf("training instance PCIe RX %.3g B/s, want 10-150 MB/s", rx)
	}
	if !slicesEqual(power["9"], power["2"]) || !slicesEqual(power["2"], power["3"]) {
		t.Error("MIG instances of one GPU report different board power")
	}

	// The board's power is its idle draw plus each instance's share: the
	// 1g miner adds about 1/7 of a miner's draw over idle (~46 W).
	var without []Pod
	for _, p := range pods {
		if p.Name != "jupyter-oscar" {
			without = append(without, p)
		}
	}
	var rest []float64
	for _, s := range FleetSeries(without, Honor, from, testEnd, Scrape{Metrics: []string{MetricPower}}) {
		if s.Labels["GPU_I_ID"] == "2" {
			rest = s.Values
		}
	}
	all, _ := moments(power["9"])
	less, _ := moments(rest)
	if d := all - less; d < 40 || d > 50 {
		t.Errorf("board power %.1f W with the 1g miner, %.1f W without: the miner adds %.1f W, want 40-50", all, less, d)
	}
	if all < 150 || all > 400 {
		t.Errorf("board power %.1f W, want 150-400", all)
	}
}
