// Package testserver runs a real server binary (Prometheus, Alertmanager) on
// a free loopback port for the length of a test. It knows how to start, wait
// for and stop a server; promtest and amtest know what to start.
package testserver

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

// ReadyTimeout bounds how long Run waits for /-/ready.
const ReadyTimeout = 60 * time.Second

// Run starts binary with the flags args(addr) on a free 127.0.0.1 address,
// waits until GET /-/ready answers 200, and stops the server when the test
// ends (SIGTERM, killed after 10 s). The free port is found by binding and
// releasing it, so another process may take it in between: then another port
// is tried. The server's output goes to a log file in dir, quoted in errors.
// It returns the server's base URL.
func Run(t testing.TB, name, binary, dir string, args func(addr string) []string) (string, error) {
	var lastErr error
	for attempt := range 3 {
		addr, err := freeAddr()
		if err != nil {
			return "", err
		}
		logFile := filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, attempt))
		url, err := run(t, name, binary, args(addr), addr, logFile)
		if err == nil {
			return url, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return "", lastErr
}

func run(t testing.TB, name, binary string, args []string, addr, logFile string) (string, error) {
	exited, err := Process(t, logFile, binary, args...)
	if err != nil {
		return "", err
	}
	url := "http://" + addr
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(ReadyTimeout)
	for {
		select {
		case <-exited:
			return "", fmt.Errorf("%s exited before it was ready; its log:\n%s", name, readLog(logFile))
		default:
		}
		if resp, err := client.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s not ready after %v; its log:\n%s", name, ReadyTimeout, readLog(logFile))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Process starts binary with args, its output going to logFile, and stops it
// when the test ends: SIGTERM, then SIGKILL after 10 s. The channel closes
// when the process exits.
func Process(t testing.TB, logFile, binary string, args ...string) (<-chan struct{}, error) {
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return exited, nil
}

func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return string(b)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
