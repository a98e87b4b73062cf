// Package upstream forwards requests from the sidecar to the core over
// loopback TCP or a unix socket.
//
// A Proxy always dials the one configured upstream: neither the client's Host
// header nor an absolute request URI chooses where a request goes. On the way
// out it strips hop-by-hop headers (those of RFC 9110 section 7.6.1, any
// header named in Connection, every Proxy-* header and the httpoxy "Proxy"
// header), drops client-supplied X-Forwarded-*, Forwarded and X-Real-Ip
// headers, and sends X-Request-ID: the ID the server's middleware stored in
// the request's context (sidecar/api), or, when called outside that chain, a
// valid client value or a new one. Every call
// has a deadline. On the way back it drops the Server and X-Powered-By
// headers and caps the response body.
//
// There are two ways in: ServeHTTP, an http.Handler for the plain,
// allowlisted routes, built on httputil.ReverseProxy; and Do, used by the
// encrypted gateway, which forwards one already-opened request and returns the
// whole response for sealing. Both map failures to ErrUnavailable, ErrTimeout
// and ErrResponseTooLarge; AnswerFor names the fixed answer (sidecar/api) a
// client receives for each, while the detail goes to the log only.
package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	coreapi "github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/api"
)

// Defaults for Options.
const (
	// DefaultTimeout is the per-call deadline when Options.Timeout is zero.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxResponseBytes is the response body cap when
	// Options.MaxResponseBytes is zero.
	DefaultMaxResponseBytes = 32 << 20
)

// ReadyPath is the upstream route that Ready probes.
const ReadyPath = coreapi.ReadyPath

// Options configures New.
type Options struct {
	// URL is the upstream: "http://host:port" or "unix:///path/to.sock"
	// (see ParseTarget).
	URL string
	// Timeout is the deadline of each upstream call, including reading the
	// response body. Zero means DefaultTimeout.
	Timeout time.Duration
	// AllowRemote permits an upstream host that is not loopback. It is set
	// only from the configuration's unsafe_allow_remote_upstream.
	AllowRemote bool
	// MaxResponseBytes caps the upstream response body. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Logger receives the detail of failed calls. Nil means no logging.
	Logger *zap.Logger
	// Transport, when set, replaces the transport New builds (which dials
	// only the target and ignores proxy environment variables). For tests.
	Transport http.RoundTripper
}

// Response is an upstream response read in full by Do.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header is the response header without hop-by-hop headers, Server,
	// X-Powered-By, Content-Length and Transfer-Encoding.
	Header http.Header
	// Body is the whole response body, at most Options.MaxResponseBytes long.
	Body []byte
}

// Proxy forwards requests to the configured upstream. It is safe for
// concurrent use.
type Proxy struct {
	target  Target
	base    *url.URL // scheme and host of every outbound URL
	rt      http.RoundTripper
	rp      *httputil.ReverseProxy
	log     *zap.Logger
	timeout time.Duration
	maxResp int64
}

// New checks o and builds a Proxy. It does not contact the upstream.
func New(o Options) (*Proxy, error) {
	t, err := ParseTarget(o.URL, o.AllowRemote)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("upstream: negative timeout %s", o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxResponseBytes < 0 {
		return nil, fmt.Errorf("upstream: negative response cap %d", o.MaxResponseBytes)
	}
	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	host := t.Address
	if t.Network == "unix" {
		host = "localhost"
	}
	p := &Proxy{
		target:  t,
		base:    &url.URL{Scheme: "http", Host: host},
		rt:      o.Transport,
		log:     o.Logger.Named("upstream"),
		timeout: o.Timeout,
		maxResp: o.MaxResponseBytes,
	}
	if p.rt == nil {
		p.rt = newTransport(t, o.Timeout)
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.rt,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       zap.NewStdLog(p.log),
	}
	return p, nil
}

// newTransport returns a transport that dials only t, whatever address a
// request names, and never uses a proxy from the environment.
func newTransport(t Target, timeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := d.DialContext(ctx, t.Network, t.Address)
			if err != nil {
				return nil, err
			}
			return upstreamConn{c}, nil
		},
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		DisableCompression:     true,
	}
}

// Target returns the parsed upstream address.
func (p *Proxy) Target() Target { return p.target }

// CloseIdleConnections closes the idle connections to the upstream.
func (p *Proxy) CloseIdleConnections() {
	if c, ok := p.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// ServeHTTP forwards r to the upstream and streams the response back. The
// caller decides which routes reach it (the plain-route allowlist) and bounds
// the request body. Failures are answered with ErrorResponse's fixed status
// and body and logged with their detail.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	r = r.WithContext(ctx)
	r.Header = r.Header.Clone() // the caller's request stays untouched
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set(api.RequestIDHeader, requestID(ctx, r.Header))
	// The headers the sidecar's middleware already wrote on this answer
	// (security headers, the request ID) stay the sidecar's: the
	// upstream's copies are dropped rather than added beside them.
	own := make([]string, 0, len(w.Header()))
	for k := range w.Header() {
		own = append(own, k)
	}
	r = r.WithContext(context.WithValue(ctx, ownHeadersKey{}, own))
	p.rp.ServeHTTP(w, r)
}

// ownHeadersKey carries, in the upstream request's context, the names of
// the headers already set on the client's answer.
type ownHeadersKey struct{}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.base) // scheme and host from the configuration; Out.Host cleared
	cleanRequestHeader(pr.Out.Header)
	pr.Out.Header.Set(api.RequestIDHeader, pr.In.Header.Get(api.RequestIDHeader)) // set by ServeHTTP
}

func (p *Proxy) modifyResponse(res *http.Response) error {
	cleanResponseHeader(res.Header)
	if res.Header.Get(api.RequestIDHeader) == "" && res.Request != nil {
		res.Header.Set(api.RequestIDHeader, res.Request.Header.Get(api.RequestIDHeader))
	}
	if res.Request != nil {
		own, _ := res.Request.Context().Value(ownHeadersKey{}).([]string)
		for _, k := range own {
			res.Header.Del(k)
		}
	}
	if res.ContentLength > p.maxResp {
		return fmt.Errorf("content length %d > %d: %w", res.ContentLength, p.maxResp, ErrResponseTooLarge)
	}
	res.Body = &cappedBody{rc: res.Body, left: p.maxResp}
	return nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	kind := classify(r.Context(), err)
	lvl := zap.WarnLevel
	if errors.Is(kind, context.Canceled) {
		lvl = zap.DebugLevel // the client went away; nobody reads the answer
	}
	p.log.Log(lvl, "upstream request failed",
		zap.String("method", r.Method),
		zap.String("path", r.URL.Path),
		zap.String("request_id", r.Header.Get(api.RequestIDHeader)),
		zap.Error(err))
	api.Write(w, AnswerFor(kind))
}

// Do sends one request to the upstream and reads the whole response. path is
// the request target in origin form ("/v1/ocr?lang=en"); an absolute URL, a
// target starting with "//" or a fragment is refused with ErrBadRequest. header is cleaned as for ServeHTTP
// and not modified. The call's deadline is Options.Timeout or ctx's, whichever
// comes first. Errors wrap ErrUnavailable, ErrTimeout, ErrResponseTooLarge or
// ErrBadRequest, or ctx's error when ctx was cancelled; an upstream answer
// with any status is a Response, not an error.
func (p *Proxy) Do(ctx context.Context, method, path string, header http.Header, body []byte) (*Response, error) {
	u, err := p.requestURL(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w: %v", ErrBadRequest, err)
	}
	if len(body) > 0 {
		// The transport may go on reading a request body after RoundTrip
		// returns (an early answer); body is the caller's again when Do
		// returns, so every reader handed out is revoked first.
		lent := &lentBodies{b: body}
		defer lent.revoke()
		req.Body, req.GetBody, req.ContentLength = lent.open(), lent.getBody, int64(len(body))
	}
	req.Header = canonicalHeader(header)
	cleanRequestHeader(req.Header)
	req.Header.Del("Host")
	req.Header.Del("Content-Length")
	req.Header.Del("Expect")
	req.Header.Set(api.RequestIDHeader, requestID(ctx, req.Header))
	res, err := p.rt.RoundTrip(req)
	if err != nil {
		return nil, p.callError(ctx, err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.ContentLength > p.maxResp {
		return nil, fmt.Errorf("upstream: content length %d > %d: %w", res.ContentLength, p.maxResp, ErrResponseTooLarge)
	}
	// Sized once from Content-Length (already checked against the cap)
	// instead of grown by doubling.
	buf := bytes.NewBuffer(make([]byte, 0, max(res.ContentLength, 0)+bytes.MinRead))
	_, err = buf.ReadFrom(&cappedBody{rc: res.Body, left: p.maxResp})
	b := buf.Bytes()
	if err != nil {
		return nil, p.callError(ctx, err)
	}
	h := res.Header.Clone()
	removeConnectionHeaders(h)
	cleanResponseHeader(h)
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	if h.Get(api.RequestIDHeader) == "" {
		h.Set(api.RequestIDHeader, req.Header.Get(api.RequestIDHeader))
	}
	return &Response{Status: res.StatusCode, Header: h, Body: b}, nil
}

// lentBodies hands the transport readers over the caller's body: the first
// one and one per retry (GetBody). After revoke, none of them touches the
// body any more, whatever the transport's goroutines still do: a read
// fails, and the request with it.
type lentBodies struct {
	mu      sync.Mutex
	b       []byte
	revoked bool
}

// errRevoked fails a transport's read of a request body after Do returned.
var errRevoked = errors.New("upstream: request body read after the call ended")

func (l *lentBodies) open() io.ReadCloser { return &lentBody{l: l} }

func (l *lentBodies) getBody() (io.ReadCloser, error) { return l.open(), nil }

func (l *lentBodies) revoke() {
	l.mu.Lock()
	l.revoked, l.b = true, nil
	l.mu.Unlock()
}

// lentBody reads l.b from its own offset. It has no WriteTo on purpose:
// the copy into the transport's buffer happens under the lock.
type lentBody struct {
	l   *lentBodies
	off int
}

func (r *lentBody) Read(p []byte) (int, error) {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	if r.l.revoked {
		return 0, errRevoked
	}
	if r.off >= len(r.l.b) {
		return 0, io.EOF
	}
	n := copy(p, r.l.b[r.off:])
	r.off += n
	return n, nil
}

func (r *lentBody) Close() error { return nil }

// writeTo writes up to n bytes of what is left in one Write.
func (r *lentBody) writeTo(w io.Writer, n int64) (int64, error) {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	if r.l.revoked {
		return 0, errRevoked
	}
	rest := r.l.b[r.off:]
	if int64(len(rest)) > n {
		rest = rest[:n]
	}
	m, err := w.Write(rest)
	r.off += m
	return int64(m), err
}

// upstreamConn is a connection to the upstream that sends a request body
// held in memory (a lentBody, which net/http hands over inside an
// io.LimitedReader) with one write instead of 32 KiB copies: each write
// wakes the upstream's reader, and at 1 MiB the 32 wake-ups cost more than
// the bytes. Any other body is copied as before.
type upstreamConn struct{ net.Conn }

// ReadFrom implements io.ReaderFrom, which net/http's transport uses to
// send a request body.
func (c upstreamConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if b, ok := lr.R.(*lentBody); ok {
			n, err := b.writeTo(c.Conn, lr.N)
			lr.N -= n
			return n, err
		}
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// callError wraps err from a call made with ctx in the sentinel it maps to.
func (p *Proxy) callError(ctx context.Context, err error) error {
	kind := classify(ctx, err)
	if errors.Is(kind, context.Canceled) {
		return fmt.Errorf("upstream: %w", kind)
	}
	return fmt.Errorf("upstream: %w: %w", kind, err)
}

// requestURL builds the outbound URL for an origin-form request target.
func (p *Proxy) requestURL(target string) (*url.URL, error) {
	if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") || strings.Contains(target, "#") {
		return nil, fmt.Errorf("upstream: %w: request target must be in origin form", ErrBadRequest)
	}
	in, err := url.ParseRequestURI(target)
	if err != nil || in.Scheme != "" || in.Host != "" || in.User != nil {
		return nil, fmt.Errorf("upstream: %w: request target must be in origin form", ErrBadRequest)
	}
	u := *p.base
	u.Path, u.RawPath, u.RawQuery = in.Path, in.RawPath, in.RawQuery
	return &u, nil
}

// Ready probes the upstream's GET /readyz. It returns nil on a 200 answer, an
// error wrapping ErrNotReady on any other status, and Do's errors otherwise.
func (p *Proxy) Ready(ctx context.Context) error {
	res, err := p.Do(ctx, http.MethodGet, ReadyPath, nil, nil)
	if err != nil {
		return err
	}
	if res.Status != http.StatusOK {
		return fmt.Errorf("upstream: %s answered %d: %w", ReadyPath, res.Status, ErrNotReady)
	}
	return nil
}

// classify maps an error of a call made with ctx to ErrTimeout,
// ErrResponseTooLarge, context.Canceled (the caller gave up) or
// ErrUnavailable.
func classify(ctx context.Context, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, ErrResponseTooLarge):
		return ErrResponseTooLarge
	case errors.Is(err, context.DeadlineExceeded), errors.Is(ctx.Err(), context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	case errors.Is(ctx.Err(), context.Canceled):
		return context.Canceled
	default:
		return ErrUnavailable
	}
}

// AnswerFor names the fixed answer (sidecar/api) a client receives for an
// error of Do or ServeHTTP:
//
//	ErrTimeout           504 upstream_timeout
//	ErrResponseTooLarge  502 upstream_response_too_large
//	anything else        502 upstream_unavailable
//
// The answer never depends on the error's detail.
func AnswerFor(err error) api.ID {
	switch {
	case errors.Is(err, ErrTimeout):
		return api.UpstreamTimeout
	case errors.Is(err, ErrResponseTooLarge):
		return api.UpstreamTooLarge
	}
	return api.UpstreamUnavailable
}

// ErrorResponse returns AnswerFor(err) as a Response, with the headers
// api.Write would send, for the gateway to seal.
func ErrorResponse(err error) *Response {
	a := api.Lookup(AnswerFor(err))
	return &Response{Status: a.Status, Header: a.Header(), Body: a.Body}
}

// hopHeaders are the hop-by-hop headers of RFC 9110 section 7.6.1 and the
// ones proxies commonly treat the same way.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeConnectionHeaders deletes the headers named in Connection and the
// hop-by-hop headers.
func removeConnectionHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// cleanRequestHeader removes hop-by-hop, Proxy-*, forwarding and client
// address headers from an outbound request header with canonical keys.
func cleanRequestHeader(h http.Header) {
	removeConnectionHeaders(h)
	for k := range h {
		if k == "Proxy" || strings.HasPrefix(k, "Proxy-") || strings.HasPrefix(k, "X-Forwarded-") ||
			k == "Forwarded" || k == "X-Real-Ip" {
			delete(h, k)
		}
	}
}

// cleanResponseHeader removes headers that describe the upstream's software.
func cleanResponseHeader(h http.Header) {
	h.Del("Server")
	h.Del("X-Powered-By")
}

// canonicalHeader returns a copy of h with canonical keys.
func canonicalHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		out[ck] = append(out[ck], vs...)
	}
	return out
}

// requestID returns the request ID to send: a valid one already in h, else
// the one the server's middleware stored in ctx, else a new one (a call
// from outside the server's chain).
func requestID(ctx context.Context, h http.Header) string {
	id := h.Get(api.RequestIDHeader)
	if ctxID, ok := api.RequestIDFrom(ctx); ok && !api.ValidRequestID(id) {
		return ctxID
	}
	return api.RequestID(id)
}

// cappedBody reads at most left bytes and fails with ErrResponseTooLarge when
// the body holds more.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (c *cappedBody) Read(b []byte) (int, error) {
	if c.left < 0 {
		return 0, ErrResponseTooLarge
	}
	if int64(len(b)) > c.left+1 {
		b = b[:c.left+1]
	}
	n, err := c.rc.Read(b)
	c.left -= int64(n)
	if c.left < 0 {
		return n + int(c.left), ErrResponseTooLarge
	}
	return n, err
}

func (c *cappedBody) Close() error { return c.rc.Close() }
