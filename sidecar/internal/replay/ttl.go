package replay

import (
	"context"
	"encoding/binary"
	"time"
)

// TTLSeener is a store keyed by opaque bytes with a time to live, such as
// Redis SET key NX PX ttl (redisstate.Replay): Seen reports whether key was
// fresh and records it for ttl; an error is never fresh.
type TTLSeener interface {
	Seen(ctx context.Context, key []byte, ttl time.Duration) (fresh bool, err error)
}

// FromTTL adapts a TTLSeener to a [Store]. The partition is length-prefixed
// in front of the key (so "ab"+"c" and "a"+"bc" differ), and the expiry
// becomes a time to live from now (nil means time.Now). A key already
// expired is fresh and not sent. Fairness between partitions is the
// backing store's business: a shared Redis bounds memory, not entries per
// partition, so keep a per-client rate limit in front of the replay check.
func FromTTL(s TTLSeener, now func() time.Time) Store {
	if now == nil {
		now = time.Now
	}
	return ttlStore{s: s, now: now}
}

type ttlStore struct {
	s   TTLSeener
	now func() time.Time
}

// Seen implements [Store].
func (t ttlStore) Seen(ctx context.Context, partition string, key []byte, expiry time.Time) (bool, error) {
	ttl := expiry.Sub(t.now())
	if ttl <= 0 {
		return true, nil
	}
	k := make([]byte, 0, binary.MaxVarintLen64+len(partition)+len(key))
	k = binary.AppendUvarint(k, uint64(len(partition)))
	k = append(append(k, partition...), key...)
	return t.s.Seen(ctx, k, ttl)
}
