package actions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func sampleState() State {
	return states(map[string]PodState{
		"team-a/job": {Strikes: 2, Notified: true, FirstSeen: t0, LastSeen: t0.Add(5 * time.Minute), SlackTS: "1714561200.000100"},
		"team-b/job": {Strikes: 1, Deleted: true},
	})
}

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	var m MemoryStore
	empty, err := m.Load(ctx)
	if err != nil || len(empty.Pods) != 0 {
		t.Fatalf("Load() of a new store = %v, %v; want empty", empty, err)
	}
	s := sampleState()
	if err := m.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Pods["team-a/job"] = PodState{} // the caller's map is not the stored one
	got, err := m.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pods["team-a/job"].Strikes != 2 || got.Pods["team-a/job"].SlackTS != "1714561200.000100" {
		t.Errorf("stored state changed through the caller's map: %+v", got.Pods["team-a/job"])
	}
	got.Pods["team-c/x"] = PodState{Strikes: 1}
	again, _ := m.Load(ctx)
	if _, ok := again.Pods["team-c/x"]; ok {
		t.Error("stored state changed through a loaded map")
	}
}

func TestConfigMapStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	store := ConfigMapStore{Client: client, Namespace: "miner-detector", Name: "miner-detector-state"}

	s, err := store.Load(ctx)
	if err != nil || s.Pods == nil || len(s.Pods) != 0 {
		t.Fatalf("Load() with no ConfigMap = %+v, %v; want an empty State", s, err)
	}

	want := sampleState()
	if err := store.Save(ctx, want); err != nil {
		t.Fatalf("first Save: %v", err)
	}
	cm, err := client.CoreV1().ConfigMaps("miner-detector").Get(ctx, "miner-detector-state", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("first Save did not create the ConfigMap: %v", err)
	}
	if !strings.Contains(cm.Data[StateDataKey], `"slackTS":"1714561200.000100"`) {
		t.Errorf("ConfigMap data %q lacks the Slack thread", cm.Data[StateDataKey])
	}

	got, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := got.Pods["team-a/job"], want.Pods["team-a/job"]; a.Strikes != b.Strikes || !a.Notified || a.SlackTS != b.SlackTS || !a.FirstSeen.Equal(b.FirstSeen) || !a.LastSeen.Equal(b.LastSeen) {
		t.Errorf("loaded %+v, want %+v", a, b)
	}
	if !got.Pods["team-b/job"].Deleted {
		t.Error("Deleted lost in the round trip")
	}

	// A second Save updates the same ConfigMap, keeping other keys.
	cm.Data["note"] = "kept"
	if _, err := client.CoreV1().ConfigMaps("miner-detector").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	client.ClearActions()
	if err := store.Save(ctx, states(map[string]PodState{"team-c/x": {Strikes: 1}})); err != nil {
		t.Fatalf("second Save: %v", err)
	}
	var verbs []string
	for _, a := range client.Actions() {
		verbs = append(verbs, a.GetVerb())
	}
	if strings.Join(verbs, ",") != "get,update" {
		t.Errorf("second Save made %v, want get then update", verbs)
	}
	got, _ = store.Load(ctx)
	if len(got.Pods) != 1 || got.Pods["team-c/x"].Strikes != 1 {
		t.Errorf("after second Save loaded %+v, want only team-c/x", got.Pods)
	}
	cm, _ = client.CoreV1().ConfigMaps("miner-detector").Get(ctx, "miner-detector-state", metav1.GetOptions{})
	if cm.Data["note"] != "kept" {
		t.Error("Save dropped another key of the ConfigMap")
	}
}

func TestConfigMapStoreErrors(t *testing.T) {
	ctx := context.Background()

	corrupt := fake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "md", Name: "state"},
		Data:       map[string]string{StateDataKey: "{not json"},
	})
	corruptStore := ConfigMapStore{Client: corrupt, Namespace: "md", Name: "state"}
	st, err := corruptStore.Load(ctx)
	if err == nil || !strings.Contains(err.Error(), "configmap md/state key state.json") || !errors.Is(err, ErrStateCorrupt) {
		t.Errorf("Load() of corrupt state = %v, want ErrStateCorrupt naming the ConfigMap and key", err)
	}
	if st.Pods == nil || len(st.Pods) != 0 {
		t.Errorf("Load() of corrupt state returned %+v, want an empty State to carry on from", st)
	}
	// Saving over it keeps the corrupt text for a post-mortem.
	if err := corruptStore.Save(ctx, sampleState()); err != nil {
		t.Fatal(err)
	}
	cm, _ := corrupt.CoreV1().ConfigMaps("md").Get(ctx, "state", metav1.GetOptions{})
	if cm.Data[CorruptStateDataKey] != "{not json" {
		t.Errorf("corrupt text not kept: %v", cm.Data)
	}
	if _, err := corruptStore.Load(ctx); err != nil {
		t.Errorf("Load() after Save = %v", err)
	}

	forbidden := fake.NewClientset()
	denied := errors.New("configmaps is forbidden")
	forbidden.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, denied
	})
	store := ConfigMapStore{Client: forbidden, Namespace: "md", Name: "state"}
	if _, err := store.Load(ctx); !errors.Is(err, denied) || !strings.Contains(err.Error(), "md/state") {
		t.Errorf("Load() = %v, want the API error wrapped with the ConfigMap's name", err)
	}
	if err := store.Save(ctx, sampleState()); !errors.Is(err, denied) {
		t.Errorf("Save() = %v, want the API error wrapped", err)
	}
}

// Update is a read-modify-write: a writer that creates the state between
// its read and its write makes it fail with ErrStateConflict instead of
// being overwritten. (The fake clientset does not check resourceVersion on
// update; the fault matrix proves that case on a real API server.)
func TestConfigMapStoreUpdateConflicts(t *testing.T) {
	ctx := context.Background()
	store := ConfigMapStore{Client: fake.NewClientset(), Namespace: "md", Name: "state"}
	for _, when := range []string{"create"} {
		err := store.Update(ctx, func(s State) (State, error) {
			if err := store.Save(ctx, sampleState()); err != nil { // the other replica
				t.Fatal(err)
			}
			s.LastTick = time.Unix(1, 0)
			return s, nil
		})
		if !errors.Is(err, ErrStateConflict) {
			t.Errorf("%s: Update after a concurrent write = %v, want ErrStateConflict", when, err)
		}
	}
	if err := store.Update(ctx, func(s State) (State, error) { s.LastTick = time.Unix(2, 0); return s, nil }); err != nil {
		t.Fatal(err)
	}
	if st, _ := store.Load(ctx); !st.LastTick.Equal(time.Unix(2, 0)) || len(st.Pods) == 0 {
		t.Errorf("state after Update = %+v, want the concurrent writer's pods and the new tick", st)
	}
}
