package cycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/golden"
)

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
	c.Analyzer.AllCurves = true
	resAll, err := c.Run(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	var table, all, js, jsAll bytes.Buffer
	if err := res.WriteTable(&table, cycle.View{}); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteTable(&all, cycle.View{AllPods: true}); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteJSON(&js, cycle.View{}); err != nil {
		t.Fatal(err)
	}
	if err := resAll.WriteJSON(&jsAll, cycle.View{AllCurves: true}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "scan.table.golden", table.Bytes())
	golden.Check(t, "scan-all.table.golden", all.Bytes())
	golden.Check(t, "scan.json.golden", indented(t, js.Bytes()))
	golden.Check(t, "scan-all-curves.json.golden", indented(t, jsAll.Bytes()))
}

// indented checks that WriteJSON wrote one line of valid JSON and indents it
// for the golden file, where a reviewer reads it.
func indented(t *testing.T, compact []byte) []byte {
	t.Helper()
	if n := bytes.Count(compact, []byte("\n")); n != 1 || !bytes.HasSuffix(compact, []byte("\n")) {
		t.Errorf("JSON output is %d lines, want one", n)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		t.Fatalf("JSON output does not parse: %v", err)
	}
	return append(out.Bytes(), '\n')
}

// The default JSON view keeps a finding's GPUs whole and leaves out a benign
// GPU's per-signal numbers; --curves all keeps every GPU's.
func TestJSONViewLeavesOutBenignSignalNumbers(t *testing.T) {
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
	count := func(v cycle.View) (findingGPUs, findingWithSignals, benignGPUs, benignWithSignals int) {
		doc := res.JSONView(v)
		for _, p := range doc.Pods {
			for _, g := range p.GPUs {
				if p.Verdict == "benign" {
					benignGPUs++
					if len(g.Signals) > 0 {
						benignWithSignals++
					}
					continue
				}
				findingGPUs++
				if len(g.Signals) > 0 {
					findingWithSignals++
				}
			}
		}
		for _, g := range doc.UnattributedGPUs {
			if g.Verdict == "benign" && len(g.Signals) > 0 {
				benignWithSignals++
			}
		}
		return
	}
	fg, fs, bg, bs := count(cycle.View{})
	if fg == 0 || bg == 0 {
		t.Fatalf("fleet has %d finding and %d benign GPUs, want both", fg, bg)
	}
	if fs == 0 {
		t.Errorf("default view: no finding GPU carries its signal numbers")
	}
	if bs != 0 {
		t.Errorf("default view: %d benign GPUs carry signal numbers, want 0", bs)
	}
	_, fsAll, _, bsAll := count(cycle.View{AllCurves: true})
	if fsAll != fs || bsAll == 0 {
		t.Errorf("--curves all: %d finding and %d benign GPUs carry signal numbers, want %d and more than 0", fsAll, bsAll, fs)
	}
}
