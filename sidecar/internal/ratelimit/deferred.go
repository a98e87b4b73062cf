package ratelimit

import (
	"context"
	"net/http"
)

// Deferred takes a request's tokens once its client is known: for an
// Oblivious HTTP request without outer credentials the client is only
// known once the request is opened (the credentials travel inside it, and
// behind a relay the address is the relay's, shared by many clients).
// identity is the authenticated identity's key, or "" to charge the
// request's address. It returns true when it has answered the request
// itself (429, or 503 busy when a shared store fails closed); the caller
// then writes nothing more.
type Deferred func(w http.ResponseWriter, r *http.Request, identity string) (answered bool)

type deferredKey struct{}

// WithDeferred returns ctx carrying d: the limiter took no token for the
// request, and whoever opens it must call d exactly once.
func WithDeferred(ctx context.Context, d Deferred) context.Context {
	return context.WithValue(ctx, deferredKey{}, d)
}

// DeferredFrom returns the Deferred charge of a request whose tokens were
// not taken yet, or nil when they were (or when rate limiting is off).
func DeferredFrom(ctx context.Context) Deferred {
	d, _ := ctx.Value(deferredKey{}).(Deferred)
	return d
}
