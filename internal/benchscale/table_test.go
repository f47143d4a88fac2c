package benchscale

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTableAndClosingLine(t *testing.T) {
	rows := []Row{
		{Case: "1h all families", GPUs: 1000, Window: time.Hour, Families: 17,
			Cycle: Cycle{Wall: 9 * time.Second, MaxRSSBytes: 100 << 20}, Floor: Floor{Wall: 600 * time.Millisecond}},
		{Case: "1h all families", GPUs: 10000, Window: time.Hour, Families: 17,
			Cycle: Cycle{Wall: 91500 * time.Millisecond, MaxRSSBytes: 1100<<20 + 300<<10, Received: 418_000_000, OutputBytes: 80_123_456,
				Query: Query{Queries: 65, PeakSamples: 1234567}},
			Floor: Floor{Wall: 5 * time.Second}},
		{Case: "24h util", GPUs: 10000, Window: 24 * time.Hour, Families: 1, Util: true,
			Cycle: Cycle{Wall: 50 * time.Second, MaxRSSBytes: 1700 << 20}, Floor: Floor{Wall: 3700 * time.Millisecond}},
	}
	if got, want := ClosingLine(rows), "bench: 10000 GPUs: 1h 17 signals 18.3x floor 1100 MiB; 24h util 13.5x floor 1700 MiB"; got != want {
		t.Errorf("ClosingLine:\n got %q\nwant %q", got, want)
	}
	var b strings.Builder
	if err := WriteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	if want := "| 1h all families | 10000 | 1h | 17 | 91.50 s | 65 | 1234567 | 418.0 MB | 1100 | 5.00 s | 18.3x | 80.1 MB |"; lines[3] != want {
		t.Errorf("row:\n got %s\nwant %s", lines[3], want)
	}

	rows[2].Cycle.Err = errors.New("exit status 1")
	if got, want := ClosingLine(rows), "bench: 10000 GPUs: 1h 17 signals 18.3x floor 1100 MiB; 24h util failed"; got != want {
		t.Errorf("ClosingLine with a failure:\n got %q\nwant %q", got, want)
	}
	if got, want := ClosingLine(rows[:1]), "bench: 1000 GPUs: 1h 17 signals 15.0x floor 100 MiB; 24h util not run"; got != want {
		t.Errorf("ClosingLine, 1k only:\n got %q\nwant %q", got, want)
	}
}

func TestDecodeQuery(t *testing.T) {
	doc := `{"at":"x","pods":[{"namespace":"a","gpus":[{"gpu":"0","query":{"queries":99}}]},{"b":[1,2,{"c":null}]}],
	"warnings":[],"query":{"range_semantics":"closed","series":12,"queries":5,"peak_samples":7056,"rereads":0},"actions":[]}`
	q, err := decodeQuery(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Query{Semantics: "closed", Series: 12, Queries: 5, PeakSamples: 7056}); q != want {
		t.Errorf("got %+v, want %+v", q, want)
	}
	if _, err := decodeQuery(strings.NewReader(`{"pods":[]}`)); err == nil {
		t.Error("no query object: no error")
	}
}
