package main

import (
	"io/fs"
	"strings"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if v, ok := m[p]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	none := func(string) string { return "" }
	for _, c := range []struct {
		name    string
		env     string
		files   map[string]string
		want    int64
		why     string
		wantErr string
	}{
		{"cgroup v2 limit", "", map[string]string{"/sys/fs/cgroup/memory.max": "536870912\n"}, 429496729, "80% of /sys/fs/cgroup/memory.max", ""},
		{"cgroup v2 without a limit", "", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0, "no limit", ""},
		{"cgroup v1 limit", "", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824"}, 858993459, "80% of /sys/fs/cgroup/memory/memory.limit_in_bytes", ""},
		{"cgroup v1 unlimited", "", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, "no limit", ""},
		{"GOMEMLIMIT wins", "300MiB", map[string]string{"/sys/fs/cgroup/memory.max": "536870912"}, 0, "GOMEMLIMIT=300MiB", ""},
		{"no cgroup", "", nil, 0, "no cgroup memory limit found", ""},
		{"garbage", "", map[string]string{"/sys/fs/cgroup/memory.max": "lots"}, 0, "", `"lots" is not a number of bytes`},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := none
			if c.env != "" {
				env = func(k string) string {
					if k == "GOMEMLIMIT" {
						return c.env
					}
					return ""
				}
			}
			got, why, err := memoryLimit(env, files(c.files))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want || !strings.Contains(why, c.why) {
				t.Errorf("memoryLimit = %d, %q, %v; want %d, %q", got, why, err, c.want, c.why)
			}
		})
	}
}
