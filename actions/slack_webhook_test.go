package actions

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/hungserver"
)

func TestWebhookNotifier(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, body)
		w.WriteHeader(status)
	}))
	defer srv.Close()

	n := &WebhookNotifier{URL: srv.URL, GrafanaURL: "https://grafana.example.com"}
	r := miner("team-a", "job")
	f := Finding{Kind: FindingDetected, Pod: r.PodKey, Node: "node-a", Strikes: 1, Report: r}
	ts, err := n.Notify(context.Background(), f)
	if err != nil || ts == "" {
		t.Fatalf("Notify = %q, %v; want a thread stand-in so later events are posted", ts, err)
	}
	f.Kind, f.ThreadTS, f.Action = FindingDeleted, ts, "delete: strike 2 of 2"
	if _, err := n.Notify(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d webhook posts, want 2", len(got))
	}
	blocks, _ := json.Marshal(got[0]["blocks"])
	if !strings.Contains(string(blocks), "GPU miner suspected: team-a/job") || !strings.Contains(string(blocks), "var-pod=job") {
		t.Errorf("first post lacks the finding's blocks: %s", blocks)
	}
	if text, _ := got[1]["text"].(string); !strings.HasPrefix(text, "Update on team-a/job: Deleted pod") {
		t.Errorf("reply text %q: want a new message naming the pod", text)
	}
	if _, threaded := got[1]["thread_ts"]; threaded {
		t.Error("webhook post carries thread_ts: incoming webhooks cannot thread")
	}

	status = http.StatusInternalServerError
	if _, err := n.Notify(context.Background(), f); err == nil {
		t.Fatal("a failed webhook post was reported as sent: the finding would be lost")
	}
}

// A webhook that never answers fails the post after the client's timeout,
// and the error (which is logged) does not carry the webhook URL's secret
// path.
func TestWebhookHungFailsWithoutLeakingTheURL(t *testing.T) {
	const secret = "T0/B0/hook-secret-42"
	hung := hungserver.Start(t)
	w := &WebhookNotifier{URL: hung.URL + "/services/" + secret, Client: &http.Client{Timeout: time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := w.Notify(ctx, Finding{Kind: FindingDetected, Pod: key("team-a", "p")})
	if ctx.Err() != nil {
		t.Fatal("the post hung until the test's context ended")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a client timeout", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the webhook URL: %v", err)
	}
}
