package client

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Retry defaults, used when the [Config] fields are zero.
const (
	// DefaultMaxRetries is how many times a call is retried after a busy
	// or rate-limited answer or a failed attempt ([Config.MaxRetries]).
	DefaultMaxRetries = 5
	// DefaultRetryBaseDelay is the ceiling of the first random backoff
	// ([Config.RetryBaseDelay]); it doubles with every retry.
	DefaultRetryBaseDelay = 250 * time.Millisecond
	// DefaultRetryMaxDelay caps the backoff ceiling
	// ([Config.RetryMaxDelay]).
	DefaultRetryMaxDelay = 8 * time.Second
)

// RetryInfo describes a retry about to happen; see [OCROptions.OnRetry].
type RetryInfo struct {
	// Attempt is the number of the attempt about to be made: 2 for the
	// first retry.
	Attempt int
	// Delay is how long the client waits before that attempt.
	Delay time.Duration
	// Err is what the previous attempt got: a [*ServerError] (503 busy or
	// 429, see [IsBusy]) or a transport error.
	Err error
}

// IsBusy reports whether err is an answer telling the client to slow down:
// 429 Too Many Requests, 503 with the code "busy", or 503 with a
// Retry-After, whether the sidecar sent it in the clear or the core's
// answer came sealed. The client retries these by itself; a caller that
// still gets one has run out of retries or of time.
func IsBusy(err error) bool {
	var se *ServerError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Status {
	case http.StatusTooManyRequests:
		return true
	case http.StatusServiceUnavailable:
		return se.Code == "busy" || se.RetryAfter > 0
	}
	return false
}

// retryPolicy is the retry part of a Client's configuration.
type retryPolicy struct {
	max            int           // retries after the first attempt; 0: none
	base, ceiling  time.Duration // backoff: full jitter in [0, min(ceiling, base·2^n))
	attemptTimeout time.Duration // 0: only the call's deadline
}

// newRetryPolicy fills the defaults of cfg's retry fields.
func newRetryPolicy(cfg Config) retryPolicy {
	p := retryPolicy{max: cfg.MaxRetries, base: cfg.RetryBaseDelay, ceiling: cfg.RetryMaxDelay, attemptTimeout: cfg.AttemptTimeout}
	switch {
	case p.max == 0:
		p.max = DefaultMaxRetries
	case p.max < 0:
		p.max = 0
	}
	if p.base <= 0 {
		p.base = DefaultRetryBaseDelay
	}
	if p.ceiling <= 0 {
		p.ceiling = DefaultRetryMaxDelay
	}
	p.ceiling = max(p.ceiling, p.base)
	if p.attemptTimeout < 0 {
		p.attemptTimeout = 0
	}
	return p
}

// backoff returns the wait before retry number n (0 for the first retry)
// given the server's Retry-After (0 if none) and a uniform random u in
// [0, 1). Without Retry-After it is "full jitter": uniform in
// [0, min(ceiling, base·2^n)). With it, the wait is never shorter than
// Retry-After, plus the same random share, so that clients told the same
// delay do not all return at the same moment.
func (p retryPolicy) backoff(n int, retryAfter time.Duration, u float64) time.Duration {
	ceil := p.ceiling
	if n < 32 && p.base<<n > 0 && p.base<<n < ceil {
		ceil = p.base << n
	}
	return retryAfter + time.Duration(u*float64(ceil))
}

// IsUnreachable reports whether err is a failure to connect at all: the
// connection was refused, the name did not resolve, or the dial timed out
// or found no route. No request reached a server, and the client does not
// retry it: a server that is not running does not start by itself, and a
// caller (sealctl) says so at once rather than after minutes of backoff.
func IsUnreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns)
}

// retryable reports whether an attempt that ended in err may be tried
// again: busy and rate-limited answers, and transport failures after a
// connection was made where no answer arrived (the connection was reset or
// closed, or the attempt timed out) while the call's own context is still
// alive. A failure to connect (IsUnreachable) is final. The others include
// requests the server may already have processed; resending them is safe
// only because OCR is idempotent (it changes no state), and each resend is
// a new sealed request, never a replay of the old bytes.
func retryable(call context.Context, err error) bool {
	if call.Err() != nil || IsUnreachable(err) {
		return false
	}
	if IsBusy(err) {
		return true
	}
	var te *attemptTimeoutError
	if errors.As(err, &te) {
		return true
	}
	var se *ServerError
	if errors.As(err, &se) {
		return false // any other answer is final
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), // the attempt's timeout
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// retryAfterOf returns the Retry-After of a ServerError, or zero.
func retryAfterOf(err error) time.Duration {
	var se *ServerError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// withRetryAfter sets the Retry-After of a ServerError from a header value
// in seconds (an encapsulated answer's field); other errors pass through.
func withRetryAfter(err error, value string) error {
	var se *ServerError
	if value == "" || !errors.As(err, &se) {
		return err
	}
	if n, perr := strconv.Atoi(strings.TrimSpace(value)); perr == nil && n > 0 {
		se.RetryAfter = time.Duration(n) * time.Second
	}
	return err
}

// retry runs attempt until it succeeds, fails for good, runs out of
// retries, or the next wait would pass ctx's deadline; each attempt gets
// its own deadline when an attempt timeout is set. The error returned is
// the last attempt's, so a caller still sees what the server answered.
func (c *Client) retry(ctx context.Context, onRetry func(RetryInfo), attempt func(context.Context) (*Answer, error)) (*Answer, error) {
	for n := 0; ; n++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if c.retries.attemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, c.retries.attemptTimeout)
		}
		out, err := attempt(actx)
		if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			// The attempt's own deadline passed. An answer that raced in
			// (the sidecar answering our abandoned request with 502, say)
			// does not make the attempt less timed out.
			err = &attemptTimeoutError{answer: err}
		}
		cancel()
		if err == nil || n >= c.retries.max || !retryable(ctx, err) {
			return out, err
		}
		d := c.retries.backoff(n, retryAfterOf(err), rand.Float64())
		if dl, ok := ctx.Deadline(); ok && !time.Now().Add(d).Before(dl) {
			return nil, err // waiting would pass the deadline: answer now
		}
		if onRetry != nil {
			onRetry(RetryInfo{Attempt: n + 2, Delay: d, Err: err})
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// attemptTimeoutError is an attempt that ran out of Config.AttemptTimeout;
// it matches context.DeadlineExceeded and unwraps to what the attempt
// returned, so a final error still says what the server answered.
type attemptTimeoutError struct{ answer error }

func (e *attemptTimeoutError) Error() string { return "attempt timed out: " + e.answer.Error() }

// Is reports that the attempt timed out.
func (e *attemptTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Unwrap returns what the attempt returned.
func (e *attemptTimeoutError) Unwrap() error { return e.answer }
