package cycle_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The table and JSON outputs of a dry-run cycle over the simulated fleet are
// golden files: a change to what SREs read (or tools parse) shows in review.
func TestOutputGolden(t *testing.T) {
	cfg := config.Default()
	cfg.Prometheus.URL = "http://unused.invalid"
	c, err := cycle.New(cfg, cycle.Deps{API: fleetPrometheus(t)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	var table, js bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, "scan.table.golden", table.Bytes())
	golden(t, "scan.json.golden", js.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/cycle -update to accept):\n%s", name, got)
	}
}
