package config

import (
	"os"
	"strings"
	"testing"
)

// The configuration documented in the README is valid as written: every key
// exists, every value parses.
func TestREADMEConfigurationParses(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i := strings.Index(doc, "```yaml\nprometheus:")
	if i < 0 {
		t.Fatal("README lacks the configuration block (```yaml starting with prometheus:)")
	}
	block := doc[i+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	c := Default()
	if err := Parse([]byte(block), &c); err != nil {
		t.Fatalf("README configuration: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("README configuration: %v", err)
	}
	if !c.Query.ReadProfiling || !c.Rules.TrainingVeto.Enabled || c.LeaderElection.LeaseName == "" {
		t.Errorf("README configuration lost a documented default: %+v", c)
	}
}
