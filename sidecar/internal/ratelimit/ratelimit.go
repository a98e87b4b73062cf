// Package ratelimit limits requests per client with token buckets
// (golang.org/x/time/rate) and answers 429 with Retry-After and the
// RateLimit-Policy / RateLimit headers of the IETF httpapi draft
// ("RateLimit header fields for HTTP").
//
// A Policy is a bucket: Burst tokens, refilled at Rate per second. Buckets
// live in a Store, keyed by policy name and client (an authenticated
// identity, or the client IP when anonymous). Memory is a bounded in-process
// Store: a bucket that has refilled completely is indistinguishable from a
// new one and is dropped, and beyond MaxKeys the least recently used bucket
// is dropped too. Store is an interface so that the state can later move to
// a shared store for many replicas.
package ratelimit

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sealocr/sealocr/sidecar/api"
)

// ErrBadRate reports an unparsable rate.
var ErrBadRate = errors.New("ratelimit: bad rate")

// Policy is one token bucket.
type Policy struct {
	// Name identifies the policy in keys and in the RateLimit headers.
	Name string
	// Rate is the refill rate in tokens per second; zero or negative turns
	// the policy off (every request is allowed).
	Rate float64
	// Burst is the bucket size: requests allowed at once.
	Burst int
}

// Off reports whether p allows everything.
func (p Policy) Off() bool { return p.Rate <= 0 || p.Burst <= 0 }

// Window is the time an empty bucket takes to refill.
func (p Policy) Window() time.Duration {
	if p.Off() {
		return 0
	}
	return time.Duration(float64(p.Burst) / p.Rate * float64(time.Second))
}

// ParseRate parses "N/s", "N/m" (or "N/min") or "N/h": N requests per
// second, minute or hour. "off" and "0" mean no limit (Rate 0).
func ParseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return 0, nil
	}
	n, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("%w %q: want N/s, N/m, N/h or off", ErrBadRate, s)
	}
	v, err := strconv.ParseFloat(n, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%w %q: want a positive number of requests", ErrBadRate, s)
	}
	switch unit {
	case "s", "sec", "second":
		return v, nil
	case "m", "min", "minute":
		return v / 60, nil
	case "h", "hour":
		return v / 3600, nil
	}
	return 0, fmt.Errorf("%w %q: unit must be s, m or h", ErrBadRate, s)
}

// Decision is the outcome of one request against a policy.
type Decision struct {
	// Allowed reports that the request may proceed.
	Allowed bool
	// Remaining is the whole tokens left after this request.
	Remaining int
	// RetryAfter is, when not allowed, how long until a token is available.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again.
	Reset time.Duration
	// Unavailable reports that a shared store could not be asked: Allowed
	// then says what its failure policy decided (fail open: allowed,
	// without RateLimit headers; fail closed: refused with 503 busy and
	// Retry-After rather than 429).
	Unavailable bool
}

// Store keeps buckets. Implementations must be safe for concurrent use. A
// shared implementation (Redis, for example) gives many replicas one limit;
// when it cannot be asked it answers a Decision with Unavailable set.
type Store interface {
	// Take takes one token from the bucket of key under p at now; ctx
	// bounds a store that asks over the network (the request's context).
	Take(ctx context.Context, key string, p Policy, now time.Time) Decision
}

// Peeker is a Store that can tell whether a bucket holds a token without
// taking it: the server asks before checking credentials, so that a client
// whose failed attempts emptied its bucket gets no further verdicts.
type Peeker interface {
	// Peek reports, without taking a token, whether the bucket of key
	// under p has one at now.
	Peek(ctx context.Context, key string, p Policy, now time.Time) Decision
}

// Memory is an in-process Store with bounded memory.
type Memory struct {
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*list.Element
	lru     *list.List // front: most recently used
	evicted uint64
}

type bucket struct {
	key    string
	lim    *rate.Limiter
	fullAt time.Time // when the bucket will be full if untouched
}

// NewMemory returns a Memory holding at most maxKeys buckets (at least 1).
func NewMemory(maxKeys int) *Memory {
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &Memory{maxKeys: maxKeys, buckets: make(map[string]*list.Element), lru: list.New()}
}

// Len returns the number of buckets held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// Evicted returns how many buckets were dropped for lack of room (not
// counting full buckets dropped as idle).
func (m *Memory) Evicted() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.evicted
}

// Take implements Store.
func (m *Memory) Take(_ context.Context, key string, p Policy, now time.Time) Decision {
	if p.Off() {
		return Decision{Allowed: true, Remaining: math.MaxInt32}
	}
	k := p.Name + "\x00" + key
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now, 2)
	var b *bucket
	if e, ok := m.buckets[k]; ok {
		b = e.Value.(*bucket)
		m.lru.MoveToFront(e)
	} else {
		for m.lru.Len() >= m.maxKeys {
			m.drop(m.lru.Back())
			m.evicted++
		}
		b = &bucket{key: k, lim: rate.NewLimiter(rate.Limit(p.Rate), p.Burst)}
		b.lim.SetLimitAt(now, rate.Limit(p.Rate)) // start the bucket's clock at now
		m.buckets[k] = m.lru.PushFront(b)
	}
	d := decide(b.lim, p, now)
	tokens := b.lim.TokensAt(now)
	b.fullAt = now.Add(time.Duration((float64(p.Burst) - tokens) / p.Rate * float64(time.Second)))
	return d
}

// Peek implements Peeker. A bucket that does not exist is full.
func (m *Memory) Peek(_ context.Context, key string, p Policy, now time.Time) Decision {
	if p.Off() {
		return Decision{Allowed: true, Remaining: math.MaxInt32}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.buckets[p.Name+"\x00"+key]
	if !ok {
		return Decision{Allowed: true, Remaining: p.Burst}
	}
	lim := e.Value.(*bucket).lim
	tokens := lim.TokensAt(now)
	if tokens < 1 {
		return Decision{RetryAfter: time.Duration((1 - tokens) / p.Rate * float64(time.Second)), Reset: resetAfter(lim, p, now)}
	}
	return Decision{Allowed: true, Remaining: int(math.Floor(tokens)), Reset: resetAfter(lim, p, now)}
}

// sweep drops up to n least recently used buckets that are full by now: they
// carry no state. The caller holds mu.
func (m *Memory) sweep(now time.Time, n int) {
	for range n {
		e := m.lru.Back()
		if e == nil || now.Before(e.Value.(*bucket).fullAt) {
			return
		}
		m.drop(e)
	}
}

func (m *Memory) drop(e *list.Element) {
	delete(m.buckets, e.Value.(*bucket).key)
	m.lru.Remove(e)
}

// decide takes a token from lim at now, or reports when one will be there.
func decide(lim *rate.Limiter, p Policy, now time.Time) Decision {
	r := lim.ReserveN(now, 1)
	if !r.OK() { // cannot happen for Burst >= 1
		return Decision{RetryAfter: p.Window(), Reset: p.Window()}
	}
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return Decision{RetryAfter: delay, Reset: resetAfter(lim, p, now)}
	}
	tokens := lim.TokensAt(now)
	return Decision{Allowed: true, Remaining: int(math.Max(0, math.Floor(tokens))), Reset: resetAfter(lim, p, now)}
}

func resetAfter(lim *rate.Limiter, p Policy, now time.Time) time.Duration {
	missing := float64(p.Burst) - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / p.Rate * float64(time.Second))
}

// ceilSeconds rounds d up to whole seconds, at least 1 when d > 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// SetHeaders writes the RateLimit-Policy and RateLimit fields for d under p,
// and Retry-After when d is a refusal.
func SetHeaders(h http.Header, p Policy, d Decision) {
	if p.Off() || d.Unavailable {
		return
	}
	h.Set(api.HeaderRateLimitPolicy, fmt.Sprintf("%q;q=%d;w=%d", p.Name, p.Burst, ceilSeconds(p.Window())))
	h.Set(api.HeaderRateLimit, fmt.Sprintf("%q;r=%d;t=%d", p.Name, d.Remaining, ceilSeconds(d.Reset)))
	if !d.Allowed {
		h.Set(api.HeaderRetryAfter, strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10))
	}
}

// Limiter applies policies to requests.
type Limiter struct {
	// Store keeps the buckets.
	Store Store
	// Policy returns the policy of a request; ok false exempts it.
	Policy func(r *http.Request) (p Policy, ok bool)
	// Key returns the client key of a request.
	Key func(r *http.Request) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnLimited, if set, is called for each refused request.
	OnLimited func(r *http.Request, p Policy)
}

// Middleware refuses requests over their limit with api.RateLimited (429,
// Retry-After and the RateLimit headers); allowed requests get the
// RateLimit headers too. When the store could not be asked
// (Decision.Unavailable), a refusal is api.Busy (503, Retry-After) and an
// allowed request gets no RateLimit headers.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	now := l.Now
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := l.Policy(r)
		if !ok || p.Off() {
			next.ServeHTTP(w, r)
			return
		}
		d := l.Store.Take(r.Context(), l.Key(r), p, now())
		SetHeaders(w.Header(), p, d)
		if d.Unavailable && !d.Allowed {
			api.Write(w, api.Busy)
			return
		}
		if !d.Allowed {
			if l.OnLimited != nil {
				l.OnLimited(r, p)
			}
			api.Write(w, api.RateLimited)
			return
		}
		next.ServeHTTP(w, r)
	})
}
