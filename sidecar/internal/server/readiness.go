package server

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// readyCacheFor is how long an upstream readiness verdict is reused: GET
// /readyz is answered before every limiter (probes must never be refused),
// so without it each request from anyone would cost the core a call.
const readyCacheFor = time.Second

// readyProbeTimeout bounds one upstream readiness probe.
const readyProbeTimeout = 3 * time.Second

// readyCache asks the upstream whether it is ready at most once per
// readyCacheFor, whatever the rate of /readyz requests: concurrent callers
// share the probe in progress and the verdict it leaves. The probe runs
// detached from the request that started it, so a client that hangs up
// cannot make the verdict "not ready" for everyone else.
type readyCache struct {
	up  Readiness
	log *zap.Logger
	now func() time.Time

	mu      sync.Mutex // held while a probe runs: callers queue behind it
	checked time.Time  // when err was found; zero: never
	err     error
}

// ready returns the upstream's verdict, probing it if the last one is older
// than readyCacheFor. A caller waits at most for the probe in progress
// (readyProbeTimeout).
func (c *readyCache) ready(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); !c.checked.IsZero() && now.Sub(c.checked) < readyCacheFor && !now.Before(c.checked) {
		return c.err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyProbeTimeout)
	defer cancel()
	c.err = c.up.Ready(pctx)
	c.checked = c.now()
	if c.err != nil {
		c.log.Info("readiness: upstream not ready", zap.Error(c.err))
	}
	return c.err
}
