package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the share of the container's memory limit the Go
// runtime is asked to stay under: the rest is headroom for what the
// runtime does not count (stacks, fragmentation) before the kernel's
// OOM killer acts. At 10,000 GPUs a cycle's heap grows in bursts (decoding
// answers, encoding the report); without a limit the collector lets it
// reach twice the live heap.
const memoryLimitShare = 0.8

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// noCgroupLimit is what cgroup v1 reports for "no limit" (and anything
// above it is as good as none).
const noCgroupLimit = 1 << 62

// memoryLimit is the soft memory limit for the Go runtime: none when
// GOMEMLIMIT is set (the runtime reads it itself), else memoryLimitShare
// of the container's cgroup memory limit; 0 when there is no limit. why
// says where it came from, for the start-up log.
func memoryLimit(getenv func(string) string, readFile func(string) ([]byte, error)) (limit int64, why string, err error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		return 0, "GOMEMLIMIT=" + v, nil
	}
	for _, path := range cgroupMemoryFiles {
		b, err := readFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, "", fmt.Errorf("read container memory limit %s: %w", path, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, path + ": no limit", nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, "", fmt.Errorf("read container memory limit %s: %q is not a number of bytes: %w", path, s, err)
		}
		if n <= 0 || n >= noCgroupLimit {
			return 0, path + ": no limit", nil
		}
		return int64(float64(n) * memoryLimitShare), fmt.Sprintf("%.0f%% of %s (%d bytes)", 100*memoryLimitShare, path, n), nil
	}
	return 0, "no cgroup memory limit found", nil
}

// applyMemoryLimit sets the runtime's soft memory limit from the container's
// and returns what it did, for the start-up log.
func applyMemoryLimit() (int64, string, error) {
	limit, why, err := memoryLimit(os.Getenv, os.ReadFile)
	if err != nil || limit <= 0 {
		return 0, why, err
	}
	debug.SetMemoryLimit(limit)
	return limit, why, nil
}
