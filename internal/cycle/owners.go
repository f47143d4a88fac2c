package cycle

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/metrics"
)

// ownerCacheSize bounds the pods whose owners are remembered between
// cycles (a pod's owner never changes).
const ownerCacheSize = 10000

// owners resolves pods to their owners, remembering what it found.
type owners struct {
	mu    sync.Mutex
	cache map[analyzer.PodKey]actions.Owner
}

func (o *owners) get(k analyzer.PodKey) (actions.Owner, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.cache[k]
	return v, ok
}

func (o *owners) put(k analyzer.PodKey, v actions.Owner) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cache == nil || len(o.cache) >= ownerCacheSize {
		o.cache = map[analyzer.PodKey]actions.Owner{}
	}
	o.cache[k] = v
}

// resolveOwners finds the owners this cycle needs: of every miner pod, and
// of the other pods (young, benign) in namespaces where the state already
// keeps an owner, so that a replacement is judged on its owner's evidence
// and a benign pod clears its owner. Owners the state knows are not read
// again; at most c.MaxResolves pods are read. A pod that is gone or cannot
// be read is left out (logged, counted).
func (c *Cycle) resolveOwners(ctx context.Context, log *slog.Logger, rep analyzer.Report, st actions.State) map[analyzer.PodKey]actions.Owner {
	if c.Owners == nil {
		return nil
	}
	standing := map[string]bool{}
	for _, os := range st.Owners {
		standing[os.Owner.Namespace] = true
	}
	known := st.PodOwners()
	out := map[analyzer.PodKey]actions.Owner{}
	budget := c.MaxResolves
	if budget <= 0 {
		budget = 100
	}
	for _, r := range rep.Pods {
		if r.Verdict != analyzer.Miner && !standing[r.Namespace] {
			continue
		}
		if key, ok := known[r.PodKey]; ok {
			out[r.PodKey] = st.Owners[key].Owner
			continue
		}
		if o, ok := c.ownerCache.get(r.PodKey); ok {
			out[r.PodKey] = o
			continue
		}
		if budget == 0 {
			log.Warn("owner resolution budget spent: remaining pods are judged without their owner this cycle",
				"max_resolves_per_cycle", c.MaxResolves)
			break
		}
		budget--
		o, err := c.Owners.Owner(ctx, r.PodKey)
		result := "ok"
		switch {
		case errors.Is(err, actions.ErrOwnerPodGone):
			result = "skipped"
		case err != nil:
			result = "failed"
			log.Warn("resolve pod owner", "namespace", r.Namespace, "pod", r.Pod, "err", err)
		default:
			c.ownerCache.put(r.PodKey, o)
			out[r.PodKey] = o
		}
		if c.Metrics != nil {
			c.Metrics.Action("resolve_owner", result)
		}
	}
	return out
}

// judgeOnOwners re-judges the window with the owners the state keeps and
// their young pods resolved this cycle, when there is one: a replacement
// pod is then judged on its owner's window.
func (c *Cycle) judgeOnOwners(in analyzer.Input, rep analyzer.Report, st actions.State, resolved map[analyzer.PodKey]actions.Owner) (analyzer.Report, bool) {
	if len(st.Owners) == 0 {
		return rep, false
	}
	// The owner's window is its predecessors (the pods the state keeps,
	// judged miners) and its young pods; a benign sibling (another replica
	// that trains) is not part of it.
	members := st.PodOwners()
	young := false
	for _, r := range rep.Pods {
		o, ok := resolved[r.PodKey]
		if !ok || r.Verdict != analyzer.InsufficientData {
			continue
		}
		if _, standing := st.Owners[o.Key()]; !standing {
			continue
		}
		members[r.PodKey] = o.Key()
		young = true
	}
	if !young {
		return rep, false
	}
	cfg := c.Analyzer
	cfg.Owners = members
	return analyzer.Analyze(in, cfg), true
}

// ownerMetrics publishes the owners of miner pods and the state's owners.
func ownerMetrics(m *metrics.Metrics, rep analyzer.Report, resolved map[analyzer.PodKey]actions.Owner, st actions.State) {
	pods := map[analyzer.PodKey]metrics.Owner{}
	for _, r := range rep.Pods {
		if o, ok := resolved[r.PodKey]; ok && r.Verdict == analyzer.Miner && !o.IsPod() {
			pods[r.PodKey] = metrics.Owner{Namespace: o.Namespace, Kind: o.Kind, Name: o.Name}
		}
	}
	var records []metrics.OwnerRecord
	for _, key := range slices.Sorted(maps.Keys(st.Owners)) {
		os := st.Owners[key]
		records = append(records, metrics.OwnerRecord{
			Owner:     metrics.Owner{Namespace: os.Owner.Namespace, Kind: os.Owner.Kind, Name: os.Owner.Name},
			Deletions: len(os.Deletions), Escalated: os.Escalated, Stopped: os.Stopped,
		})
	}
	m.Owners(pods, records)
}
