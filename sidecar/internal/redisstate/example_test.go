package redisstate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/redisstate"
)

// A request handler's two shared-state checks and the failure policy: a
// replay check that fails refuses the request; a rate check that fails
// lets it through (fail open) or refuses it (fail closed) as configured.
func Example() {
	c, err := redisstate.Open(redisstate.Options{
		URL:          "rediss://redis.internal:6380/0",
		PasswordFile: "/run/secrets/redis-password",
		CAFile:       "/run/secrets/redis-ca.pem",
		Timeout:      250 * time.Millisecond,
	})
	if err != nil {
		fmt.Println("config:", err)
		return
	}
	defer c.Close()
	fmt.Println("shared state on", c.Redacted())

	replay := redisstate.NewReplay(c, redisstate.ReplayOptions{Namespace: "psk"})
	limiter, _ := redisstate.NewLimiter(c, redisstate.LimiterOptions{
		Limit: redisstate.Limit{Rate: 60, Period: time.Minute, Burst: 20}})
	ctx := context.Background()
	failOpen := true

	d, err := limiter.Allow(ctx, "client-id")
	switch {
	case errors.Is(err, redisstate.ErrUnavailable) && failOpen:
		// serve, count a metric, warn
	case err != nil, !d.Allowed:
		// 429 with Retry-After: d.RetryAfter (or 503 busy when failing closed)
		return
	}
	fresh, err := replay.Seen(ctx, []byte("key-id|nonce"), 60*time.Second)
	if err != nil || !fresh {
		// err: 503 busy with Retry-After; !fresh: the documented replay refusal
		return
	}
	// forward the request
}
