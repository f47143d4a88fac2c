package fleet

import (
	"regexp"
	"testing"
	"time"
)

func TestDefaultFleetScenarios(t *testing.T) {
	pods := DefaultFleet(testEnd)
	byKey := map[string]Pod{}
	uuidHolders := map[string][]string{}
	for _, p := range pods {
		if _, dup := byKey[p.Key()]; dup && p.Name != "" {
			t.Errorf("pod %s listed twice", p.Key())
		}
		byKey[p.Key()] = p
		if p.Node == "" || len(p.GPUs) == 0 || p.Scenario == "" {
			t.Errorf("pod %s: node %q, %d GPUs, scenario %q", p.Key(), p.Node, len(p.GPUs), p.Scenario)
		}
		for _, g := range p.GPUs {
			uuidHolders[g.UUID] = append(uuidHolders[g.UUID], p.Key())
			if !regexp.MustCompile(`^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(g.UUID) {
				t.Errorf("pod %s GPU %s: UUID %q", p.Key(), g.Index, g.UUID)
			}
			if g.Model != DefaultModel {
				t.Errorf("pod %s GPU %s: model %q", p.Key(), g.Index, g.Model)
			}
		}
	}

	mustMine := func(key string, want bool) Pod {
		t.Helper()
		p, ok := byKey[key]
		if !ok {
			t.Fatalf("no pod %s", key)
		}
		if p.ExpectMiner != want {
			t.Errorf("%s: ExpectMiner = %v, want %v", key, p.ExpectMiner, want)
		}
		return p
	}
	mustMine("team-a/batch-worker-5c7d9f8b6-x2k4q", true)
	mustMine("free-notebooks/jupyter-alice", true)
	mustMine("ml-research/llama-finetune-0", false)
	mustMine("serving/sd-inference-6b8d7c9f5-q7w2e", false)
	mustMine("team-c/notebook-0", true)
	mustMine("team-d/notebook-0", false)
	mustMine("kube-system/node-gpu-check-4kq8s", true)
	mustMine("team-e/render-farm-0", true)

	ddp := mustMine("team-b/ddp-train-0", true)
	var miners, trainers int
	for _, g := range ddp.GPUs {
		switch ddp.ProfileOf(g).Name {
		case "steady-miner":
			miners++
		case "bursty-training":
			trainers++
		}
	}
	if len(ddp.GPUs) != 4 || miners != 1 || trainers != 3 {
		t.Errorf("ddp-train-0: %d GPUs, %d mining, %d training; want 4, 1, 3", len(ddp.GPUs), miners, trainers)
	}

	young := mustMine("free-notebooks/jupyter-mallory", true)
	if !young.Start.Equal(testEnd.Add(-10 * time.Minute)) {
		t.Errorf("young pod starts at %s, want 10 minutes before %s", young.Start, testEnd)
	}

	podless := byKey["gpu-node-3/-"]
	idle := 0
	for _, p := range pods {
		if p.Name == "" && p.Profile.Name == "idle" {
			idle += len(p.GPUs)
		}
	}
	if idle == 0 || podless.Node == "" {
		t.Error("no idle GPU without a pod")
	}

	shared := 0
	for uuid, holders := range uuidHolders {
		if len(holders) == 2 {
			shared++
			bob, carol := mustMine("free-notebooks/jupyter-bob", true), mustMine("free-notebooks/jupyter-carol", false)
			if bob.GPUs[0].UUID != uuid || carol.GPUs[0].UUID != uuid {
				t.Errorf("GPU %s shared by %v, want jupyter-bob and jupyter-carol", uuid, holders)
			}
			// Both series show the device's utilization.
			_, vb := Samples(bob, bob.GPUs[0], testEnd.Add(-time.Hour), testEnd, Scrape{})
			_, vc := Samples(carol, carol.GPUs[0], testEnd.Add(-time.Hour), testEnd, Scrape{})
			if !slicesEqual(vb, vc) {
				t.Error("time-sliced GPU: the two pods' series differ")
			}
		} else if len(holders) > 2 {
			t.Errorf("GPU %s held by %v", uuid, holders)
		}
	}
	if shared != 1 {
		t.Errorf("%d time-sliced GPUs, want 1", shared)
	}
}

func TestDefaultFleetIsDeterministic(t *testing.T) {
	a := FleetSeries(DefaultFleet(testEnd), Exported, testEnd.Add(-time.Hour), testEnd, Scrape{})
	b := FleetSeries(DefaultFleet(testEnd), Exported, testEnd.Add(-time.Hour), testEnd, Scrape{})
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d and %d series", len(a), len(b))
	}
	for i := range a {
		if !slicesEqual(a[i].Values, b[i].Values) {
			t.Errorf("series %v differs between two calls", a[i].Labels)
		}
	}
}

// Over an hour, the old rule flags exactly the GPUs that run SteadyMiner in
// the default fleet (the throttled miner dodges it, by design).
func TestDefaultFleetUnderTheOldRule(t *testing.T) {
	for _, p := range DefaultFleet(testEnd) {
		for _, g := range p.GPUs {
			_, v := Samples(p, g, testEnd.Add(-time.Hour), testEnd, Scrape{})
			mean, sd := moments(v)
			want := p.ProfileOf(g).Name == "steady-miner"
			if got := mean > 95 && sd < 2; got != want {
				t.Errorf("%s GPU %s (%s): mean %.2f stddev %.2f: flagged %v, want %v",
					p.Key(), g.Index, p.ProfileOf(g).Name, mean, sd, got, want)
			}
		}
	}
}
