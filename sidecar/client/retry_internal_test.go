package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	p := newRetryPolicy(Config{})
	if p.max != DefaultMaxRetries || p.base != DefaultRetryBaseDelay || p.ceiling != DefaultRetryMaxDelay {
		t.Fatalf("defaults %+v", p)
	}
	const almost1 = 0.999999
	tests := []struct {
		n          int
		retryAfter time.Duration
		u          float64
		want       time.Duration
	}{
		{0, 0, 0, 0},
		{0, 0, 0.5, 125 * time.Millisecond},
		{1, 0, 0.5, 250 * time.Millisecond},
		{4, 0, 0.5, 2 * time.Second},
		{5, 0, 0.5, 4 * time.Second},      // 8 s ceiling reached
		{6, 0, 0.5, 4 * time.Second},      // and kept
		{200, 0, 0.5, 4 * time.Second},    // no overflow
		{63, 0, almost1, 8 * time.Second}, // below the cap
		{0, time.Second, 0, time.Second},
		{0, time.Second, 0.5, time.Second + 125*time.Millisecond},
		{3, 30 * time.Second, 0.5, 31 * time.Second}, // Retry-After is not capped
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n%d_ra%s_u%g", tt.n, tt.retryAfter, tt.u), func(t *testing.T) {
			got := p.backoff(tt.n, tt.retryAfter, tt.u)
			if d := got - tt.want; d < -time.Microsecond*10 || d > time.Microsecond*10 {
				t.Errorf("backoff = %s, want %s", got, tt.want)
			}
		})
	}
	if got := p.backoff(63, 0, almost1); got >= 8*time.Second {
		t.Errorf("backoff reached the cap: %s", got)
	}
	for _, cfg := range []struct {
		in   Config
		want retryPolicy
	}{
		{Config{MaxRetries: -1}, retryPolicy{0, DefaultRetryBaseDelay, DefaultRetryMaxDelay, 0}},
		{Config{MaxRetries: 2, RetryBaseDelay: time.Second, RetryMaxDelay: time.Millisecond, AttemptTimeout: -1},
			retryPolicy{2, time.Second, time.Second, 0}},
	} {
		if got := newRetryPolicy(cfg.in); got != cfg.want {
			t.Errorf("newRetryPolicy(%+v) = %+v, want %+v", cfg.in, got, cfg.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestRetryable(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	wrap := func(err error) error { return fmt.Errorf("sealocr client: %w", err) }
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"503 busy", live, &ServerError{Status: 503, Code: "busy"}, true},
		{"sealed 503 busy", live, &ServerError{Status: 503, Code: "busy", Sealed: true}, true},
		{"429", live, &ServerError{Status: 429}, true},
		{"503 with Retry-After", live, &ServerError{Status: 503, RetryAfter: time.Second}, true},
		{"503 not_ready", live, &ServerError{Status: 503, Code: "not_ready"}, false},
		{"503 timeout", live, &ServerError{Status: 503, Code: "timeout", Sealed: true}, false},
		{"502", live, &ServerError{Status: 502, Code: "upstream_unavailable"}, false},
		{"400 cannot_open", live, &ServerError{Status: 400, Code: "cannot_open"}, false},
		{"415", live, &ServerError{Status: 415, Code: "unsupported_media_type"}, false},
		{"busy but the call ended", done, &ServerError{Status: 503, Code: "busy"}, false},
		{"attempt deadline", live, wrap(context.DeadlineExceeded), true},
		{"EOF", live, wrap(io.EOF), true},
		{"unexpected EOF", live, wrap(io.ErrUnexpectedEOF), true},
		{"reset", live, wrap(syscall.ECONNRESET), true},
		{"refused", live, wrap(syscall.ECONNREFUSED), false},
		{"dial timeout", live, &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, false},
		{"no such host", live, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}, false},
		{"read timeout after connecting", live, &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, true},
		{"net timeout", live, wrap(timeoutErr{}), true},
		{"call cancelled", live, wrap(context.Canceled), false},
		{"open failure", live, ErrOpenResponse, false},
		{"too large", live, ErrResponseTooLarge, false},
		{"other", live, errors.New("x509: certificate signed by unknown authority"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryable(tt.ctx, tt.err); got != tt.want {
				t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if !IsBusy(fmt.Errorf("wrapped: %w", &ServerError{Status: http.StatusTooManyRequests})) {
		t.Error("IsBusy misses a wrapped 429")
	}
}

func TestWithRetryAfter(t *testing.T) {
	se := &ServerError{Status: 503, Code: "busy"}
	if err := withRetryAfter(se, " 2 "); err != se || se.RetryAfter != 2*time.Second {
		t.Errorf("RetryAfter = %s", se.RetryAfter)
	}
	for _, v := range []string{"", "soon", "-1", "0", "Wed, 21 Oct 2015 07:28:00 GMT"} {
		se := &ServerError{Status: 503}
		_ = withRetryAfter(se, v)
		if se.RetryAfter != 0 {
			t.Errorf("%q: RetryAfter = %s", v, se.RetryAfter)
		}
	}
	other := errors.New("x")
	if withRetryAfter(other, "3") != other {
		t.Error("non-ServerError changed")
	}
}
