package redisstate

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/redisstate/redistest"
)

// TestACLPrefix runs the replay cache, the rate limiter and the access check
// as a real Redis ACL user allowed only the keys under the sidecar's prefix
// (~sealocr:*), the way an operator shares a Redis: every call works and
// every key written is under the prefix. With redis_rate's own "rate:" in
// front of the bucket keys (the code before ownKeys) the limiter is refused
// with NOPERM. The same user under another prefix fails CheckAccess with
// ErrPermission, which a sidecar refuses to start on.
func TestACLPrefix(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	admin := replicas(t, srv, 1)[0]
	if err := admin.Redis().Do(ctx, "ACL", "SETUSER", "sealocr", "on", ">acl-test-password",
		"resetkeys", "~"+DefaultPrefix+"*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("sealocr")
	c, err := Open(Options{URL: u.String(), PasswordEnv: "P", Timeout: testTimeout,
		Getenv: func(string) string { return "acl-test-password" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	if err := c.CheckAccess(ctx, DefaultPrefix); err != nil {
		t.Fatalf("CheckAccess under the user's own prefix: %v", err)
	}
	l, err := NewLimiter(c, LimiterOptions{Limit: Limit{Rate: 1, Period: time.Minute, Burst: 2}, Namespace: "clients"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d, err := l.Allow(ctx, "203.0.113.7")
		if err != nil {
			t.Fatalf("rate limit as the prefix-limited user: %v", err)
		}
		if d.Allowed != (i < 2) {
			t.Errorf("event %d: allowed=%v, want allowed only within the burst of 2", i, d.Allowed)
		}
	}
	if _, err := l.Peek(ctx, "203.0.113.7", Limit{Rate: 1, Period: time.Minute, Burst: 2}); err != nil {
		t.Errorf("peek as the prefix-limited user: %v", err)
	}
	if fresh, err := NewReplay(c, ReplayOptions{Namespace: "psk"}).Seen(ctx, []byte("nonce"), time.Minute); err != nil || !fresh {
		t.Errorf("replay as the prefix-limited user: fresh=%v %v", fresh, err)
	}
	keys := allKeys(t, admin)
	if len(keys) == 0 {
		t.Fatal("nothing was written")
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, DefaultPrefix) {
			t.Errorf("key %q is outside the prefix %q", k, DefaultPrefix)
		}
		if strings.Contains(k, "probe") {
			t.Errorf("CheckAccess left its probe key %q behind", k)
		}
	}

	err = c.CheckAccess(ctx, "other:")
	if !errors.Is(err, ErrPermission) || !errors.Is(err, ErrUnavailable) || !IsReply(err) {
		t.Fatalf("CheckAccess under a prefix the user may not write: %v, want ErrPermission, a Redis reply", err)
	}
	l2, err := NewLimiter(c, LimiterOptions{Limit: Limit{Rate: 1, Period: time.Minute, Burst: 2}, Prefix: "other:"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Allow(ctx, "203.0.113.7"); !errors.Is(err, ErrPermission) {
		t.Errorf("rate limit outside the user's keys: %v, want ErrPermission", err)
	}

	// Redis down is not a reply: the failure policy decides, not a refusal to start.
	srv.Stop()
	if err := c.CheckAccess(ctx, DefaultPrefix); err == nil || IsReply(err) || errors.Is(err, ErrPermission) {
		t.Errorf("CheckAccess with Redis stopped: %v, want an unavailable error that is not a reply", err)
	}
}
