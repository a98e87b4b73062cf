// Package bodybuf lends the buffers that hold request bodies in memory.
//
// A 1 MiB body read into a fresh allocation costs more here than decrypting
// it: the runtime faults in and zeroes new pages (on this project's 2-vCPU
// test machine a fresh 1 MiB buffer costs 0.6–0.8 ms, the AES-GCM pass over
// it 0.3 ms), and the garbage collector runs every few requests. A Pool
// keeps buffers between requests instead.
//
// Sizes are rounded up to one of four classes per power of two (2^k,
// 1.25·2^k, 1.5·2^k, 1.75·2^k), from 32 KiB to 4 MiB, so the unused tail of
// a buffer is less than a quarter of the body's size (a fifth of the
// buffer's, at the worst just above 2^k); smaller and larger bodies get exact, plain
// allocations. At most MaxIdle bytes of buffers wait in the pool; beyond it
// a returned buffer is left to the garbage collector. The memory in use is
// bounded by the caller (the server's byte budget), not here.
//
// A buffer holds plaintext once a request is opened in place, so Put clears
// it before it goes back: an idle buffer is all zeros, and Get returns
// zeroed memory like make.
package bodybuf

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

const (
	minShift = 15 // 32 KiB, the smallest pooled buffer
	maxShift = 22 // 4 MiB, the largest
	steps    = 4  // classes per power of two
	nClasses = (maxShift-minShift)*steps + 1
)

// DefaultMaxIdle is the bound on idle pooled bytes when New is given 0.
const DefaultMaxIdle = 16 << 20

// Pool lends byte slices. A nil *Pool allocates every buffer and keeps
// none.
type Pool struct {
	maxIdle int64
	idle    atomic.Int64
	once    sync.Once
	free    [nClasses]chan []byte
}

// New returns a pool that keeps at most maxIdle bytes of idle buffers
// (DefaultMaxIdle when maxIdle is 0).
func New(maxIdle int64) *Pool {
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdle
	}
	return &Pool{maxIdle: maxIdle}
}

func (p *Pool) init() {
	p.once.Do(func() {
		for c := range p.free {
			// Enough room for maxIdle bytes of this class alone.
			p.free[c] = make(chan []byte, p.maxIdle/int64(classSize(c))+1)
		}
	})
}

// classSize is the capacity of the buffers of class c.
func classSize(c int) int {
	if c == 0 {
		return 1 << minShift
	}
	e := minShift + (c-1)/steps // 2^e < size ≤ 2^(e+1)
	k := (c-1)%steps + 1
	return 1<<e + k<<(e-2)
}

// class returns the smallest class that holds n bytes, and false when n is
// not pooled (under 16 KiB or over 4 MiB).
func class(n int) (int, bool) {
	if n < 1<<(minShift-1) || n > 1<<maxShift {
		return 0, false
	}
	if n <= 1<<minShift {
		return 0, true
	}
	e := bits.Len(uint(n-1)) - 1 // 2^e < n ≤ 2^(e+1)
	step := 1 << (e - 2)
	k := (n - 1<<e + step - 1) / step // 1..4
	return (e-minShift)*steps + k, true
}

// Get returns a zeroed slice of length n; its capacity is n rounded up to
// its class.
func (p *Pool) Get(n int) []byte {
	c, ok := class(n)
	if p == nil || !ok {
		return make([]byte, n)
	}
	p.init()
	select {
	case b := <-p.free[c]:
		p.idle.Add(-int64(cap(b)))
		return b[:n]
	default:
		return make([]byte, n, classSize(c))
	}
}

// Put clears b[:len(b)] and keeps b for a later Get. b must come from Get
// and its length must cover every byte written since (reslice it no
// shorter); nothing may use b afterwards. A slice of another capacity, or
// one over the idle bound, is cleared too and left to the garbage
// collector.
func (p *Pool) Put(b []byte) {
	clear(b) // every buffer, pooled or not: it may hold plaintext
	c, ok := class(cap(b))
	if p == nil || !ok || cap(b) != classSize(c) {
		return
	}
	p.init()
	if p.idle.Add(int64(cap(b))) > p.maxIdle {
		p.idle.Add(-int64(cap(b)))
		return
	}
	select {
	case p.free[c] <- b[:0]:
	default:
		p.idle.Add(-int64(cap(b)))
	}
}

// idleBytes returns the bytes of buffers waiting in the pool.
func (p *Pool) idleBytes() int64 {
	if p == nil {
		return 0
	}
	return p.idle.Load()
}
