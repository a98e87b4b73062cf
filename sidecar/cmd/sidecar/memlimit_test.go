package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: the container's limit gives the runtime a soft limit
// of memoryLimitShare of it; "max", a missing file or GOMEMLIMIT leave the
// runtime's as it is.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	dir := t.TempDir() // holds no memory.max
	write := func(s string) string {
		p := filepath.Join(t.TempDir(), "memory.max")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noEnv := func(string) string { return "" }
	if got := setMemoryLimit(write("268435456\n"), noEnv); got != 241591910 || debug.SetMemoryLimit(-1) != got {
		t.Errorf("256 MiB container: soft limit %d (runtime %d), want 241591910", got, debug.SetMemoryLimit(-1))
	}
	debug.SetMemoryLimit(math.MaxInt64)
	for _, c := range []struct {
		name string
		path string
		env  func(string) string
	}{
		{"no limit", write("max\n"), noEnv},
		{"no cgroup", filepath.Join(dir, "memory.max"), noEnv},
		{"GOMEMLIMIT", write("268435456\n"), func(k string) string { return map[string]string{"GOMEMLIMIT": "100MiB"}[k] }},
	} {
		if got := setMemoryLimit(c.path, c.env); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
			t.Errorf("%s: set %d", c.name, got)
		}
	}
}
