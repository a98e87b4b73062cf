package replay

import (
	"context"
	"errors"
	"testing"
	"time"
)

// setNX stands in for Redis SET NX PX at the edge of FromTTL: it records
// what it is asked.
type setNX struct {
	keys map[string]time.Duration
	err  error
}

func (s *setNX) Seen(_ context.Context, key []byte, ttl time.Duration) (bool, error) {
	if s.err != nil {
		return false, s.err
	}
	if _, ok := s.keys[string(key)]; ok {
		return false, nil
	}
	s.keys[string(key)] = ttl
	return true, nil
}

func TestFromTTL(t *testing.T) {
	backend := &setNX{keys: map[string]time.Duration{}}
	st := FromTTL(backend, func() time.Time { return t0 })
	ctx := context.Background()
	if fresh, err := st.Seen(ctx, "psk:a", []byte("n1"), t0.Add(90*time.Second)); !fresh || err != nil {
		t.Fatalf("first: %v %v", fresh, err)
	}
	if fresh, _ := st.Seen(ctx, "psk:a", []byte("n1"), t0.Add(90*time.Second)); fresh {
		t.Fatal("replay reported fresh")
	}
	if fresh, _ := st.Seen(ctx, "psk:ab", []byte("1"), t0.Add(90*time.Second)); !fresh {
		t.Fatal("partition and key confused")
	}
	for _, ttl := range backend.keys {
		if ttl != 90*time.Second {
			t.Fatalf("ttl %s, want 90s", ttl)
		}
	}
	if fresh, err := st.Seen(ctx, "p", []byte("old"), t0); !fresh || err != nil || len(backend.keys) != 2 {
		t.Fatal("an expired key is fresh and not sent")
	}
	backend.err = errors.New("redis: connection refused")
	if fresh, err := st.Seen(ctx, "p", []byte("k"), t0.Add(time.Minute)); fresh || err == nil {
		t.Fatal("an unreachable store must refuse, never report fresh")
	}
}
