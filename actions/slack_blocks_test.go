package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miner-detector/miner-detector/analyzer"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The Block Kit message is a golden file: what an SRE reads in Slack changes
// only on purpose.
func TestSlackBlocksGolden(t *testing.T) {
	r := report("team-a", "job<x>",
		gpu("node-a", "0", analyzer.Miner),
		sharedWith(gpu("node-a", "1", analyzer.Benign), key("team-b", "notebook")))
	r.GPUs[0].Curve = []analyzer.ChunkMean{{Mean: 99}, {Mean: 100}, {Mean: 50}, {Mean: 0}, {Mean: 12.5}}
	cases := map[string]Finding{
		"blocks_detected": {Kind: FindingDetected, Pod: r.PodKey, Node: "node-a", Strikes: 2, Action: ReasonDryRun, Report: r},
		"blocks_deleted":  {Kind: FindingDeleted, Pod: r.PodKey, Node: "node-a", Action: "delete: strike 2 of 2", Report: r},
	}
	for name, f := range cases {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(slackBlocks(f, "https://grafana.example.com/")); err != nil {
			t.Fatal(err)
		}
		got := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		path := filepath.Join("testdata", name+".golden.json")
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./actions -run Golden -update creates it)", err)
		}
		if !bytes.Equal(append(got, '\n'), want) {
			t.Errorf("%s differs from %s (go test ./actions -run Golden -update to accept):\n%s", name, path, got)
		}
	}
}

func TestSparklineAndLink(t *testing.T) {
	if got := sparkline([]analyzer.ChunkMean{{Mean: 0}, {Mean: 49.9}, {Mean: 100}, {Mean: 150}, {Mean: -3}}); got != "▁▄██▁" {
		t.Errorf("sparkline = %q", got)
	}
	got := evidenceLink("https://g.example/", analyzer.PodKey{Namespace: "a b", Pod: "p&q"})
	if got != "https://g.example/d/miner-detector-evidence?var-namespace=a+b&var-pod=p%26q" {
		t.Errorf("link = %q", got)
	}
	if evidenceLink("", analyzer.PodKey{Namespace: "a", Pod: "b"}) != "" {
		t.Error("link without a Grafana URL")
	}
}

// Notify sends the blocks with the plain-text fallback.
func TestSlackNotifySendsBlocks(t *testing.T) {
	srv := newSlackServer(t)
	n := srv.notifier(t)
	n.GrafanaURL = "https://grafana.example.com"
	r := miner("team-a", "job")
	if _, err := n.Notify(context.Background(), Finding{Kind: FindingDetected, Pod: r.PodKey, Node: "node-a", Strikes: 1, Report: r}); err != nil {
		t.Fatal(err)
	}
	p := srv.Posts()[0]
	for _, want := range []string{`"type":"header"`, "GPU miner suspected: team-a/job", "var-pod=job", "mean 99.1%"} {
		if !strings.Contains(p.Blocks, want) {
			t.Errorf("blocks lack %q: %s", want, p.Blocks)
		}
	}
	if !strings.Contains(p.Text, "GPU miner suspected") {
		t.Errorf("no text fallback: %q", p.Text)
	}
}
