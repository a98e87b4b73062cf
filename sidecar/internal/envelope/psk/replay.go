package psk

import (
	"container/heap"
	"sync"
	"time"
)

// ReplayCache remembers accepted requests until they expire. An
// implementation shared between sidecar replicas (for example in Redis) lets
// the window hold across the fleet.
type ReplayCache interface {
	// Seen records (keyID, nonce) until expiry and reports whether the pair
	// was already recorded and has not expired. An implementation that cannot
	// record an unexpired pair (full, or its store unreachable) must report
	// true, so that the request is refused rather than accepted without
	// protection. nonce must not be retained after Seen returns; copy it.
	Seen(keyID string, nonce []byte, expiry time.Time) bool
}

// DefaultReplayCacheSize is the capacity used by [NewMemoryReplayCache] when
// given a non-positive size.
const DefaultReplayCacheSize = 1 << 20

// MemoryReplayCache is a bounded in-memory [ReplayCache] for a single
// process. Entries are dropped once their expiry passes. When it is full it
// refuses new entries (Seen reports true) rather than forgetting unexpired
// ones, so a full cache causes refusals, never accepted replays. It is safe
// for concurrent use.
type MemoryReplayCache struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]time.Time
	order   expiryHeap
}

// NewMemoryReplayCache returns a cache holding at most maxEntries unexpired
// entries (non-positive means [DefaultReplayCacheSize]). now is the clock;
// nil means time.Now.
func NewMemoryReplayCache(maxEntries int, now func() time.Time) *MemoryReplayCache {
	if maxEntries <= 0 {
		maxEntries = DefaultReplayCacheSize
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryReplayCache{max: maxEntries, now: now, entries: make(map[string]time.Time)}
}

// Seen implements [ReplayCache]. A pair whose expiry has already passed is
// neither recorded nor reported as seen.
func (c *MemoryReplayCache) Seen(keyID string, nonce []byte, expiry time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for len(c.order) > 0 && !c.order[0].expiry.After(now) {
		e := heap.Pop(&c.order).(entry)
		delete(c.entries, e.key)
	}
	k := make([]byte, 0, 1+len(keyID)+len(nonce))
	k = append(k, byte(len(keyID)))
	k = append(k, keyID...)
	key := string(append(k, nonce...))
	if _, ok := c.entries[key]; ok {
		return true
	}
	if !expiry.After(now) {
		return false
	}
	if len(c.entries) >= c.max {
		return true
	}
	c.entries[key] = expiry
	heap.Push(&c.order, entry{key: key, expiry: expiry})
	return false
}

// Len returns the number of unexpired entries recorded at the last call.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// entry is one cache record in expiry order.
type entry struct {
	key    string
	expiry time.Time
}

// expiryHeap is a min-heap of entries by expiry.
type expiryHeap []entry

// Len implements heap.Interface.
func (h expiryHeap) Len() int { return len(h) }

// Less implements heap.Interface: earliest expiry first.
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry.Before(h[j].expiry) }

// Swap implements heap.Interface.
func (h expiryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push implements heap.Interface.
func (h *expiryHeap) Push(x any) { *h = append(*h, x.(entry)) }

// Pop implements heap.Interface.
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
