package redisstate

import (
	"os"
	"testing"

	"go.uber.org/zap"
)

func TestMain(m *testing.M) {
	// Dial failures of the outage tests are expected; keep them out of the output.
	SetLogger(zap.NewNop())
	os.Exit(m.Run())
}
