package bodybuf

import (
	"bytes"
	"testing"
)

func TestGetPut(t *testing.T) {
	p := New(0)
	for _, n := range []int{0, 1, 100, 16<<10 - 1, 16 << 10, 32 << 10, 32<<10 + 1, 1 << 20, 1<<20 + 74, 4 << 20, 4<<20 + 1, 9 << 20} {
		b := p.Get(n)
		if len(b) != n {
			t.Fatalf("Get(%d): len %d", n, len(b))
		}
		if !bytes.Equal(b, make([]byte, n)) {
			t.Fatalf("Get(%d): not zeroed", n)
		}
		for i := range b {
			b[i] = 0xa5
		}
		p.Put(b)
		// Whatever comes back for the same size, pooled or new, is zeroed:
		// the canary written above never reappears.
		c := p.Get(n)
		if bytes.IndexByte(c[:cap(c)], 0xa5) >= 0 {
			t.Fatalf("Get(%d) after Put returned old bytes", n)
		}
		p.Put(c)
	}
}

func TestReuse(t *testing.T) {
	p := New(0)
	b := p.Get(1<<20 + 74)
	p.Put(b)
	if p.idleBytes() != int64(cap(b)) {
		t.Fatalf("idle %d after one Put of %d", p.idleBytes(), cap(b))
	}
	c := p.Get(1<<20 + 1000) // same class
	if &c[:1][0] != &b[:1][0] {
		t.Fatal("a buffer of the same class was not reused")
	}
	if p.idleBytes() != 0 {
		t.Fatalf("idle %d after Get", p.idleBytes())
	}
}

func TestClasses(t *testing.T) {
	for _, tc := range []struct {
		n       int
		pooled  bool
		wantCap int
	}{
		{16<<10 - 1, false, 16<<10 - 1},
		{16 << 10, true, 32 << 10},
		{32 << 10, true, 32 << 10},
		{32<<10 + 1, true, 40 << 10},
		{40 << 10, true, 40 << 10},
		{40<<10 + 1, true, 48 << 10},
		{63 << 10, true, 64 << 10},
		{64<<10 + 1, true, 80 << 10},
		{1<<20 + 74, true, 1<<20 + 1<<18},
		{3 << 20, true, 3 << 20},
		{4 << 20, true, 4 << 20},
		{4<<20 + 1, false, 4<<20 + 1},
	} {
		b := New(0).Get(tc.n)
		if cap(b) != tc.wantCap {
			t.Errorf("Get(%d): cap %d, want %d", tc.n, cap(b), tc.wantCap)
		}
		if _, ok := class(tc.n); ok != tc.pooled {
			t.Errorf("class(%d) pooled = %v, want %v", tc.n, ok, tc.pooled)
		}
	}
	// Every class holds what it claims and wastes at most a quarter.
	for n := 16 << 10; n <= 4<<20; n += 997 {
		c, ok := class(n)
		if !ok {
			t.Fatalf("class(%d) not pooled", n)
		}
		size := classSize(c)
		if size < n || (n > 32<<10 && float64(size) > 1.25*float64(n)) {
			t.Fatalf("class(%d) = %d of size %d", n, c, size)
		}
		if c > 0 && classSize(c-1) >= n {
			t.Fatalf("class(%d) = %d, but %d holds it", n, c, c-1)
		}
	}
}

func TestIdleBound(t *testing.T) {
	p := New(3 << 20)
	var bufs [][]byte
	for range 5 {
		bufs = append(bufs, p.Get(1<<20))
	}
	for _, b := range bufs {
		p.Put(b)
	}
	if p.idleBytes() != 3<<20 {
		t.Fatalf("idle %d, want the bound %d", p.idleBytes(), 3<<20)
	}
}

func TestNilPoolAllocates(t *testing.T) {
	var p *Pool
	b := p.Get(1 << 20)
	if len(b) != 1<<20 || cap(b) != 1<<20 {
		t.Fatalf("nil pool: len %d cap %d", len(b), cap(b))
	}
	p.Put(b) // no panic, nothing kept
	if p.idleBytes() != 0 {
		t.Fatal("nil pool kept a buffer")
	}
}

// A foreign slice (not from Get) is not kept: its capacity is no class size.
func TestPutForeign(t *testing.T) {
	p := New(0)
	p.Put(make([]byte, 100<<10+3))
	if p.idleBytes() != 0 {
		t.Fatalf("kept a foreign slice: idle %d", p.idleBytes())
	}
}

func BenchmarkGetPut1MiB(b *testing.B) {
	p := New(0)
	b.SetBytes(1 << 20)
	for b.Loop() {
		buf := p.Get(1<<20 + 74)
		buf[0] = 1
		p.Put(buf)
	}
}
