package redisstate

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is a GCRA limit: Rate events per Period on average, with bursts of
// up to Burst events at once.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// Decision is the answer to one Allow: whether the event may happen and
// what the caller writes into Retry-After and the RateLimit headers.
type Decision struct {
	// Allowed reports whether the event may happen now.
	Allowed bool
	// Limit is the burst: the most events a client may send at once.
	Limit int
	// Remaining is how many more events would be allowed right now.
	Remaining int
	// RetryAfter is how long to wait before the next event is allowed;
	// zero when Allowed.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again (Remaining equals
	// Limit).
	Reset time.Duration
}

// Limiter is a rate limiter shared by every replica: one GCRA bucket per
// client key in Redis, updated by one atomic Lua script
// (github.com/go-redis/redis_rate/v10) that reads Redis's own clock, so
// replicas with skewed clocks agree. Denied events do not consume the
// bucket. Client keys are stored hashed.
type Limiter struct {
	c         *Client
	rl        *redis_rate.Limiter
	prefix    string
	namespace string
	limit     Limit
	hashKey   []byte
}

// LimiterOptions configure NewLimiter.
type LimiterOptions struct {
	// Limit is the limit Allow applies; zero leaves only AllowWith, for
	// callers with a policy per request.
	Limit Limit
	// Prefix starts every key (redis_rate's own "rate:" is taken off, see
	// ownKeys); empty means DefaultPrefix.
	Prefix string
	// Namespace separates limiters that share a Redis.
	Namespace string
	// HashKey, when set, keys the hash of every client key (HMAC-SHA-256),
	// so that client addresses cannot be recovered from Redis by trying all
	// of them; replicas share it. Empty means SHA-256.
	HashKey []byte
}

// PerSecond converts a rate in events per second (fractional allowed, as
// ratelimit.Policy has it) and a burst into a Limit.
func PerSecond(rate float64, burst int) Limit {
	if rate <= 0 || math.IsInf(rate, 0) || math.IsNaN(rate) {
		return Limit{Burst: burst}
	}
	// GCRA only needs the emission interval Period/Rate: one event per 1/rate s.
	return Limit{Rate: 1, Period: time.Duration(float64(time.Second) / rate), Burst: burst}
}

func (l Limit) valid() error {
	if l.Rate <= 0 || l.Period <= 0 || l.Burst <= 0 {
		return fmt.Errorf("%w: rate limit needs a positive rate, period and burst (got %d per %s, burst %d)",
			ErrConfig, l.Rate, l.Period, l.Burst)
	}
	return nil
}

// NewLimiter returns the limiter on c; it reports ErrConfig when o.Limit is
// set but not positive.
func NewLimiter(c *Client, o LimiterOptions) (*Limiter, error) {
	if o.Limit != (Limit{}) {
		if err := o.Limit.valid(); err != nil {
			return nil, err
		}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	return &Limiter{c: c, rl: redis_rate.NewLimiter(ownKeys{c.rdb}), prefix: o.Prefix, namespace: o.Namespace, limit: o.Limit,
		hashKey: bytes.Clone(o.HashKey)}, nil
}

// Allow takes one event from client's bucket under the limiter's Limit. On
// failure (Redis down, deadline exceeded) it returns a zero Decision (not
// allowed) and an error wrapping ErrUnavailable; the caller's failure
// policy then decides whether to serve (fail open) or refuse (fail
// closed).
func (l *Limiter) Allow(ctx context.Context, client string) (Decision, error) {
	return l.AllowWith(ctx, client, l.limit, 1)
}

// AllowN takes n events at once under the limiter's Limit (e.g. a failed
// authentication that costs more than a request); n must be positive.
func (l *Limiter) AllowN(ctx context.Context, client string, n int) (Decision, error) {
	return l.AllowWith(ctx, client, l.limit, n)
}

// AllowWith takes n events from client's bucket under lim. Buckets are per
// client key only: a caller with several policies puts the policy's name
// into client. Errors as for Allow.
func (l *Limiter) AllowWith(ctx context.Context, client string, lim Limit, n int) (Decision, error) {
	if err := lim.valid(); err != nil {
		return Decision{}, err
	}
	if n <= 0 {
		return Decision{}, fmt.Errorf("%w: rate limit cost %d is not positive", ErrConfig, n)
	}
	ctx, cancel := l.c.Context(ctx)
	defer cancel()
	rl := redis_rate.Limit{Rate: lim.Rate, Period: lim.Period, Burst: lim.Burst}
	res, err := l.rl.AllowN(ctx, hashedKey(l.prefix, "rate", l.namespace, []byte(client), l.hashKey), rl, n)
	if err != nil {
		return Decision{}, Wrap("rate limit", err)
	}
	return Decision{Allowed: res.Allowed > 0, Limit: lim.Burst, Remaining: res.Remaining,
		RetryAfter: max(res.RetryAfter, 0), Reset: max(res.ResetAfter, 0)}, nil
}

// Peek reports, without taking an event, whether client's bucket under lim
// holds one: Allowed when an event would be allowed now, with Remaining the
// events left. Errors as for Allow.
func (l *Limiter) Peek(ctx context.Context, client string, lim Limit) (Decision, error) {
	if err := lim.valid(); err != nil {
		return Decision{}, err
	}
	ctx, cancel := l.c.Context(ctx)
	defer cancel()
	rl := redis_rate.Limit{Rate: lim.Rate, Period: lim.Period, Burst: lim.Burst}
	// A cost of 0 runs the same script without moving the bucket's state.
	res, err := l.rl.AllowN(ctx, hashedKey(l.prefix, "rate", l.namespace, []byte(client), l.hashKey), rl, 0)
	if err != nil {
		return Decision{}, Wrap("rate limit peek", err)
	}
	d := Decision{Allowed: res.Remaining >= 1, Limit: lim.Burst, Remaining: res.Remaining, Reset: max(res.ResetAfter, 0)}
	if !d.Allowed {
		// The time until the bucket holds one event again.
		emission := lim.Period / time.Duration(lim.Rate)
		d.RetryAfter = max(res.ResetAfter-time.Duration(lim.Burst-1)*emission, 0)
	}
	return d, nil
}

// libraryPrefix is the prefix redis_rate puts before every key it is given.
const libraryPrefix = "rate:"

// ownKeys is the Redis client as redis_rate sees it, with the library's
// fixed "rate:" taken off every key: the keys the Limiter hands in already
// start with the configured prefix, so every key the sidecar writes lives
// under that prefix alone, and an ACL user limited to it (~sealocr:*) can
// run the limiter.
type ownKeys struct{ *redis.Client }

func (o ownKeys) own(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.TrimPrefix(k, libraryPrefix)
	}
	return out
}

// Eval implements redis_rate's client interface.
func (o ownKeys) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return o.Client.Eval(ctx, script, o.own(keys), args...)
}

// EvalSha implements redis_rate's client interface.
func (o ownKeys) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return o.Client.EvalSha(ctx, sha1, o.own(keys), args...)
}

// EvalRO implements redis_rate's client interface.
func (o ownKeys) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return o.Client.EvalRO(ctx, script, o.own(keys), args...)
}

// EvalShaRO implements redis_rate's client interface.
func (o ownKeys) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return o.Client.EvalShaRO(ctx, sha1, o.own(keys), args...)
}

// Del implements redis_rate's client interface.
func (o ownKeys) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return o.Client.Del(ctx, o.own(keys)...)
}
