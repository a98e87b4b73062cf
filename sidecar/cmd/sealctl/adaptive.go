package main

import (
	"context"
	"sync"
	"time"

	"github.com/sealocr/sealocr/sidecar/client"
)

// limiter bounds the files in flight with an AIMD window, as TCP does its
// congestion window: the window starts at the --concurrency cap, halves
// when the server answers busy or rate-limited (at most once per round:
// an answer to an attempt sent before the last cut does not cut again), and
// grows by one for every window's worth of successes, never below 1 nor
// above the cap. A saturated server thus sees fewer and fewer requests
// instead of a steady hammering, and a recovered one gets them back.
type limiter struct {
	mu       sync.Mutex
	max      int
	window   float64
	inflight int
	lastCut  time.Time
	wake     chan struct{} // closed and replaced when a slot may be free
	retries  int
	lowest   int
	ok       int // files that succeeded
	again    int // rounds started again after retries ran out
	now      func() time.Time
	// goRound lets a file whose retries ran out go round again while
	// others succeed (not with --max-retries 0).
	goRound bool
}

func newLimiter(max int) *limiter {
	return &limiter{max: max, window: float64(max), lowest: max, wake: make(chan struct{}), now: time.Now}
}

// size is the current window in whole requests.
func (l *limiter) size() int { return max(1, int(l.window)) }

// acquire waits for a slot; it fails only when ctx ends.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.inflight < l.size() {
			l.inflight++
			l.mu.Unlock()
			return nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release frees a slot; a success grows the window.
func (l *limiter) release(ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	if ok {
		l.ok++
		l.window = min(float64(l.max), l.window+1/l.window)
	}
	l.signal()
}

// retried records a retry of an attempt sent at sent; a busy or
// rate-limited answer shrinks the window.
func (l *limiter) retried(ri client.RetryInfo, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retries++
	if client.IsBusy(ri.Err) {
		l.cut(sent)
	}
}

// congested records an overload signal other than a retry (the core's
// timeout) for an attempt sent at sent.
func (l *limiter) congested(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut(sent)
}

// cut halves the window unless it was cut after sent; l.mu is held.
func (l *limiter) cut(sent time.Time) {
	if sent.After(l.lastCut) {
		l.window = max(1, l.window/2)
		l.lastCut = l.now()
		l.lowest = min(l.lowest, l.size())
	}
}

// signal wakes the waiters; l.mu is held.
func (l *limiter) signal() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// stats returns the retries so far, the current window and the lowest
// window reached.
func (l *limiter) stats() (retries, current, lowest int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retries, l.size(), l.lowest
}

// observe returns the OnRetry hook of one file's call: it reports each
// retry with the time its failed attempt was sent.
func (l *limiter) observe() func(client.RetryInfo) {
	sent := l.now()
	return func(ri client.RetryInfo) {
		l.retried(ri, sent)
		sent = l.now().Add(ri.Delay)
	}
}

// successes returns how many files have succeeded so far.
func (l *limiter) successes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok
}

// wentRound counts a file sent again after its retries ran out.
func (l *limiter) wentRound() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.again++
}

// rounds returns how many times files went round again.
func (l *limiter) rounds() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.again
}
