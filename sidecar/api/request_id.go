package api

import (
	"context"
	"net/http"

	coreapi "github.com/sealocr/sealocr/core/api"
)

// RequestIDHeader is the header that carries the request ID, in both
// directions and to the core. It is the core's (core/api): one header, one
// validation rule on both sides.
const RequestIDHeader = coreapi.RequestIDHeader

// ValidRequestID reports whether id matches ^[A-Za-z0-9._-]{1,64}$
// (core/api.ValidRequestID).
func ValidRequestID(id string) bool { return coreapi.ValidRequestID(id) }

// NewRequestID returns a new random request ID (core/api.NewRequestID).
func NewRequestID() string { return coreapi.NewRequestID() }

// RequestID returns id when it is a valid request ID and a new random one
// otherwise (core/api.RequestID).
func RequestID(id string) string { return coreapi.RequestID(id) }

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request ID id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request ID stored in ctx, if any.
func RequestIDFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(requestIDKey{}).(string)
	return id, ok && id != ""
}

// RequestIDMiddleware sets the request ID once per request: the client's
// X-Request-ID when valid, else a new one. It is stored in the request's
// context (RequestIDFrom), replaces the request's header and is sent back
// in the response header.
func RequestIDMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := RequestID(r.Header.Get(RequestIDHeader))
		r.Header.Set(RequestIDHeader, id)
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(WithRequestID(r.Context(), id)))
	})
}
