package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The README's configuration block is the defaults, every field: a user who
// copies it changes nothing but the Prometheus URL.
func TestREADMEConfigIsTheDefault(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "## Configuration\n")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README's Configuration section has no yaml block")
	}
	got := Default()
	if err := Parse([]byte(block), &got); err != nil {
		t.Fatalf("README config block does not parse: %v", err)
	}
	want := Default()
	want.Prometheus.URL = got.Prometheus.URL
	// Printed, an empty list and a missing one are the same, as they are
	// to the detector.
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("README config block differs from Default():\n got %+v\nwant %+v", got, want)
	}
	// Every rule threshold is spelled out: parsed over no rules at all, the
	// block still gives the default rules.
	bare := Default()
	bare.Rules = Rules{}
	if err := Parse([]byte(block), &bare); err != nil {
		t.Fatal(err)
	}
	if bare.Rules != want.Rules {
		t.Errorf("README config block leaves rule thresholds out:\n got %+v\nwant %+v", bare.Rules, want.Rules)
	}
}
