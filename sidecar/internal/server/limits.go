package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/bodybuf"
	"github.com/sealocr/sealocr/sidecar/internal/clientip"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/logging"
)

// clientKey is the key of a client for the rate limiter and the per-client
// concurrency bound: its authenticated identity, else its address (IPv6 by
// /64, see clientip.Key).
func clientKey(r *http.Request) string {
	if id, ok := auth.IdentityFrom(r.Context()); ok {
		return id.Key()
	}
	return addrKey(r)
}

// addrKey is the address part of clientKey, for failed authentications.
func addrKey(r *http.Request) string { return clientip.Key(clientip.FromContext(r.Context())) }

// perClientLimit bounds each client's requests in progress to n (body
// reading included), so that one client cannot take every slot.
func perClientLimit(n int, log *zap.Logger) middleware {
	var mu sync.Mutex
	inflight := map[string]int{}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := clientKey(r)
			mu.Lock()
			if inflight[k] >= n {
				mu.Unlock()
				logging.For(r.Context(), log).Info("client over its concurrency share", zap.String("path", r.URL.Path))
				api.Write(w, api.Busy)
				return
			}
			inflight[k]++
			mu.Unlock()
			defer func() {
				mu.Lock()
				if inflight[k]--; inflight[k] == 0 {
					delete(inflight, k)
				}
				mu.Unlock()
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// budget is a byte budget shared by all requests: the total of the bytes
// of request bodies held in memory at once, every copy counted (a buffer
// as it fills, an OHTTP request's plaintext while it coexists with its
// ciphertext). Within it each client (identity, else address) holds at most
// perClient bytes of arriving bodies, and anonymous clients together at
// most anonMax, so that neither one client nor anonymous traffic can take
// what an authenticated client needs.
type budget struct {
	mu        sync.Mutex
	max       int64
	perClient int64 // bytes of arriving bodies per client
	anonMax   int64 // all anonymous clients together (max when no reservation)
	used      int64
	anonUsed  int64
	byClient  map[string]int64
	gauge     prometheus.Gauge // sealocr_sidecar_buffered_bytes; may be nil
}

// owner is whose bytes a hold counts: a client key, and whether the client
// is anonymous.
type owner struct {
	key  string
	anon bool
}

// take reserves n bytes for o; shared says that o's own share is not
// asked (a further copy of bytes that already passed it); false when the
// budget cannot hold them now.
func (b *budget) take(o owner, n int64, shared bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.max-b.used || (o.anon && n > b.anonMax-b.anonUsed) {
		return false
	}
	if !shared {
		if n > b.perClient-b.byClient[o.key] {
			return false
		}
		if b.byClient == nil {
			b.byClient = map[string]int64{}
		}
		b.byClient[o.key] += n
	}
	b.used += n
	if o.anon {
		b.anonUsed += n
	}
	b.report()
	return true
}

// add counts n bytes of o in the shared budget without asking (a copy in
// progress of bytes counted a moment ago); give(o, n, true) returns them.
func (b *budget) add(o owner, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used += n
	if o.anon {
		b.anonUsed += n
	}
	b.report()
}

// give returns n bytes taken by take(o, n, shared).
func (b *budget) give(o owner, n int64, shared bool) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !shared {
		if b.byClient[o.key] -= n; b.byClient[o.key] <= 0 {
			delete(b.byClient, o.key)
		}
	}
	b.used -= n
	if o.anon {
		b.anonUsed -= n
	}
	b.report()
}

// report publishes the bytes in use; b.mu is held.
func (b *budget) report() {
	if b.gauge != nil {
		b.gauge.Set(float64(b.used))
	}
}

// hold is one request's part of the budget: the bytes of its body buffer,
// counted against its client's share, and of further copies (extra), which
// only the shared budget counts. It is used by one goroutine at a time.
type hold struct {
	b     *budget
	o     owner
	n     int64 // body bytes reserved
	extra int64 // further copies reserved
}

func (h *hold) grow(n int64) bool {
	if !h.b.take(h.o, n, false) {
		return false
	}
	h.n += n
	return true
}

func (h *hold) shrink(n int64) { h.b.give(h.o, n, false); h.n -= n }

// done gives everything back.
func (h *hold) done() {
	h.b.give(h.o, h.n, false)
	h.b.give(h.o, h.extra, true)
	h.n, h.extra = 0, 0
}

// Body reading parameters (see Options).
type bodyRules struct {
	max     int64         // largest body
	minRate float64       // bytes per second, after grace
	grace   time.Duration // time before minRate applies
	total   time.Duration // longest a whole body may take
	budget  *budget
	bufs    *bodybuf.Pool // lends the buffers; nil allocates
	log     *zap.Logger
}

// Buffered is the request body after the server has read it: the gateway
// takes the bytes without copying them (Bytes), may reserve room in the
// byte budget for a copy it has to make (Reserve), and gives the bytes
// back as soon as it no longer needs them (Release).
type Buffered struct {
	io.Reader
	b       []byte
	held    []byte // the pooled buffer holding b
	h       *hold
	bufs    *bodybuf.Pool
	release sync.Once
}

// Bytes returns the whole body.
func (b *Buffered) Bytes() []byte { return b.b }

// Reserve counts n more bytes of memory in the server's byte budget for
// this request (a copy of the body: an OHTTP request's plaintext) until the
// request ends; false when the budget cannot hold them now (the caller
// answers 503 busy).
func (b *Buffered) Reserve(n int64) bool {
	if n <= 0 {
		return true
	}
	if !b.h.b.take(b.h.o, n, true) {
		return false
	}
	b.h.extra += n
	return true
}

// Release zeroes the body's buffer and gives it back, with its part of the
// byte budget, before the request ends: the caller no longer uses Bytes
// (nor anything sliced from it). Later calls do nothing.
func (b *Buffered) Release() {
	b.release.Do(func() {
		b.b = nil
		b.Reader = bytes.NewReader(nil)
		b.bufs.Put(b.held)
		b.held = nil
		b.h.shrink(b.h.n)
	})
}

// Close implements io.Closer.
func (b *Buffered) Close() error { return nil }

var (
	errTooLarge = errors.New("body over the limit")
	errNoBudget = errors.New("buffer budget exhausted")
	errTooSlow  = errors.New("body below the minimum rate")
)

// readChunk bounds the first buffer of a body: bytes are counted as they
// arrive, the buffer doubling as it fills (never beyond Content-Length).
const readChunk = 64 << 10

// nextSize is the size of the buffer that replaces a full one of old bytes
// (0: none yet) for a body of at most limit bytes. It doubles from
// readChunk; when the length is declared (exact), the first buffer is the
// length halved until it fits readChunk instead, so that the doublings end
// on the length itself: a body just over a power of two (a 1 MiB image
// with its envelope) then takes one copy fewer, with no buffer larger than
// before (at most twice what has arrived, or readChunk).
func nextSize(old, limit int64, exact bool) int64 {
	first := int64(readChunk)
	if exact {
		first = limit
		for first > readChunk {
			first = (first + 1) / 2
		}
	}
	return min(max(2*old, first), limit)
}

// bufferBody reads the body of an encrypted request into memory before the
// request takes a concurrency slot, under the byte budget, the client's
// share of it, the minimum rate and the total time. The budget counts what
// has arrived (the buffer doubles as it fills, from readChunk at most:
// nextSize), never what Content-Length promises, so a slow client holds
// only what it sent. The body's deadline moves with what has arrived: by
// grace + n/minRate after the start, n bytes must be there, and the whole
// body by total (set on the connection with http.ResponseController before
// each read, and checked after it). Other requests carry no body onwards: plain routes
// are GET and HEAD only, and every other request is refused without
// reading it.
func bufferBody(o bodyRules) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > o.max { // any request: the size answer comes first
				logging.For(r.Context(), o.log).Info("request body refused", zap.Stringer("answer", api.TooLarge), zap.Int64("content_length", r.ContentLength))
				api.Write(w, api.TooLarge)
				return
			}
			switch k, _ := route.FromContext(r.Context()); k {
			case route.PSK, route.OHTTP, route.Legacy:
			default:
				if r.Body != nil {
					_ = r.Body.Close()
				}
				r.Body, r.ContentLength = http.NoBody, 0
				next.ServeHTTP(w, r)
				return
			}
			_, authenticated := auth.IdentityFrom(r.Context())
			h := &hold{b: o.budget, o: owner{key: clientKey(r), anon: !authenticated}}
			defer h.done()
			buf, held, err := o.read(w, r, h)
			if err != nil {
				o.bufs.Put(held)
				// Fixed causes only: a body reader's error is not
				// logged as text.
				id, why := api.CannotOpen, "read_error"
				switch {
				case errors.Is(err, errTooLarge):
					id, why = api.TooLarge, "too_large"
				case errors.Is(err, errNoBudget):
					id, why = api.Busy, "no_budget"
				case errors.Is(err, errTooSlow), errors.Is(err, os.ErrDeadlineExceeded):
					id, why = api.TooSlow, "too_slow"
				}
				logging.For(r.Context(), o.log).Info("request body refused", zap.Stringer("answer", id), zap.String("cause", why))
				api.Write(w, id)
				return
			}
			buf = buf[:len(buf):len(buf)] // an append moves out of the pooled buffer
			body := &Buffered{Reader: bytes.NewReader(buf), b: buf, held: held, h: h, bufs: o.bufs}
			// Zeroed and recycled once the handler is done with it, if it
			// did not release it before: the gateway opens PSK requests
			// in place and the upstream call stops reading the body
			// before it returns.
			defer body.Release()
			r.Body, r.ContentLength = body, int64(len(buf))
			next.ServeHTTP(w, r)
		})
	}
}

// read reads r's body under h; it returns the bytes and the buffer that
// holds them (to give back to o.bufs, whatever the outcome).
func (o bodyRules) read(w http.ResponseWriter, r *http.Request, h *hold) (body, buf []byte, err error) {
	if r.ContentLength > o.max {
		return nil, nil, fmt.Errorf("%w: content length %d", errTooLarge, r.ContentLength)
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, nil, nil
	}
	rc := http.NewResponseController(w)
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	start := time.Now()
	end := start.Add(o.total)
	due := func(n int) time.Time {
		d := start.Add(o.grace + time.Duration(float64(n)/o.minRate*float64(time.Second)))
		if d.After(end) {
			return end
		}
		return d
	}
	limit := o.max // unknown length: a byte more than the limit is too large
	if r.ContentLength > 0 {
		limit = r.ContentLength
	}
	n := 0
	for {
		if n == len(buf) {
			if int64(n) == limit { // all bytes there may be are in: expect EOF
				var one [1]byte
				_ = rc.SetReadDeadline(due(n))
				m, err := r.Body.Read(one[:])
				if m > 0 {
					return nil, buf, fmt.Errorf("%w: body longer than its length or the limit", errTooLarge)
				}
				if err == io.EOF {
					return buf, buf, nil
				}
				if err != nil {
					return nil, buf, err
				}
				if time.Now().After(due(n)) {
					return nil, buf, fmt.Errorf("%w: %d bytes in %s", errTooSlow, n, time.Since(start).Round(time.Millisecond))
				}
				continue
			}
			// The buffer is full: double it (nextSize), within the
			// declared length or the limit. The budget and the client's
			// share must hold the new buffer; while the old one is
			// copied into it, the budget counts both (the old one
			// without refusal: it was counted a moment ago, so a body as
			// large as the whole budget still fits).
			old := int64(len(buf))
			size := nextSize(old, limit, r.ContentLength > 0)
			if size <= old {
				return nil, buf, fmt.Errorf("%w: chunked body", errTooLarge)
			}
			if !h.grow(size - old) {
				return nil, buf, fmt.Errorf("%w: %d bytes arrived", errNoBudget, n)
			}
			h.b.add(h.o, old)
			nb := o.bufs.Get(int(size))
			copy(nb, buf)
			o.bufs.Put(buf)
			h.b.give(h.o, old, true)
			buf = nb
		}
		_ = rc.SetReadDeadline(due(n))
		m, err := r.Body.Read(buf[n:])
		n += m
		if time.Now().After(due(n)) {
			return nil, buf, fmt.Errorf("%w: %d bytes in %s", errTooSlow, n, time.Since(start).Round(time.Millisecond))
		}
		if err == io.EOF {
			if r.ContentLength > 0 && int64(n) < r.ContentLength {
				return nil, buf, io.ErrUnexpectedEOF
			}
			return buf[:n], buf, nil
		}
		if err != nil {
			return nil, buf, err
		}
	}
}

// closeUnread makes every answer given before the request's body was read
// to its end close the connection instead of draining the body: Go's
// HTTP/1 server otherwise reads up to 256 KiB of an unread body before it
// writes the answer, so a refusal to a slow upload (busy, rate limited,
// unauthorized, ...) would wait on the slow client. Expiring the read
// deadline and closing the body tell the server to answer at once and
// close the connection (for HTTP/2, to reset the stream's upload).
func closeUnread(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		b := &eofBody{ReadCloser: r.Body}
		r.Body = b
		next.ServeHTTP(&unreadWriter{ResponseWriter: w, body: b}, r)
	})
}

// eofBody records whether its reader reached the end.
type eofBody struct {
	io.ReadCloser
	eof atomic.Bool
}

func (b *eofBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

// unreadWriter closes the body before the answer starts if it was not read
// to its end.
type unreadWriter struct {
	http.ResponseWriter
	body *eofBody
	once sync.Once
}

func (w *unreadWriter) before() {
	w.once.Do(func() {
		if !w.body.eof.Load() {
			// The server's Close drains up to 256 KiB too: a read deadline
			// in the past makes it give up at once.
			_ = http.NewResponseController(w.ResponseWriter).SetReadDeadline(time.Now())
			_ = w.body.Close()
		}
	})
}

func (w *unreadWriter) WriteHeader(code int) { w.before(); w.ResponseWriter.WriteHeader(code) }

func (w *unreadWriter) Write(b []byte) (int, error) { w.before(); return w.ResponseWriter.Write(b) }

// Unwrap lets http.ResponseController reach the connection.
func (w *unreadWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
