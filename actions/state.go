package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/miner-detector/miner-detector/analyzer"
)

// State is what must survive a restart or a leader change so that actions are
// neither repeated nor forgotten: strikes, Slack threads, deletions.
type State struct {
	// Pods is keyed by "namespace/pod" (analyzer.PodKey.String). Only pods
	// with a standing finding have an entry.
	Pods map[string]PodState `json:"pods"`
	// LastTick is the latest schedule tick a cycle was started for: a new
	// leader skips ticks its predecessor already ran.
	LastTick time.Time `json:"lastTick,omitzero"`
	// Nodes counts consecutive cycles of each standing busy-GPU-without-pod
	// finding (NodeFinding.Key).
	Nodes map[string]int `json:"nodes,omitempty"`
	// Owners is keyed by Owner.Key: the owners (controllers) whose pods
	// were judged miners, with their deletions and escalation.
	Owners map[string]OwnerState `json:"owners,omitempty"`
	// Untrusted is keyed by UntrustedFinding.Key: the standing
	// untrusted-telemetry findings, so each is posted once.
	Untrusted map[string]UntrustedState `json:"untrusted,omitempty"`
}

// UntrustedState is one standing untrusted-telemetry finding.
type UntrustedState struct {
	// Cycles counts consecutive cycles with the finding.
	Cycles int `json:"cycles"`
	// Posted: its Slack message was posted.
	Posted bool `json:"posted,omitempty"`
}

// PodState is one pod's standing finding.
type PodState struct {
	// Strikes counts consecutive cycles with a miner verdict.
	Strikes int `json:"strikes"`
	// Notified is set once Slack has been told about the standing finding.
	Notified bool `json:"notified"`
	// FirstSeen and LastSeen are the evidence times (end of the latest chunk
	// with data) of the first and latest miner verdict.
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Deleted is set once the pod has been deleted (or was found gone when
	// it was to be deleted); DeletedAt is the evidence end of that cycle.
	// Until the window moves past DeletedAt the reports still show the
	// deleted pod's samples, and BuildPlan leaves it alone.
	Deleted   bool      `json:"deleted"`
	DeletedAt time.Time `json:"deletedAt,omitzero"`
	// SlackTS is the Slack thread of the finding; empty when none was posted.
	SlackTS string `json:"slackTS,omitempty"`
	// LastDecision is the deletion decision of the latest cycle: a reply
	// goes to the thread only when it changes.
	LastDecision string `json:"lastDecision,omitempty"`
	// Owner is the pod's owner (Owner.Key), when known and not the pod
	// itself.
	Owner string `json:"owner,omitempty"`
}

// Pod returns the pod's entry and whether it has one.
func (s State) Pod(k analyzer.PodKey) (PodState, bool) {
	ps, ok := s.Pods[k.String()]
	return ps, ok
}

// Clone returns a copy that shares nothing with s.
func (s State) Clone() State {
	c := State{Pods: make(map[string]PodState, len(s.Pods)), LastTick: s.LastTick}
	if s.Nodes != nil {
		c.Nodes = maps.Clone(s.Nodes)
	}
	if s.Owners != nil {
		c.Owners = make(map[string]OwnerState, len(s.Owners))
		for k, o := range s.Owners {
			o.Pods, o.Deletions = slices.Clone(o.Pods), slices.Clone(o.Deletions)
			c.Owners[k] = o
		}
	}
	if s.Untrusted != nil {
		c.Untrusted = maps.Clone(s.Untrusted)
	}
	maps.Copy(c.Pods, s.Pods)
	return c
}

// StateStore persists State between cycles.
type StateStore interface {
	Load(ctx context.Context) (State, error)
	Save(ctx context.Context, s State) error
}

// StateUpdater applies a read-modify-write to the state atomically: when
// another writer changed the state between the read and the write, Update
// fails with an error wrapping ErrStateConflict instead of overwriting it.
// fn returning ErrNoChange writes nothing (Update then returns nil).
type StateUpdater interface {
	Update(ctx context.Context, fn func(State) (State, error)) error
}

var (
	// ErrStateConflict: another writer changed the state first.
	ErrStateConflict = errors.New("action state changed by another writer")
	// ErrNoChange, returned by an Update function, leaves the state as it is.
	ErrNoChange = errors.New("no change")
)

// UpdateState applies fn to the state: atomically when the store is a
// StateUpdater, else as a Load then a Save.
func UpdateState(ctx context.Context, s StateStore, fn func(State) (State, error)) error {
	if u, ok := s.(StateUpdater); ok {
		return u.Update(ctx, fn)
	}
	st, err := s.Load(ctx)
	if err != nil && !errors.Is(err, ErrStateCorrupt) {
		return err
	}
	next, err := fn(st)
	if errors.Is(err, ErrNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.Save(ctx, next)
}

var (
	_ StateStore   = (*MemoryStore)(nil)
	_ StateStore   = ConfigMapStore{}
	_ StateUpdater = (*MemoryStore)(nil)
	_ StateUpdater = ConfigMapStore{}
)

// MemoryStore keeps State in memory: for scan, demo and tests. It is safe for
// concurrent use. The zero value is an empty store.
type MemoryStore struct {
	mu    sync.Mutex
	state State
}

// Load returns a copy of the stored State.
func (m *MemoryStore) Load(context.Context) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Clone(), nil
}

// Save stores a copy of s.
func (m *MemoryStore) Save(_ context.Context, s State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = s.Clone()
	return nil
}

// Update applies fn under the store's lock.
func (m *MemoryStore) Update(_ context.Context, fn func(State) (State, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next, err := fn(m.state.Clone())
	if errors.Is(err, ErrNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	m.state = next.Clone()
	return nil
}

// StateDataKey is the ConfigMap data key holding the State as JSON.
const StateDataKey = "state.json"

// CorruptStateDataKey keeps the last state text that could not be decoded,
// for a post-mortem, when Save replaces it.
const CorruptStateDataKey = "state.corrupt.json"

// ErrStateCorrupt is wrapped by Load when the stored state cannot be
// decoded; Load then also returns an empty State, so a caller may carry on
// from zero (strikes restart, so nothing is deleted on the old strikes)
// instead of stopping every cycle until someone repairs the ConfigMap.
var ErrStateCorrupt = errors.New("action state is corrupt")

// ConfigMapStore keeps State as JSON in one key (StateDataKey) of a
// ConfigMap, created on the first Save. It needs get, create and update on
// that ConfigMap. Save is optimistic: a concurrent writer makes it fail with
// a conflict rather than overwrite (leader election keeps writers to one).
type ConfigMapStore struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
}

// Load reads the State; a missing ConfigMap or key is an empty State.
func (c ConfigMapStore) Load(ctx context.Context) (State, error) {
	cm, err := c.Client.CoreV1().ConfigMaps(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return State{Pods: map[string]PodState{}}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("load state from configmap %s/%s: %w", c.Namespace, c.Name, err)
	}
	return decodeState(cm, c.Namespace, c.Name)
}

// Save writes the State, creating the ConfigMap when it does not exist.
func (c ConfigMapStore) Save(ctx context.Context, s State) error {
	data, err := json.Marshal(s.Clone())
	if err != nil {
		return fmt.Errorf("save state to configmap %s/%s: encode: %w", c.Namespace, c.Name, err)
	}
	api := c.Client.CoreV1().ConfigMaps(c.Namespace)
	cm, err := api.Get(ctx, c.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name:      c.Name,
				Namespace: c.Namespace,
				Labels:    map[string]string{"app.kubernetes.io/managed-by": "miner-detector"},
			},
			Data: map[string]string{StateDataKey: string(data)},
		}
		if _, err := api.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("save state: create configmap %s/%s: %w", c.Namespace, c.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("save state: get configmap %s/%s: %w", c.Namespace, c.Name, err)
	}
	cm = cm.DeepCopy()
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	if _, err := decodeState(cm, c.Namespace, c.Name); errors.Is(err, ErrStateCorrupt) {
		cm.Data[CorruptStateDataKey] = cm.Data[StateDataKey]
	}
	cm.Data[StateDataKey] = string(data)
	if _, err := api.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("save state: update configmap %s/%s: %w", c.Namespace, c.Name, err)
	}
	return nil
}

// Update reads the State, applies fn and writes the result with the read's
// resourceVersion as precondition (or creates the ConfigMap when there was
// none): of two replicas claiming the same tick, one wins and the other
// gets ErrStateConflict. A corrupt state reads as empty; its text is kept.
func (c ConfigMapStore) Update(ctx context.Context, fn func(State) (State, error)) error {
	api := c.Client.CoreV1().ConfigMaps(c.Namespace)
	cm, err := api.Get(ctx, c.Name, metav1.GetOptions{})
	st := State{Pods: map[string]PodState{}}
	switch {
	case apierrors.IsNotFound(err):
		cm = nil
	case err != nil:
		return fmt.Errorf("update state: get configmap %s/%s: %w", c.Namespace, c.Name, err)
	default:
		if st, err = decodeState(cm, c.Namespace, c.Name); err != nil && !errors.Is(err, ErrStateCorrupt) {
			return err
		}
	}
	next, err := fn(st)
	if errors.Is(err, ErrNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	data, err := json.Marshal(next.Clone())
	if err != nil {
		return fmt.Errorf("update state in configmap %s/%s: encode: %w", c.Namespace, c.Name, err)
	}
	if cm == nil {
		_, err = api.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "miner-detector"}},
			Data: map[string]string{StateDataKey: string(data)},
		}, metav1.CreateOptions{})
	} else {
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if _, derr := decodeState(cm, c.Namespace, c.Name); errors.Is(derr, ErrStateCorrupt) {
			cm.Data[CorruptStateDataKey] = cm.Data[StateDataKey]
		}
		cm.Data[StateDataKey] = string(data)
		_, err = api.Update(ctx, cm, metav1.UpdateOptions{}) // cm carries the read's resourceVersion
	}
	switch {
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		return fmt.Errorf("update state in configmap %s/%s: %w: %w", c.Namespace, c.Name, ErrStateConflict, err)
	case err != nil:
		return fmt.Errorf("update state in configmap %s/%s: %w", c.Namespace, c.Name, err)
	}
	return nil
}

func decodeState(cm *corev1.ConfigMap, ns, name string) (State, error) {
	s := State{Pods: map[string]PodState{}}
	raw, ok := cm.Data[StateDataKey]
	if !ok || raw == "" {
		return s, nil
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return State{Pods: map[string]PodState{}}, fmt.Errorf("load state from configmap %s/%s key %s: %w: %w", ns, name, StateDataKey, ErrStateCorrupt, err)
	}
	if s.Pods == nil {
		s.Pods = map[string]PodState{}
	}
	return s, nil
}
