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
				log.Info("client over its concurrency share", zap.String("path", r.URL.Path))
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

// budget is a byte budget shared by all requests: the total of the request
// bodies held in memory at once.
type budget struct {
	mu    sync.Mutex
	max   int64
	used  int64
	gauge prometheus.Gauge // sealocr_sidecar_buffered_bytes; may be nil
}

// take reserves n bytes; false when the budget cannot hold them now.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.max-b.used {
		return false
	}
	b.used += n
	b.report()
	return true
}

// report publishes the bytes in use; b.mu is held.
func (b *budget) report() {
	if b.gauge != nil {
		b.gauge.Set(float64(b.used))
	}
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.report()
	b.mu.Unlock()
}

// Body reading parameters (see Options).
type bodyRules struct {
	max     int64         // largest body
	minRate float64       // bytes per second, after grace
	grace   time.Duration // time before minRate applies
	budget  *budget
	bufs    *bodybuf.Pool // lends the buffers; nil allocates
	log     *zap.Logger
}

// Buffered is the request body after the server has read it: the gateway
// takes the bytes without copying them (Bytes).
type Buffered struct {
	io.Reader
	b []byte
}

// Bytes returns the whole body.
func (b *Buffered) Bytes() []byte { return b.b }

// Close implements io.Closer.
func (b *Buffered) Close() error { return nil }

var (
	errTooLarge = errors.New("body over the limit")
	errNoBudget = errors.New("buffer budget exhausted")
	errTooSlow  = errors.New("body below the minimum rate")
)

// readChunk is the budget reserved at a time for a body of unknown length.
const readChunk = 64 << 10

// bufferBody reads the body of an encrypted request into memory before the
// request takes a concurrency slot, under the byte budget and the minimum
// rate. The body's deadline moves with what has arrived: by grace +
// n/minRate after the start, n bytes must be there (set on the connection
// with http.ResponseController before each read, and checked after it).
// Other requests carry no body onwards: plain routes are GET and HEAD only,
// and every other request is refused without reading it.
func bufferBody(o bodyRules) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > o.max { // any request: the size answer comes first
				o.log.Info("request body refused", zap.Stringer("answer", api.TooLarge), zap.Int64("content_length", r.ContentLength))
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
			buf, held, reserved, err := o.read(w, r)
			defer o.budget.give(reserved)
			// Cleared and recycled once the handler is done with it: the
			// gateway opens PSK requests in place and the upstream call
			// stops reading the body before it returns.
			defer o.bufs.Put(held)
			if err != nil {
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
				o.log.Info("request body refused", zap.Stringer("answer", id), zap.String("cause", why))
				api.Write(w, id)
				return
			}
			buf = buf[:len(buf):len(buf)] // an append moves out of the pooled buffer
			r.Body, r.ContentLength = &Buffered{Reader: bytes.NewReader(buf), b: buf}, int64(len(buf))
			next.ServeHTTP(w, r)
		})
	}
}

// read reads r's body; it returns the bytes, the buffer that holds them (to
// give back to o.bufs) and how much budget it holds (to give back whatever
// the outcome).
func (o bodyRules) read(w http.ResponseWriter, r *http.Request) (body, buf []byte, reserved int64, err error) {
	if r.ContentLength > o.max {
		return nil, nil, 0, fmt.Errorf("%w: content length %d", errTooLarge, r.ContentLength)
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, nil, 0, nil
	}
	rc := http.NewResponseController(w)
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	start := time.Now()
	due := func(n int) time.Time {
		return start.Add(o.grace + time.Duration(float64(n)/o.minRate*float64(time.Second)))
	}
	if r.ContentLength > 0 {
		if !o.budget.take(r.ContentLength) {
			return nil, nil, 0, errNoBudget
		}
		reserved = r.ContentLength
		// The budget counts body bytes; the pooled buffer holding them is
		// up to a quarter larger (its size class).
		buf = o.bufs.Get(int(r.ContentLength))
	}
	n := 0
	for {
		if n == len(buf) {
			if r.ContentLength > 0 { // all declared bytes are in: expect EOF
				var one [1]byte
				_ = rc.SetReadDeadline(due(n))
				m, err := r.Body.Read(one[:])
				if m > 0 {
					return nil, buf, reserved, fmt.Errorf("%w: body longer than its length", errTooLarge)
				}
				if err == io.EOF {
					return buf, buf, reserved, nil
				}
				if err != nil {
					return nil, buf, reserved, err
				}
				continue
			}
			// Unknown length: double the buffer (from readChunk), within
			// the limit and the budget, which holds the buffer's size.
			size := min(max(2*int64(len(buf)), readChunk), o.max+1)
			if size <= int64(len(buf)) {
				return nil, buf, reserved, fmt.Errorf("%w: chunked body", errTooLarge)
			}
			if !o.budget.take(size - int64(len(buf))) {
				return nil, buf, reserved, errNoBudget
			}
			reserved = size
			nb := o.bufs.Get(int(size))
			copy(nb, buf)
			o.bufs.Put(buf)
			buf = nb
		}
		_ = rc.SetReadDeadline(due(n))
		m, err := r.Body.Read(buf[n:])
		n += m
		if time.Now().After(due(n)) {
			return nil, buf, reserved, fmt.Errorf("%w: %d bytes in %s", errTooSlow, n, time.Since(start).Round(time.Millisecond))
		}
		if err == io.EOF {
			if r.ContentLength > 0 && int64(n) < r.ContentLength {
				return nil, buf, reserved, io.ErrUnexpectedEOF
			}
			if int64(n) > o.max {
				return nil, buf, reserved, fmt.Errorf("%w: chunked body", errTooLarge)
			}
			return buf[:n], buf, reserved, nil
		}
		if err != nil {
			return nil, buf, reserved, err
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
