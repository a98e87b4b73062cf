package redisstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replay is a replay cache shared by every replica: Seen marks a key (a PSK
// nonce, an OHTTP encapsulated key) as seen for a time to live, atomically
// with SET NX PX, so of two replicas that see the same key at the same time
// exactly one is told it is fresh. Keys are stored hashed (see Namespace).
type Replay struct {
	c         *Client
	prefix    string
	namespace string
	hashKey   []byte
}

// ReplayOptions configure NewReplay.
type ReplayOptions struct {
	// Prefix starts every key; empty means DefaultPrefix.
	Prefix string
	// Namespace separates caches that share a Redis (e.g. "psk" and
	// "ohttp", or one per tenant); it is hashed with each key, so the same
	// bytes in two namespaces are two entries.
	Namespace string
	// HashKey, when set, keys the hash of every entry (HMAC-SHA-256);
	// replicas that share the cache share the key. Empty means SHA-256,
	// enough for random nonces.
	HashKey []byte
}

// NewReplay returns the replay cache on c.
func NewReplay(c *Client, o ReplayOptions) *Replay {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	return &Replay{c: c, prefix: o.Prefix, namespace: o.Namespace, hashKey: bytes.Clone(o.HashKey)}
}

// Seen records key for ttl (rounded up to a millisecond) and reports
// whether it was fresh: true the first time, false while the entry lives.
// Any failure (Redis down, deadline exceeded, ttl not positive) returns
// fresh=false and an error wrapping ErrUnavailable (or ErrConfig for the
// ttl); an error is never reported as fresh, so a caller that refuses
// whatever is not fresh never accepts a replay unchecked.
func (r *Replay) Seen(ctx context.Context, key []byte, ttl time.Duration) (fresh bool, err error) {
	if ttl <= 0 {
		return false, fmt.Errorf("%w: replay ttl %s is not positive", ErrConfig, ttl)
	}
	if ms := ttl.Truncate(time.Millisecond); ms != ttl {
		ttl = ms + time.Millisecond
	}
	ctx, cancel := r.c.Context(ctx)
	defer cancel()
	// SET key 1 NX PX ttl: OK when set, nil when it existed.
	res, err := r.c.rdb.SetArgs(ctx, hashedKey(r.prefix, "replay", r.namespace, key, r.hashKey), "1",
		redis.SetArgs{Mode: "NX", TTL: ttl}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, Wrap("replay check", err)
	case res == "OK":
		return true, nil
	default:
		return false, Wrap("replay check", fmt.Errorf("unexpected reply %q", res))
	}
}
