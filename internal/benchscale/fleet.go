package benchscale

import (
	"fmt"
	"time"

	"github.com/miner-detector/miner-detector/internal/fleet"
)

// GPUsPerNode is the node size of the simulated fleet (an 8-GPU HGX node).
const GPUsPerNode = 8

// Composition counts a fleet's GPUs by what they run.
type Composition struct {
	Nodes, GPUs                     int
	Miners, Training, Inference     int
	IdleInPod, IdleWithoutPod, Pods int
}

// Fleet returns a deterministic fleet of gpus GPUs (a multiple of
// GPUsPerNode) on gpus/8 nodes: 60 % of the nodes train (one 8-GPU flat
// training pod, one 8-GPU bursty training pod, or two 4-GPU pods, one of
// each, in turn), the other nodes hold single-GPU pods in which 1 % of all
// GPUs mine steadily (spread evenly) and the rest serve inference (half),
// idle in a notebook (a quarter) or idle with no pod (a quarter).
func Fleet(gpus int) ([]fleet.Pod, Composition, error) {
	if gpus <= 0 || gpus%GPUsPerNode != 0 {
		return nil, Composition{}, fmt.Errorf("benchscale: %d GPUs is not a positive multiple of %d", gpus, GPUsPerNode)
	}
	nodes := gpus / GPUsPerNode
	isTraining := func(i int) bool { return (i*3)%5 < 3 } // 3 nodes in every 5
	trainingNodes := 0
	for i := range nodes {
		if isTraining(i) {
			trainingNodes++
		}
	}
	other := (nodes - trainingNodes) * GPUsPerNode
	miners := (gpus + 50) / 100
	if miners > other {
		miners = other
	}
	c := Composition{Nodes: nodes, GPUs: gpus}
	var pods []fleet.Pod
	k, j, q := 0, 0, 0 // training node, single-GPU slot, non-miner slot
	for i := range nodes {
		node := fmt.Sprintf("gpu-node-%05d", i+1)
		ns := fmt.Sprintf("team-%03d", i%97)
		gpu := func(idx int) fleet.GPUSpec { return fleet.GPU(node, fmt.Sprint(idx)) }
		gpuRange := func(lo, hi int) []fleet.GPUSpec {
			var g []fleet.GPUSpec
			for x := lo; x < hi; x++ {
				g = append(g, gpu(x))
			}
			return g
		}
		if isTraining(i) {
			train := func(name string, p fleet.Profile, g []fleet.GPUSpec) {
				pods = append(pods, fleet.Pod{Namespace: ns, Name: name, Container: "trainer", Node: node, Profile: p, GPUs: g,
					Scenario: p.Name})
				c.Training += len(g)
				c.Pods++
			}
			switch k % 3 {
			case 0:
				train(fmt.Sprintf("llm-pretrain-%05d", i), fleet.FlatTraining(), gpuRange(0, 8))
			case 1:
				train(fmt.Sprintf("ddp-train-%05d", i), fleet.BurstyTraining(), gpuRange(0, 8))
			default:
				train(fmt.Sprintf("finetune-%05d-a", i), fleet.FlatTraining(), gpuRange(0, 4))
				train(fmt.Sprintf("finetune-%05d-b", i), fleet.BurstyTraining(), gpuRange(4, 8))
			}
			k++
			continue
		}
		for x := range GPUsPerNode {
			single := func(name, container string, p fleet.Profile, miner bool) {
				pods = append(pods, fleet.Pod{Namespace: ns, Name: name, Container: container, Node: node, Profile: p,
					GPUs: []fleet.GPUSpec{gpu(x)}, ExpectMiner: miner, Scenario: p.Name})
				c.Pods++
			}
			if (j*miners)/other != ((j+1)*miners)/other {
				single(fmt.Sprintf("notebook-%05d-%d", i, x), "notebook", fleet.SteadyMiner(), true)
				c.Miners++
			} else {
				switch q % 4 {
				case 0, 1:
					single(fmt.Sprintf("inference-%05d-%d", i, x), "server", fleet.Inference(), false)
					c.Inference++
				case 2:
					single(fmt.Sprintf("notebook-%05d-%d", i, x), "notebook", fleet.Idle(), false)
					c.IdleInPod++
				default:
					pods = append(pods, fleet.Pod{Node: node, Profile: fleet.Idle(), GPUs: []fleet.GPUSpec{gpu(x)}, Scenario: "idle, no pod"})
					c.IdleWithoutPod++
				}
				q++
			}
			j++
		}
	}
	return pods, c, nil
}

// byNode groups pods by node, in order (Fleet emits them node by node).
func byNode(pods []fleet.Pod) [][]fleet.Pod {
	var out [][]fleet.Pod
	for i, p := range pods {
		if i == 0 || p.Node != pods[i-1].Node {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], p)
	}
	return out
}

// Scrape is the simulated scrape: every 15 s on the Unix-epoch grid.
func scrape(metrics []string) fleet.Scrape {
	return fleet.Scrape{Interval: 15 * time.Second, Metrics: metrics}
}
