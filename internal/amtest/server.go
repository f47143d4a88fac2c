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
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running Alertmanager.
type Server struct {
	URL string // "http://127.0.0.1:<port>"
}

// ReadyTimeout bounds how long Start waits for /-/ready.
const ReadyTimeout = 30 * time.Second

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
	var lastErr error
	// The free port is found by binding and releasing it; another process
	// may take it in between, so try a few ports.
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := freeAddr()
		if err != nil {
			t.Fatalf("amtest: %v", err)
		}
		args := []string{
			"--config.file=" + configFile,
			"--storage.path=" + filepath.Join(dir, fmt.Sprintf("data-%d", attempt)),
			"--web.listen-address=" + addr,
			"--cluster.listen-address=", // no gossip: one standalone server
		}
		s, err := run(t, binary, args, addr, filepath.Join(dir, fmt.Sprintf("alertmanager-%d.log", attempt)))
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("amtest: %v", lastErr)
	return nil
}

func run(t testing.TB, binary string, args []string, addr, logFile string) (*Server, error) {
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child holds its own descriptor
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { stop(cmd, exited) })

	s := &Server{URL: "http://" + addr}
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(ReadyTimeout)
	for {
		select {
		case err := <-exited:
			exited <- err // for stop
			return nil, fmt.Errorf("alertmanager exited before it was ready (%v); its log:\n%s", err, readLog(logFile))
		default:
		}
		if resp, err := client.Get(s.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("alertmanager not ready after %v; its log:\n%s", ReadyTimeout, readLog(logFile))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop asks alertmanager to shut down cleanly, and kills it after 10 s.
func stop(cmd *exec.Cmd, exited chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return string(b)
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

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
