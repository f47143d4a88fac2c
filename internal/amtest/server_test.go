package amtest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/miner-detector/miner-detector/internal/amtest"
)

const config = `route:
  receiver: blackhole
receivers:
  - name: blackhole
`

func TestStartServesTheGivenConfig(t *testing.T) {
	s := amtest.Start(t, config)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %q is not on 127.0.0.1", s.URL)
	}
	resp, err := http.Get(s.URL + "/api/v2/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var status struct {
		Config struct {
			Original string `json:"original"`
		} `json:"config"`
		VersionInfo struct {
			Version string `json:"version"`
		} `json:"versionInfo"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status.Config.Original, "blackhole") {
		t.Errorf("running config does not hold the given receiver:\n%s", status.Config.Original)
	}
	if status.VersionInfo.Version == "" {
		t.Error("no version in /api/v2/status")
	}
}
