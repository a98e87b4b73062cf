package replay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Unix(1735689600, 0)

func seen(t *testing.T, m *Memory, part string, key string, exp time.Time) (bool, error) {
	t.Helper()
	return m.Seen(context.Background(), part, []byte(key), exp)
}

func TestMemory(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	t.Run("expiry", func(t *testing.T) {
		now = t0
		m := NewMemory(MemoryOptions{Capacity: 2, Now: clock})
		if fresh, err := seen(t, m, "p", "a", t0.Add(time.Minute)); !fresh || err != nil {
			t.Fatalf("first sighting: %v %v", fresh, err)
		}
		if fresh, err := seen(t, m, "p", "a", t0.Add(time.Minute)); fresh || err != nil {
			t.Fatalf("second sighting: %v %v", fresh, err)
		}
		if fresh, _ := seen(t, m, "q", "a", t0.Add(time.Minute)); !fresh {
			t.Fatal("partitions must be separate")
		}
		if _, err := seen(t, m, "r", "a", t0.Add(time.Minute)); !errors.Is(err, ErrFull) {
			t.Fatalf("full store: %v, want ErrFull", err)
		}
		now = t0.Add(time.Minute)
		if fresh, err := seen(t, m, "r", "a", t0.Add(2*time.Minute)); !fresh || err != nil {
			t.Fatalf("expired records must free space: %v %v", fresh, err)
		}
		if m.Len() != 1 {
			t.Fatalf("len %d", m.Len())
		}
		if fresh, err := seen(t, m, "s", "a", t0); !fresh || err != nil || m.Len() != 1 {
			t.Fatal("an already-expired key is fresh and not recorded")
		}
	})
	t.Run("partition and key are not confused", func(t *testing.T) {
		m := NewMemory(MemoryOptions{Capacity: 8, Now: clock})
		_, _ = seen(t, m, "ab", "c", now.Add(time.Minute))
		if fresh, _ := seen(t, m, "a", "bc", now.Add(time.Minute)); !fresh {
			t.Fatal("collision")
		}
	})
	t.Run("fair share", func(t *testing.T) {
		// Four expected partitions share 400 records: a flood by one
		// stops at 100, and every other partition still records its
		// own 100.
		m := NewMemory(MemoryOptions{Capacity: 400, Partitions: func() int { return 4 }, Now: clock})
		flood := 0
		for i := range 1000 {
			fresh, err := seen(t, m, "flooder", fmt.Sprint(i), now.Add(time.Minute))
			if err != nil {
				if !errors.Is(err, ErrFull) {
					t.Fatal(err)
				}
				continue
			}
			if fresh {
				flood++
			}
		}
		if flood != 100 {
			t.Fatalf("the flooder recorded %d, want its share of 100", flood)
		}
		for _, p := range []string{"b", "c", "d"} {
			for i := range 100 {
				if fresh, err := seen(t, m, p, fmt.Sprint(i), now.Add(time.Minute)); !fresh || err != nil {
					t.Fatalf("partition %s, key %d: %v %v", p, i, fresh, err)
				}
			}
		}
		if m.Len() != 400 {
			t.Fatalf("len %d", m.Len())
		}
	})
	t.Run("unexpected partitions shrink the share", func(t *testing.T) {
		m := NewMemory(MemoryOptions{Capacity: 100, Now: clock})
		for i := range 50 {
			_, _ = seen(t, m, "a", fmt.Sprint(i), now.Add(time.Minute))
		}
		// Once "b" records, two partitions are live: the share is 50, so
		// "a" (at 51) is refused and "b" fills the rest.
		// Alone, "a" may use the whole store.
		if fresh, err := seen(t, m, "a", "x", now.Add(time.Minute)); !fresh || err != nil {
			t.Fatalf("a alone: %v %v", fresh, err)
		}
		for i := range 49 {
			if fresh, err := seen(t, m, "b", fmt.Sprint(i), now.Add(time.Minute)); !fresh || err != nil {
				t.Fatalf("b %d: %v %v", i, fresh, err)
			}
		}
		if _, err := seen(t, m, "a", "y", now.Add(time.Minute)); !errors.Is(err, ErrFull) {
			t.Fatalf("a over its share: %v", err)
		}
	})
	t.Run("partitions are freed", func(t *testing.T) {
		now = t0
		m := NewMemory(MemoryOptions{Capacity: 10, Now: clock})
		for i := range 100 {
			now = t0.Add(time.Duration(i) * time.Second)
			if fresh, err := seen(t, m, fmt.Sprint("p", i), "k", now.Add(time.Second/2)); !fresh || err != nil {
				t.Fatalf("%d: %v %v", i, fresh, err)
			}
		}
		if len(m.parts) > 2 || len(m.byName) != 1 {
			t.Fatalf("%d partition slots, %d live", len(m.parts), len(m.byName))
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		m := NewMemory(MemoryOptions{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		replays := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 100 {
					fresh, err := m.Seen(context.Background(), "p", []byte{byte(j)}, time.Now().Add(time.Minute))
					if err != nil {
						t.Error(err)
					}
					if !fresh {
						mu.Lock()
						replays++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if replays != 700 {
			t.Fatalf("%d replays, want 700", replays)
		}
	})
}

func TestNeeded(t *testing.T) {
	if n := Needed(300, 331*time.Second); n != 99300 {
		t.Fatalf("Needed = %d", n)
	}
}
