package counters

import (
	"os"
	"strings"
	"testing"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/promquery"
)

// Every signal the detector reads by default is in the recommended file,
// under the metric name the reader queries.
func TestRecommendedCoversEverySignal(t *testing.T) {
	metrics := promquery.DefaultProfilingMetrics()
	for _, sig := range analyzer.ProfilingSignals() {
		f, ok := For(sig)
		if !ok {
			t.Errorf("%s: not in the recommended counters", sig)
			continue
		}
		if f.Name != metrics[sig] {
			t.Errorf("%s: recommended field %s, the reader queries %s", sig, f.Name, metrics[sig])
		}
		if f.Adds == "" {
			t.Errorf("%s: the recommendation does not say what it adds", sig)
		}
	}
}

// The file parses as dcgm-exporter reads it: three comma-separated fields,
// no duplicate field.
func TestCSVIsACountersFile(t *testing.T) {
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(CSV()), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ",", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[0], "DCGM_FI_") {
			t.Errorf("not a counters line: %q", line)
			continue
		}
		switch strings.TrimSpace(parts[1]) {
		case "gauge", "counter", "label":
		default:
			t.Errorf("%s: type %q", parts[0], parts[1])
		}
		if seen[parts[0]] {
			t.Errorf("%s twice", parts[0])
		}
		seen[parts[0]] = true
	}
}

// The Helm chart ships exactly this file.
func TestChartShipsTheRecommendedFile(t *testing.T) {
	b, err := os.ReadFile("../../deploy/helm/miner-detector/files/dcgm-counters.csv")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != CSV() {
		t.Errorf("deploy/helm/miner-detector/files/dcgm-counters.csv differs from counters.CSV(); regenerate it:\n%s", CSV())
	}
}
