package replay

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"
)

// DefaultCapacity is the capacity of a [Memory] store given a non-positive
// one.
const DefaultCapacity = 1 << 20

// MemoryOptions configure a [Memory] store.
type MemoryOptions struct {
	// Capacity bounds the number of unexpired records (non-positive means
	// DefaultCapacity).
	Capacity int
	// Partitions returns the number of partitions expected to share the
	// store (for the sidecar: one per PSK key ID, plus one for OHTTP). Each
	// partition may hold at most Capacity / max(Partitions(), the number
	// of partitions holding records counting the one that asks), and at
	// least one record, so that a partition that floods the store is
	// refused on its own while the others keep their share. nil means 1.
	Partitions func() int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Memory is a bounded in-process [Store]. When a partition is at its quota,
// or the store at its capacity, Seen returns [ErrFull] rather than
// forgetting unexpired records: a full store causes refusals, never an
// accepted replay. It is safe for concurrent use.
//
// Records hold no pointers (a SHA-256 digest, an expiry in Unix nanoseconds
// and a partition index), so a large store costs the garbage collector
// nothing to scan.
type Memory struct {
	mu         sync.Mutex
	capacity   int
	partitions func() int
	now        func() time.Time
	entries    map[[sha256.Size]byte]int64
	order      expiryHeap
	parts      []part           // by index; n == 0 means free
	byName     map[string]int32 // partitions holding records
	free       []int32
}

type part struct {
	name string
	n    int
}

// NewMemory returns an empty store.
func NewMemory(o MemoryOptions) *Memory {
	if o.Capacity <= 0 {
		o.Capacity = DefaultCapacity
	}
	if o.Partitions == nil {
		o.Partitions = func() int { return 1 }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{capacity: o.Capacity, partitions: o.Partitions, now: o.Now,
		entries: make(map[[sha256.Size]byte]int64), byName: make(map[string]int32)}
}

// Seen implements [Store]. It never blocks on anything but its own lock and
// ignores ctx.
func (m *Memory) Seen(_ context.Context, partition string, key []byte, expiry time.Time) (bool, error) {
	d := Digest(partition, key)
	want := m.partitions()

	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UnixNano()
	m.expire(now)
	if _, ok := m.entries[d]; ok {
		return false, nil
	}
	exp := expiry.UnixNano()
	if exp <= now {
		return true, nil
	}
	idx, ok := m.byName[partition]
	live := len(m.byName)
	if !ok {
		live++
	}
	quota := m.capacity / max(want, live, 1)
	n := 0
	if ok {
		n = m.parts[idx].n
	}
	if n >= max(quota, 1) {
		return false, fmt.Errorf("%w: partition at its quota of %d", ErrFull, quota)
	}
	if len(m.entries) >= m.capacity {
		return false, fmt.Errorf("%w: capacity %d reached", ErrFull, m.capacity)
	}
	if !ok {
		idx = m.newPart(partition)
	}
	m.parts[idx].n++
	m.entries[d] = exp
	heap.Push(&m.order, entry{key: d, expiry: exp, part: idx})
	return true, nil
}

// expire drops the records whose expiry has passed.
func (m *Memory) expire(now int64) {
	for len(m.order) > 0 && m.order[0].expiry <= now {
		e := heap.Pop(&m.order).(entry)
		delete(m.entries, e.key)
		p := &m.parts[e.part]
		if p.n--; p.n == 0 {
			delete(m.byName, p.name)
			p.name = ""
			m.free = append(m.free, e.part)
		}
	}
}

func (m *Memory) newPart(name string) int32 {
	var idx int32
	if n := len(m.free); n > 0 {
		idx = m.free[n-1]
		m.free = m.free[:n-1]
		m.parts[idx] = part{name: name}
	} else {
		idx = int32(len(m.parts))
		m.parts = append(m.parts, part{name: name})
	}
	m.byName[name] = idx
	return idx
}

// Len returns the number of records held at the last call.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Capacity returns the bound on unexpired records.
func (m *Memory) Capacity() int { return m.capacity }

// entry is one record in expiry order.
type entry struct {
	key    [sha256.Size]byte
	expiry int64 // Unix nanoseconds
	part   int32
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
