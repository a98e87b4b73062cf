package psk

import (
	"container/heap"
	"crypto/sha256"
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
//
// Entries hold no pointers (a SHA-256 of key ID and nonce, and an expiry in
// Unix nanoseconds), so a large cache costs the garbage collector nothing to
// scan.
type MemoryReplayCache struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[[sha256.Size]byte]int64
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
	return &MemoryReplayCache{max: maxEntries, now: now, entries: make(map[[sha256.Size]byte]int64)}
}

// Seen implements [ReplayCache]. A pair whose expiry has already passed is
// neither recorded nor reported as seen.
func (c *MemoryReplayCache) Seen(keyID string, nonce []byte, expiry time.Time) bool {
	h := sha256.New()
	h.Write([]byte{byte(len(keyID))})
	h.Write([]byte(keyID))
	h.Write(nonce)
	var key [sha256.Size]byte
	h.Sum(key[:0])

	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now().UnixNano()
	for len(c.order) > 0 && c.order[0].expiry <= now {
		e := heap.Pop(&c.order).(entry)
		delete(c.entries, e.key)
	}
	if _, ok := c.entries[key]; ok {
		return true
	}
	exp := expiry.UnixNano()
	if exp <= now {
		return false
	}
	if len(c.entries) >= c.max {
		return true
	}
	c.entries[key] = exp
	heap.Push(&c.order, entry{key: key, expiry: exp})
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
	key    [sha256.Size]byte
	expiry int64 // Unix nanoseconds
}

// expiryHeap is a min-heap of entries by expiry.
type expiryHeap []entry

// Len implements heap.Interface.
func (h expiryHeap) Len() int { return len(h) }

// Less implements heap.Interface: earliest expiry first.
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry < h[j].expiry }

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
