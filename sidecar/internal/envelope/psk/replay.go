package psk

import (
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/replay"
)

// ReplayCache is the replay store [OpenRequest] records accepted requests
// in: the sidecar's one replay interface, [replay.Store]. A request is
// recorded in the partition [ReplayPartition] of its key ID under its salt
// and nonce, until its timestamp plus the window plus one second.
type ReplayCache = replay.Store

// MemoryReplayCache is the in-process [ReplayCache], [replay.Memory].
type MemoryReplayCache = replay.Memory

// DefaultReplayCacheSize is the capacity used by [NewMemoryReplayCache] when
// given a non-positive size.
const DefaultReplayCacheSize = replay.DefaultCapacity

// NewMemoryReplayCache returns an in-process store holding at most
// maxEntries unexpired records (non-positive means
// [DefaultReplayCacheSize]), in one partition's share. now is the clock;
// nil means time.Now. Use [replay.NewMemory] to share it fairly between
// several key IDs.
func NewMemoryReplayCache(maxEntries int, now func() time.Time) *MemoryReplayCache {
	return replay.NewMemory(replay.MemoryOptions{Capacity: maxEntries, Now: now})
}

// ReplayPartition returns the replay store partition of a key ID: each
// tenant's requests are counted against its own share.
func ReplayPartition(keyID string) string { return "psk:" + keyID }
