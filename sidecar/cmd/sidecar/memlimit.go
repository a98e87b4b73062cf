package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryMax is the cgroup v2 file holding the container's memory
// limit ("max" when there is none).
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// memoryLimitShare is the part of the container's memory limit given to the
// Go runtime as its soft limit: the rest is for what the runtime does not
// count (thread stacks, the binary) and for the moment the collector needs.
const memoryLimitShare = 0.9

// setMemoryLimit gives the Go runtime a soft memory limit of
// memoryLimitShare of the container's limit (read from path), unless
// GOMEMLIMIT is set (the runtime has read it then) or there is no limit.
// The request bodies the sidecar drops (buffers over 4 MiB, OHTTP
// plaintexts; zeroed, see README "Slots and memory") are then collected
// before the heap's growth reaches the container's limit, instead of at
// GOGC's doubling of the live heap. It returns the limit set, or 0.
func setMemoryLimit(path string, getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || limit <= 0 { // "max": no limit
		return 0
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft
}
