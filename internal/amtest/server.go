// Package amtest starts a real Alertmanager (Debian's
// `prometheus-alertmanager` package, 0.25) on 127.0.0.1 for tests, with a
// configuration given as YAML. Clustering is off; storage lives in the
// test's temporary directory; the server is stopped when the test ends.
//
// A missing binary fails the test with the command that installs it; it
// never skips.
package amtest

import (
	"fmt"
	"github.com/miner-detector/miner-detector/internal/testserver"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Server is a running Alertmanager.
type Server struct {
	URL string // "http://127.0.0.1:<port>"
}

// InstallHint says how to get the binary.
const InstallHint = "install Debian's Alertmanager with `apt-get install -y prometheus-alertmanager` " +
	"(it provides prometheus-alertmanager and amtool), or run `make deps`"

// Start writes configYAML, checks it with the server itself and serves it
// on a free loopback port until the test ends. Any failure is fatal.
func Start(t testing.TB, configYAML string) *Server {
	t.Helper()
	binary, err := find("prometheus-alertmanager", "alertmanager")
	if err != nil {
		t.Fatalf("amtest: %v", err)
	}
	dir := t.TempDir()
	configFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configFile, []byte(configYAML), 0o600); err != nil {
		t.Fatalf("amtest: write config: %v", err)
	}
	url, err := testserver.Run(t, "alertmanager", binary, dir, func(addr string) []string {
		return []string{
			"--config.file=" + configFile,
			"--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--cluster.listen-address=", // no gossip: one standalone server
		}
	})
	if err != nil {
		t.Fatalf("amtest: %v", err)
	}
	return &Server{URL: url}
}

// find looks for the first of names on PATH, then in /usr/bin.
func find(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		if fi, err := os.Stat(filepath.Join("/usr/bin", n)); err == nil && fi.Mode()&0o111 != 0 {
			return filepath.Join("/usr/bin", n), nil
		}
	}
	return "", fmt.Errorf("none of %v found on PATH nor in /usr/bin: %s", names, InstallHint)
}
