package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/internal/certstore"
	"github.com/sealocr/sealocr/sidecar/internal/config"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/redisstate"
)

// sharedState is the state that replicas share on Redis (redis.url): the replay
// cache, the rate-limit buckets and the ACME storage and locks, with the
// metrics and warnings of its failures.
//
// Failure policy: a replay check that Redis cannot answer refuses the
// request (never accepted unchecked); a rate-limit check follows
// rate_limit.fail; certificates keep being served from certmagic's memory.
// go-redis reconnects by itself: nothing is re-created when Redis returns.
type sharedState struct {
	client  *redisstate.Client
	prefix  string
	hashKey []byte // keys the hash of rate-limit keys (client addresses)
	log     *zap.Logger

	errs      *prometheus.CounterVec // op
	noperm    *prometheus.CounterVec // op
	unchecked prometheus.Counter
	up        prometheus.Gauge
	lastWarn  atomic.Int64 // Unix nanoseconds of the last failure warning
	lastPerm  atomic.Int64 // Unix nanoseconds of the last NOPERM error line
}

// due reports whether a line throttled by last may be written now (and
// claims it): at most one per interval, however many requests fail.
func due(last *atomic.Int64, interval time.Duration) bool {
	now := time.Now().UnixNano()
	prev := last.Load()
	return now-prev >= int64(interval) && last.CompareAndSwap(prev, now)
}

// warnEvery bounds the failure warnings: one per interval, however many
// requests fail.
const warnEvery = 10 * time.Second

// openShared opens the Redis client of the redis section (no network I/O)
// and registers the metrics. hashKey keys the hash of client addresses.
func openShared(cfg config.Config, getenv func(string) string, hashKey []byte, log *zap.Logger, reg prometheus.Registerer) (*sharedState, error) {
	redisstate.SetLogger(log.Named("redis"))
	c, err := redisstate.Open(cfg.RedisOptions(getenv))
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	s := &sharedState{client: c, prefix: cfg.Redis.Prefix, hashKey: hashKey, log: log.Named("redis"),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sealocr_sidecar_redis_errors_total",
			Help: "Redis calls that failed (unreachable, deadline, server error), by operation (replay, rate_limit, ping).",
		}, []string{"op"}),
		noperm: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sealocr_sidecar_redis_permission_errors_total",
			Help: "Redis calls refused with NOPERM (the ACL user may not write under redis.prefix), by operation; each also refuses its request, whatever rate_limit.fail says.",
		}, []string{"op"}),
		unchecked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sealocr_sidecar_rate_limit_unchecked_total",
			Help: "Requests served without a rate-limit check because Redis could not be asked (rate_limit.fail=open).",
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sealocr_sidecar_redis_up",
			Help: "1 when the last Redis ping (every 5 s) succeeded, else 0.",
		}),
	}
	for _, op := range []string{"replay", "rate_limit", "ping"} {
		s.errs.WithLabelValues(op)
		s.noperm.WithLabelValues(op)
	}
	if reg != nil {
		reg.MustRegister(s.errs, s.noperm, s.unchecked, s.up)
	}
	return s, nil
}

// fail counts a failed call and warns, at most once per warnEvery. A
// NOPERM refusal is a configuration mistake, not an outage: it is counted
// on its own metric and logged as an error once a second while it lasts.
func (s *sharedState) fail(op string, err error) {
	s.errs.WithLabelValues(op).Inc()
	if errors.Is(err, redisstate.ErrPermission) {
		s.noperm.WithLabelValues(op).Inc()
		if !due(&s.lastPerm, time.Second) {
			return
		}
		s.log.Error("redis refused a write under the key prefix (NOPERM): fix the ACL user's key pattern or redis.prefix; requests are refused until then",
			zap.String("op", op), zap.String("prefix", s.prefix), zap.String("redis", s.client.Redacted()))
		return
	}
	if !due(&s.lastWarn, warnEvery) {
		return
	}
	s.log.Warn("redis unavailable", zap.String("op", op), zap.String("redis", s.client.Redacted()), zap.Error(err))
}

// watch pings Redis every interval until ctx ends, setting the up gauge.
func (s *sharedState) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.client.Ping(ctx); err != nil {
			s.up.Set(0)
			if ctx.Err() == nil {
				s.fail("ping", err)
			}
		} else {
			s.up.Set(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rateStore is the ratelimit.Store on Redis: one GCRA bucket per policy and
// client shared by every replica. Redis's clock decides; now is unused.
type rateStore struct {
	s      *sharedState
	l      *redisstate.Limiter
	closed bool // rate_limit.fail=closed
}

func (s *sharedState) rateStore(failClosed bool) (*rateStore, error) {
	l, err := redisstate.NewLimiter(s.client, redisstate.LimiterOptions{Prefix: s.prefix, Namespace: "clients", HashKey: s.hashKey})
	if err != nil {
		return nil, err
	}
	return &rateStore{s: s, l: l, closed: failClosed}, nil
}

// Take implements ratelimit.Store.
func (r *rateStore) Take(ctx context.Context, key string, p ratelimit.Policy, _ time.Time) ratelimit.Decision {
	if p.Off() {
		return ratelimit.Decision{Allowed: true, Remaining: math.MaxInt32}
	}
	d, err := r.l.AllowWith(ctx, p.Name+"\x00"+key, redisstate.PerSecond(p.Rate, p.Burst), 1)
	if err != nil {
		r.s.fail("rate_limit", err)
		if r.closed || errors.Is(err, redisstate.ErrPermission) {
			return ratelimit.Decision{Unavailable: true, RetryAfter: time.Second}
		}
		r.s.unchecked.Inc()
		return ratelimit.Decision{Allowed: true, Unavailable: true}
	}
	return ratelimit.Decision{Allowed: d.Allowed, Remaining: d.Remaining, RetryAfter: d.RetryAfter, Reset: d.Reset}
}

// Peek reports, without taking a token, whether the bucket of key under p
// has one (ratelimit.Peeker). Failures follow the policy as in Take, without
// counting an unchecked request.
func (r *rateStore) Peek(ctx context.Context, key string, p ratelimit.Policy, _ time.Time) ratelimit.Decision {
	if p.Off() {
		return ratelimit.Decision{Allowed: true, Remaining: math.MaxInt32}
	}
	d, err := r.l.Peek(ctx, p.Name+"\x00"+key, redisstate.PerSecond(p.Rate, p.Burst))
	if err != nil {
		r.s.fail("rate_limit", err)
		closed := r.closed || errors.Is(err, redisstate.ErrPermission)
		return ratelimit.Decision{Allowed: !closed, Unavailable: true, RetryAfter: time.Second}
	}
	return ratelimit.Decision{Allowed: d.Allowed, Remaining: d.Remaining, RetryAfter: d.RetryAfter, Reset: d.Reset}
}

// redisReplay is the replay.Store on Redis (SET NX PX of a hash of the
// partition and key), shared by every replica.
type redisReplay struct {
	s *sharedState
	r *redisstate.Replay
}

func (s *sharedState) replay() *redisReplay {
	return &redisReplay{s: s, r: redisstate.NewReplay(s.client, redisstate.ReplayOptions{Prefix: s.prefix, Namespace: "replay"})}
}

// Seen implements replay.Store: it records key in partition until expiry
// and reports whether it is fresh. An expiry that has passed is fresh and
// not recorded, as replay.Memory has it. An error (Redis unreachable, full)
// is never fresh: the gateway refuses with 503 busy.
func (x *redisReplay) Seen(ctx context.Context, partition string, key []byte, expiry time.Time) (bool, error) {
	ttl := time.Until(expiry)
	if ttl <= 0 {
		return true, nil
	}
	k := binary.AppendUvarint(make([]byte, 0, 10+len(partition)+len(key)), uint64(len(partition)))
	k = append(append(k, partition...), key...)
	fresh, err := x.r.Seen(ctx, k, ttl)
	if err != nil {
		x.s.fail("replay", err)
		return false, err
	}
	return fresh, nil
}

// certStorage is the certmagic storage and locker on Redis.
func (s *sharedState) certStorage(owner string) (certmagic.Storage, error) {
	return certstore.New(s.client, certstore.Options{Prefix: s.prefix + "certmagic:", Owner: owner, Logger: s.log})
}
