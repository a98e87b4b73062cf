package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/internal/config"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/redisstate/redistest"
)

// TestRateStoreFollowsTheRequestContext: the Redis rate store asks with the
// request's context, so a request that is gone (client away, deadline
// passed) stops waiting on a stalled Redis at once instead of after
// redis.timeout. Before, Take and Peek used context.Background().
func TestRateStoreFollowsTheRequestContext(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	cfg := config.Default(func(string) string { return "" })
	cfg.Redis.URL = rs.URL
	cfg.Redis.Timeout = 5 * time.Second
	s, err := openShared(cfg, func(string) string { return "" }, make([]byte, 32), zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.client.Close()
	store, err := s.rateStore(false)
	if err != nil {
		t.Fatal(err)
	}
	p := ratelimit.Policy{Name: "psk", Rate: 1, Burst: 5}
	if d := store.Take(context.Background(), "client", p, time.Now()); !d.Allowed || d.Unavailable {
		t.Fatalf("with Redis up: %+v", d)
	}
	rs.Freeze()
	defer rs.Thaw()
	for name, call := range map[string]func(context.Context) ratelimit.Decision{
		"take": func(ctx context.Context) ratelimit.Decision { return store.Take(ctx, "client", p, time.Now()) },
		"peek": func(ctx context.Context) ratelimit.Decision { return store.Peek(ctx, "client", p, time.Now()) },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		d := call(ctx)
		took := time.Since(start)
		cancel()
		if !d.Unavailable {
			t.Errorf("%s with Redis frozen: %+v, want unavailable", name, d)
		}
		if took > 2*time.Second {
			t.Errorf("%s waited %s for a frozen Redis although the request's context ended after 200 ms (redis.timeout 5 s)", name, took.Round(time.Millisecond))
		}
	}
}
