package redisstate

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// SetLogger sends go-redis's own messages (dial failures, pool events),
// which it otherwise prints to stderr, to l at warning level. go-redis keeps
// its logger in a package variable, so this is process-wide: main calls it
// once with the redacting logger. The messages name addresses and causes,
// never passwords or values.
func SetLogger(l *zap.Logger) {
	if l == nil {
		l = zap.NewNop()
	}
	redis.SetLogger(zapLogging{l.Named("redis")})
}

type zapLogging struct{ l *zap.Logger }

// Printf implements go-redis's internal logging interface.
func (z zapLogging) Printf(_ context.Context, format string, v ...any) {
	z.l.Warn(fmt.Sprintf(format, v...))
}
