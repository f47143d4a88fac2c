package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildScript runs the repository's script (a path under the repository
// root, e.g. "scripts/build-victoria-metrics.sh") that builds a server
// binary from Go modules, or finds it cached, and returns what it prints:
// where the binary is. why says what needs it, for the error.
func BuildScript(script, why string) (string, error) {
	root, err := repoRoot(script)
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, script)
	var stderr bytes.Buffer
	cmd := exec.Command("bash", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s (%s): %w\n%s", path, why, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// repoRoot is the nearest directory above the working directory that holds
// script.
func repoRoot(script string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, script)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New(script + " not found above the working directory")
		}
		dir = parent
	}
}
