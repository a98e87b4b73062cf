package logging

import (
	"context"

	"go.uber.org/zap"
)

type fieldsKey struct{}

// WithRequest returns ctx carrying fields that every log line about its
// request adds (the server puts the request ID there, right after it is
// set: the tsweb habit of a request-scoped logger). Fields go through the
// redacting encoder like any other.
func WithRequest(ctx context.Context, fields ...zap.Field) context.Context {
	if prev, ok := ctx.Value(fieldsKey{}).([]zap.Field); ok {
		fields = append(append([]zap.Field(nil), prev...), fields...)
	}
	return context.WithValue(ctx, fieldsKey{}, fields)
}

// For returns l with the fields of ctx's request (WithRequest), or l
// itself for a context without any: a component keeps its own logger
// (name, level) and its lines about a request carry the request's ID.
func For(ctx context.Context, l *zap.Logger) *zap.Logger {
	if ctx == nil {
		return l
	}
	if fields, ok := ctx.Value(fieldsKey{}).([]zap.Field); ok && len(fields) > 0 {
		// Lazily: the fields are encoded only if a line is written, not
		// for each debug line skipped at the usual levels.
		return l.WithLazy(fields...)
	}
	return l
}
