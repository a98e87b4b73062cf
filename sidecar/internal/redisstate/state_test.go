package redisstate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/redisstate/redistest"
)

// testTimeout is the call deadline of tests that are not about deadlines:
// generous, so that a loaded CI machine (the race detector, other test
// binaries) does not turn a slow answer into a failure.
const testTimeout = 3 * time.Second

// replicas opens n independent clients on srv, as n sidecar replicas would.
func replicas(t *testing.T, srv *redistest.Server, n int) []*Client {
	t.Helper()
	out := make([]*Client, n)
	for i := range out {
		c, err := Open(Options{URL: srv.URL, Timeout: testTimeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		out[i] = c
	}
	return out
}

// allKeys returns every key in Redis.
func allKeys(t *testing.T, c *Client) []string {
	t.Helper()
	keys, err := c.Redis().Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestReplay(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	cs := replicas(t, srv, 2)
	psk1 := NewReplay(cs[0], ReplayOptions{Namespace: "psk"})
	psk2 := NewReplay(cs[1], ReplayOptions{Namespace: "psk"})
	ohttp := NewReplay(cs[1], ReplayOptions{Namespace: "ohttp"})
	nonce := []byte("nonce-0123456789abcdef")

	seen := func(r *Replay, key []byte, ttl time.Duration) bool {
		t.Helper()
		fresh, err := r.Seen(ctx, key, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	if !seen(psk1, nonce, time.Minute) {
		t.Fatal("first sighting is not fresh")
	}
	if seen(psk1, nonce, time.Minute) {
		t.Error("replay to the same replica is fresh")
	}
	if seen(psk2, nonce, time.Minute) {
		t.Error("replay to another replica is fresh")
	}
	if !seen(ohttp, nonce, time.Minute) {
		t.Error("the same bytes in another namespace are not fresh")
	}

	t.Run("expiry", func(t *testing.T) {
		k := []byte("short-lived")
		if !seen(psk1, k, 50*time.Millisecond) || seen(psk2, k, 50*time.Millisecond) {
			t.Fatal("first/second sighting wrong")
		}
		time.Sleep(120 * time.Millisecond)
		if !seen(psk2, k, 50*time.Millisecond) {
			t.Error("key is still seen after its ttl")
		}
		// A sub-millisecond ttl is rounded up, not to zero (which Redis refuses).
		if !seen(psk1, []byte("tiny"), time.Microsecond) {
			t.Error("tiny ttl not fresh")
		}
	})

	t.Run("bad ttl", func(t *testing.T) {
		for _, ttl := range []time.Duration{0, -time.Second} {
			fresh, err := psk1.Seen(ctx, []byte("x"), ttl)
			if fresh || !errors.Is(err, ErrConfig) {
				t.Errorf("ttl %s: fresh=%v err=%v, want false and ErrConfig", ttl, fresh, err)
			}
		}
	})

	t.Run("race across replicas", func(t *testing.T) {
		// 64 concurrent sightings of one key through two replicas: exactly one is fresh.
		key := []byte("raced-nonce")
		var fresh atomic.Int32
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				r := []*Replay{psk1, psk2}[i%2]
				ok, err := r.Seen(ctx, key, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					fresh.Add(1)
				}
			})
		}
		wg.Wait()
		if n := fresh.Load(); n != 1 {
			t.Errorf("%d sightings were fresh, want exactly 1", n)
		}
	})

	t.Run("keys hashed", func(t *testing.T) {
		for _, k := range allKeys(t, cs[0]) {
			if !strings.HasPrefix(k, DefaultPrefix+"replay:") {
				t.Errorf("key %q lacks the prefix", k)
			}
			if bytes.Contains([]byte(k), nonce) || strings.Contains(k, hex.EncodeToString(nonce)) ||
				strings.Contains(k, "psk") || strings.Contains(k, "ohttp") {
				t.Errorf("key %q reveals the nonce or the namespace", k)
			}
		}
	})
}

func TestLimiter(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	cs := replicas(t, srv, 3)
	limit := Limit{Rate: 6, Period: time.Minute, Burst: 4} // one event per 10 s, bursts of 4
	ls := make([]*Limiter, len(cs))
	for i, c := range cs {
		l, err := NewLimiter(c, LimiterOptions{Limit: limit, Namespace: "clients"})
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
	}
	const client = "203.0.113.7"

	// Peek takes nothing: a new bucket is full, and stays full.
	for range 3 {
		d, err := ls[1].Peek(ctx, client, limit)
		if err != nil || !d.Allowed || d.Remaining != 4 {
			t.Fatalf("peek of a new bucket: %+v %v", d, err)
		}
	}

	// The burst holds across three replicas: 4 allowed in all, then denied.
	var allowed int
	for i := range 9 {
		d, err := ls[i%3].Allow(ctx, client)
		if err != nil {
			t.Fatal(err)
		}
		if d.Limit != 4 {
			t.Errorf("Limit = %d, want the burst 4", d.Limit)
		}
		if d.Allowed {
			allowed++
			if want := 4 - allowed; d.Remaining != want {
				t.Errorf("event %d: Remaining = %d, want %d", i, d.Remaining, want)
			}
			if d.RetryAfter != 0 {
				t.Errorf("allowed with RetryAfter %s", d.RetryAfter)
			}
			continue
		}
		if d.Remaining != 0 || d.RetryAfter <= 0 || d.RetryAfter > 10*time.Second {
			t.Errorf("denied event %d: Remaining %d RetryAfter %s, want 0 and (0, 10s]", i, d.Remaining, d.RetryAfter)
		}
		if d.Reset < 30*time.Second || d.Reset > 40*time.Second {
			t.Errorf("denied event %d: Reset %s, want ~40s (four events of 10 s)", i, d.Reset)
		}
		if p, err := ls[(i+1)%3].Peek(ctx, client, limit); err != nil || p.Allowed || p.RetryAfter <= 0 || p.RetryAfter > 10*time.Second {
			t.Errorf("peek of the empty bucket: %+v %v, want not allowed, RetryAfter in (0, 10s]", p, err)
		}
	}
	if allowed != 4 {
		t.Errorf("%d events allowed across replicas, want the burst 4", allowed)
	}
	// Another client has its own bucket.
	if d, err := ls[0].Allow(ctx, "198.51.100.1"); err != nil || !d.Allowed || d.Remaining != 3 {
		t.Errorf("other client: %+v %v, want allowed with 3 remaining", d, err)
	}
	// A cost above the remaining burst is denied as a whole.
	if d, err := ls[1].AllowN(ctx, "198.51.100.1", 4); err != nil || d.Allowed {
		t.Errorf("AllowN(4) with 3 remaining: %+v %v, want denied", d, err)
	}
	if _, err := ls[0].AllowN(ctx, client, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("AllowN(0): %v, want ErrConfig", err)
	}
	if _, err := NewLimiter(cs[0], LimiterOptions{Limit: Limit{Rate: 1, Period: time.Second}}); !errors.Is(err, ErrConfig) {
		t.Errorf("zero burst: %v, want ErrConfig", err)
	}

	t.Run("policy per call", func(t *testing.T) {
		bare, err := NewLimiter(cs[2], LimiterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bare.Allow(ctx, "c"); !errors.Is(err, ErrConfig) {
			t.Errorf("Allow without a limit: %v, want ErrConfig", err)
		}
		// 0.5/s with a burst of 2, as ratelimit.Policy{Rate: 0.5, Burst: 2}.
		lim := PerSecond(0.5, 2)
		var got []bool
		for range 3 {
			d, err := bare.AllowWith(ctx, "policy-a|c", lim, 1)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, d.Allowed)
			if !d.Allowed && (d.RetryAfter <= time.Second || d.RetryAfter > 2*time.Second) {
				t.Errorf("RetryAfter %s at 0.5/s, want (1s, 2s]", d.RetryAfter)
			}
		}
		if !slices.Equal(got, []bool{true, true, false}) {
			t.Errorf("allowed %v, want a burst of 2", got)
		}
		if _, err := bare.AllowWith(ctx, "c", PerSecond(0, 2), 1); !errors.Is(err, ErrConfig) {
			t.Errorf("rate 0: %v, want ErrConfig", err)
		}
	})

	t.Run("refill", func(t *testing.T) {
		fast, err := NewLimiter(cs[0], LimiterOptions{Limit: Limit{Rate: 20, Period: time.Second, Burst: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := fast.Allow(ctx, "c"); !d.Allowed {
			t.Fatal("first event denied")
		}
		d, _ := fast.Allow(ctx, "c")
		if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 50*time.Millisecond {
			t.Fatalf("second event at once: %+v, want denied with RetryAfter in (0, 50ms]", d)
		}
		time.Sleep(d.RetryAfter + 10*time.Millisecond)
		if d, _ := fast.Allow(ctx, "c"); !d.Allowed {
			t.Errorf("event after RetryAfter denied: %+v", d)
		}
	})

	t.Run("keyed hash", func(t *testing.T) {
		before := len(allKeys(t, cs[0]))
		mk := func(c *Client, key string) *Limiter {
			l, err := NewLimiter(c, LimiterOptions{Limit: limit, Namespace: "clients", HashKey: []byte(key)})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		k1, k1b, k2 := mk(cs[0], "secret-1"), mk(cs[1], "secret-1"), mk(cs[2], "secret-2")
		// Same secret on two replicas: one bucket, separate from the unkeyed one (exhausted above).
		for i, l := range []*Limiter{k1, k1b, k1, k1b, k1} {
			d, err := l.Allow(ctx, client)
			if err != nil || d.Allowed != (i < 4) {
				t.Errorf("keyed event %d: %+v %v, want allowed only within the burst of 4", i, d, err)
			}
		}
		// Another secret: another bucket.
		if d, err := k2.Allow(ctx, client); err != nil || !d.Allowed {
			t.Errorf("other secret: %+v %v, want a fresh bucket", d, err)
		}
		if n := len(allKeys(t, cs[0])); n != before+2 {
			t.Errorf("%d new keys, want 2 (one per secret)", n-before)
		}
	})

	t.Run("keys hashed", func(t *testing.T) {
		for _, k := range allKeys(t, cs[0]) {
			if !strings.HasPrefix(k, DefaultPrefix+"rate:") {
				t.Errorf("key %q lacks the prefix", k)
			}
			if strings.Contains(k, client) || strings.Contains(k, "203.0.113") || strings.Contains(k, "clients") {
				t.Errorf("key %q reveals the client or the namespace", k)
			}
		}
	})
}

// TestOutage stops and freezes a real redis-server under live clients:
// every call fails within its deadline (plus scheduling slack), a failed
// replay check is never fresh, a failed rate check is never allowed,
// nothing panics; once the server is back the same clients work again.
func TestOutage(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	const deadline = 150 * time.Millisecond
	c, err := Open(Options{URL: srv.URL, Timeout: deadline})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	replay := NewReplay(c, ReplayOptions{Namespace: "psk"})
	lim, err := NewLimiter(c, LimiterOptions{Limit: Limit{Rate: 1000, Period: time.Second, Burst: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, wantUp bool) {
		t.Helper()
		key := make([]byte, 16)
		_, _ = rand.Read(key)
		start := time.Now()
		fresh, rerr := replay.Seen(ctx, key, time.Minute)
		d, lerr := lim.Allow(ctx, "client")
		perr := c.Ping(ctx)
		took := time.Since(start)
		if wantUp {
			if rerr != nil || lerr != nil || perr != nil || !fresh || !d.Allowed {
				t.Fatalf("with Redis up: fresh=%v %v; allowed=%v %v; ping %v", fresh, rerr, d.Allowed, lerr, perr)
			}
			return
		}
		for _, err := range []error{rerr, lerr, perr} {
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("with Redis down: %v, want an ErrUnavailable", err)
			}
		}
		if fresh {
			t.Error("a failed replay check reported fresh")
		}
		if d.Allowed {
			t.Error("a failed rate check reported allowed")
		}
		t.Logf("three failing calls (replay, rate, ping) took %s (deadline %s each)", took.Round(time.Millisecond), deadline)
		// Three calls, each bounded by the deadline; 1 s of slack for a busy machine.
		if limit := 3*deadline + time.Second; took > limit {
			t.Errorf("three calls took %s with Redis down, want under %s", took, limit)
		}
	}
	recovers := func(t *testing.T) {
		t.Helper()
		// go-redis stops dialling after repeated dial errors and probes once a
		// second; allow 5 s.
		back := time.Now()
		end := back.Add(5 * time.Second)
		for c.Ping(ctx) != nil {
			if time.Now().After(end) {
				t.Fatal("the client did not recover within 5 s of Redis coming back")
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("recovered %s after Redis accepted connections again", time.Since(back).Round(time.Millisecond))
		check(t, true)
	}

	check(t, true)
	t.Run("stopped", func(t *testing.T) {
		srv.Stop()
		for range 20 { // beyond the pool's dial-error threshold
			check(t, false)
		}
		srv.Restart()
		recovers(t)
	})
	t.Run("frozen", func(t *testing.T) {
		srv.Freeze()
		for range 3 {
			check(t, false)
		}
		srv.Thaw()
		recovers(t)
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		fresh, err := replay.Seen(cctx, []byte("k"), time.Minute)
		if fresh || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: fresh=%v err=%v", fresh, err)
		}
	})
}

// TestRedisFull fills Redis to its memory limit under the noeviction
// policy (what the chart configures): writes fail, so a replay check is an
// error and never fresh, and a rate check is an error, not an allowance.
func TestRedisFull(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	c := replicas(t, srv, 1)[0]
	replay := NewReplay(c, ReplayOptions{Namespace: "psk"})
	lim, err := NewLimiter(c, LimiterOptions{Limit: Limit{Rate: 10, Period: time.Second, Burst: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if fresh, err := replay.Seen(ctx, []byte("before"), time.Minute); !fresh || err != nil {
		t.Fatalf("before the limit: %v %v", fresh, err)
	}
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", "1"}} {
		if err := c.Redis().ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	fresh, err := replay.Seen(ctx, []byte("after"), time.Minute)
	if fresh || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("replay check on a full Redis: fresh=%v err=%v, want false and an OOM ErrUnavailable", fresh, err)
	}
	if d, err := lim.Allow(ctx, "client"); d.Allowed || !errors.Is(err, ErrUnavailable) {
		t.Errorf("rate check on a full Redis: %+v %v, want not allowed and ErrUnavailable", d, err)
	}
	// The entry written before the limit still answers "seen".
	if fresh, err := replay.Seen(ctx, []byte("before"), time.Minute); fresh {
		t.Errorf("replay of an entry stored before the limit: fresh=%v %v", fresh, err)
	}
}
