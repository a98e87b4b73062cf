// Package server assembles the sidecar's HTTP handler and servers. The
// middleware order is fixed here, outermost first (Handler builds it from
// one ordered list):
//
//	recover → request ID → route → close unread bodies → access log
//	→ security headers → CSP connect-src for the OpenID Provider → client IP
//	→ health (/healthz, /readyz, /v1/auth-info answered here) → auth → strip credentials
//	→ defer anonymous OHTTP charges → shared rate limit → per-class rate limit
//	→ per-client concurrency
//	→ body buffering (limit, minimum rate, total time, byte budget and the
//	client's share of it) → concurrency limit
//	→ gateway
//
// The route middleware classifies each request once (package route, under
// the gateway's rules) and stores the decision in its context; the gateway
// dispatches on it, and auth modes and rate-limit policies are keyed by its
// policy kind (route.Kind.Policy: health, psk, ohttp, legacy, plain).
//
// Why this order. An answer given before the body was read closes the
// connection rather than draining the body (closeUnread), so that no refusal
// waits on a slow client. Health probes are answered before any limiter, so that a
// flood never makes a liveness probe fail; /readyz reuses the upstream's
// verdict for a second (readyCache), so that such a flood never reaches the
// core either. Client IP comes before auth so
// that refusals can be attributed; auth comes before rate limiting so that
// an authenticated client is limited by identity (JWT subject, API key ID)
// rather than by address, and failed authentications draw from the
// address's shared bucket (auth.Guard); once it is empty, credentials from
// that address are not even checked. Credentials are then stripped from
// every request, whatever the auth mode, so they never reach the core. One
// bucket per client is shared by the PSK, OHTTP and legacy modes (switching
// modes buys no extra requests); legacy and plain routes have a further
// bucket of their own. An OHTTP request without outer credentials is not
// charged here: the gateway charges it once opened, to the identity of its
// valid inner credentials or else to its address (ratelimit.Deferred), so
// that strangers behind a relay's one address cannot empty the bucket of a
// client whose inner credentials are valid. The per-client concurrency bound comes before the
// body is read, so that one client's slow uploads are few; the body is read
// into memory under a minimum rate, a total time and a byte budget shared
// by all requests before the global concurrency slot is taken, so that a
// slow client holds no slot. The budget counts bytes as they arrive and
// every copy of a body; each client holds at most its share of it, and with
// authentication on anonymous clients together at most half of it and of
// the slots (Buffered, budget). For OHTTP the credentials may travel inside the encrypted
// request: a required OHTTP route is only optional at this layer, and the
// gateway's Authorize hook (see OHTTPAuthorizer) enforces it after
// decapsulation.
//
// The gateway opens the envelope and forwards to the upstream. Metrics are
// served on a separate loopback listener, never on the public one.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/bodybuf"
	"github.com/sealocr/sealocr/sidecar/internal/clientip"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/logging"
)

// policyOf returns the policy kind (route.Kind.Policy) of the decision the
// route middleware stored.
func policyOf(r *http.Request) route.Kind {
	k, _ := route.FromContext(r.Context())
	return k.Policy()
}

// challengeError carries the WWW-Authenticate value to the gateway.
type challengeError struct {
	err       error
	challenge string
}

func (e *challengeError) Error() string     { return e.err.Error() }
func (e *challengeError) Unwrap() error     { return e.err }
func (e *challengeError) Challenge() string { return e.challenge }

// OHTTPAuthorizer returns the gateway's Authorize hook for OHTTP inner
// requests under mode: an identity already established from the outer
// request is kept; otherwise the inner request's credentials are checked,
// and their absence is refused only when mode is Required.
func OHTTPAuthorizer(a *auth.Authenticator, mode auth.Mode) func(ctx context.Context, h http.Header) (string, error) {
	return func(ctx context.Context, h http.Header) (string, error) {
		if mode == auth.Off || a == nil {
			return "", nil
		}
		if id, ok := auth.IdentityFrom(ctx); ok {
			return id.Key(), nil
		}
		id, err := a.Authenticate(ctx, h)
		switch {
		case err == nil:
			return id.Key(), nil
		case mode == auth.Optional && errors.Is(err, auth.ErrNoCredentials):
			return "", nil
		}
		return "", &challengeError{err: err, challenge: a.Challenge(err)}
	}
}

// Readiness checks what /readyz reports.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Options configure the handler. Zero values get safe defaults: no
// trusted proxies, auth off, no rate limit.
type Options struct {
	Gateway    http.Handler
	Upstream   Readiness // probed by /readyz
	KeysLoaded func() bool
	// AuthInfo is the body of GET /v1/auth-info (see api.AuthInfo); nil
	// describes a sidecar with authentication off.
	AuthInfo *api.AuthInfo
	// OIDC, when set, describes the OpenID Provider as it is now (nil
	// while there is none): each GET /v1/auth-info carries it in
	// auth.oidc, and the WebUI's Content-Security-Policy (on plain routes)
	// lets the page connect to its token endpoint's origin.
	OIDC          func() *api.AuthInfoOIDC
	MaxBodyBytes  int64
	MaxConcurrent int
	// MaxConcurrentPerClient bounds one client's requests in progress,
	// body reading included (8 when zero).
	MaxConcurrentPerClient int
	// MaxBufferedBytes bounds the request bodies held in memory at once
	// (64 MiB when zero; at least MaxBodyBytes).
	MaxBufferedBytes int64
	// MaxBufferedBytesPerClient bounds the bytes of arriving bodies one
	// client (identity, else address) holds at once (when zero: a quarter
	// of MaxBufferedBytes, at least MaxBodyBytes).
	MaxBufferedBytesPerClient int64
	// BodyMinRate (bytes per second) and BodyGrace: a body must arrive at
	// BodyMinRate on average once BodyGrace has passed (16 KiB/s and 5 s
	// when zero).
	BodyMinRate int64
	BodyGrace   time.Duration
	// BodyTimeout bounds the whole body, whatever its rate (2 minutes when
	// zero).
	BodyTimeout time.Duration
	HSTS        bool // send Strict-Transport-Security (on HTTPS listeners)
	Logger      *zap.Logger
	Registry    prometheus.Registerer

	// Route are the routing rules under which each request is classified,
	// once. When Gateway has a method Rules() route.Rules (the real
	// gateway), its rules are used instead, so that routing and policy
	// follow the same rules.
	Route route.Rules
	// ClientIP finds the client address; nil trusts no proxy.
	ClientIP *clientip.Resolver
	// Auth checks credentials under AuthModes, keyed by policy kind
	// (route.Kind.Policy; a missing kind is auth.Off); nil turns
	// authentication off.
	Auth      *auth.Authenticator
	AuthModes map[route.Kind]auth.Mode
	// RateStore keeps the buckets; nil turns rate limiting off.
	RateStore ratelimit.Store
	// RateShared is the one bucket per client that every PSK, OHTTP and
	// legacy request, whatever its mode, and every failed authentication
	// draws from (off when its Rate is zero).
	RateShared ratelimit.Policy
	// RatePolicies are further buckets per policy kind, taken after
	// RateShared (the legacy mode's stricter one; the plain routes' own
	// one). A missing kind has none.
	RatePolicies map[route.Kind]ratelimit.Policy
	// Now is the rate limiter's clock; nil means time.Now.
	Now func() time.Time
}

// Defaults of the Options left zero. The sidecar's configuration declares
// the same values in its tags (a test in config checks that they agree).
const (
	DefaultMaxConcurrent          = 64
	DefaultMaxBodyBytes           = 20 << 20
	DefaultMaxConcurrentPerClient = 8
	DefaultMaxBufferedBytes       = 64 << 20
	DefaultBodyMinRate            = 16 << 10 // bytes per second
	DefaultBodyGrace              = 5 * time.Second
	DefaultBodyTimeout            = 2 * time.Minute
)

// setDefaults fills the options left zero with their defaults and keeps
// the limits consistent with each other.
func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxConcurrentPerClient <= 0 {
		o.MaxConcurrentPerClient = DefaultMaxConcurrentPerClient
	}
	if o.MaxConcurrentPerClient > o.MaxConcurrent {
		// One client may use every slot, no more.
		o.MaxConcurrentPerClient = o.MaxConcurrent
	}
	if o.MaxBufferedBytes <= 0 {
		o.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	o.MaxBufferedBytes = max(o.MaxBufferedBytes, o.MaxBodyBytes)
	if o.BodyMinRate <= 0 {
		o.BodyMinRate = DefaultBodyMinRate
	}
	if o.BodyGrace <= 0 {
		o.BodyGrace = DefaultBodyGrace
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.MaxBufferedBytesPerClient <= 0 {
		o.MaxBufferedBytesPerClient = o.MaxBufferedBytes / 4
	}
	o.MaxBufferedBytesPerClient = min(max(o.MaxBufferedBytesPerClient, o.MaxBodyBytes), o.MaxBufferedBytes)
}

// healthRoutes answers the health probes (/healthz, /readyz: the keys are
// loaded and the core is ready, asked at most once a second) and the auth
// description (route.AuthInfo), never limited or forwarded.
func healthRoutes(o Options) *http.ServeMux {
	var ready *readyCache // the core is asked at most once a second
	if o.Upstream != nil {
		ready = &readyCache{up: o.Upstream, log: o.Logger, now: time.Now}
	}
	health := http.NewServeMux()
	health.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		api.Write(w, api.Healthy)
	})
	health.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if o.KeysLoaded != nil && !o.KeysLoaded() {
			api.Write(w, api.NotReadyKeys)
			return
		}
		if ready != nil {
			if err := ready.ready(r.Context()); err != nil {
				api.Write(w, api.NotReadyUpstream)
				return
			}
		}
		api.Write(w, api.Ready)
	})

	info := o.AuthInfo
	if info == nil {
		info = &api.AuthInfo{Auth: api.AuthInfoAuth{Mode: auth.Off.String()}}
	}
	infoCopy := *info
	infoCopy.Server, infoCopy.Transport, infoCopy.OHTTPGateway = "sidecar", "ohttp", route.OHTTPPath
	if infoCopy.Auth.Methods == nil {
		infoCopy.Auth.Methods = []string{}
	}
	marshalInfo := func(info api.AuthInfo) []byte {
		b, err := json.Marshal(info)
		if err != nil {
			panic("server: auth info: " + err.Error()) // plain strings: cannot fail
		}
		return append(b, '\n')
	}
	staticInfo := marshalInfo(infoCopy)
	health.HandleFunc("GET "+api.AuthInfoPath, func(w http.ResponseWriter, _ *http.Request) {
		body := staticInfo
		if o.OIDC != nil && infoCopy.Auth.Mode != auth.Off.String() {
			if oi := o.OIDC(); oi != nil {
				withOIDC := infoCopy
				withOIDC.Auth.OIDC = oi
				body = marshalInfo(withOIDC)
			}
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	return health
}

// Handler builds the public handler.
func Handler(o Options) http.Handler {
	o.setDefaults()
	// With authentication on, anonymous clients together get at most half
	// of the byte budget and of the slots: the rest waits for clients with
	// credentials, whatever anonymous traffic does.
	anonBytes, anonSlots := o.MaxBufferedBytes, o.MaxConcurrent
	if o.Auth != nil && authOn(o.AuthModes) {
		anonBytes = max(o.MaxBufferedBytes/2, o.MaxBufferedBytesPerClient)
		anonSlots = max(o.MaxConcurrent/2, 1)
	}
	inflight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sealocr_sidecar_inflight", Help: "Requests in progress."})
	buffered := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sealocr_sidecar_buffered_bytes", Help: "Bytes of request bodies reserved or held in memory (max_buffered_bytes bounds it)."})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sealocr_sidecar_request_seconds", Help: "Request duration by HTTP status code.",
		Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"code"})
	if o.Registry != nil {
		o.Registry.MustRegister(inflight, buffered, duration)
	}

	if g, ok := o.Gateway.(interface{ Rules() route.Rules }); ok {
		o.Route = g.Rules()
	}
	health := healthRoutes(o)

	if o.ClientIP == nil {
		o.ClientIP = &clientip.Resolver{}
	}
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealocr_sidecar_rate_limited_total", Help: "Requests refused with 429, by class.",
	}, []string{"class"})
	if o.Registry != nil {
		o.Registry.MustRegister(limited)
	}

	var authenticate, deferOHTTP, rateShared, rateClass middleware // nil when off
	var guard auth.Guard
	if o.RateStore != nil {
		now := o.Now
		if now == nil {
			now = time.Now
		}
		shared := &ratelimit.Limiter{
			Store: o.RateStore,
			Policy: func(r *http.Request) (ratelimit.Policy, bool) {
				if ratelimit.DeferredFrom(r.Context()) != nil {
					return ratelimit.Policy{}, false // charged once opened
				}
				switch policyOf(r) {
				case route.PSK, route.OHTTP, route.Legacy:
					return o.RateShared, true
				}
				return ratelimit.Policy{}, false
			},
			Key: clientKey, Now: o.Now,
			OnLimited: func(r *http.Request, p ratelimit.Policy) { limited.WithLabelValues(p.Name).Inc() },
		}
		rateShared = shared.Middleware
		perClass := &ratelimit.Limiter{
			Store: o.RateStore,
			Policy: func(r *http.Request) (ratelimit.Policy, bool) {
				if ratelimit.DeferredFrom(r.Context()) != nil {
					return ratelimit.Policy{}, false // charged once opened
				}
				p, ok := o.RatePolicies[policyOf(r)]
				return p, ok
			},
			Key: clientKey, Now: o.Now,
			OnLimited: func(r *http.Request, p ratelimit.Policy) { limited.WithLabelValues(p.Name).Inc() },
		}
		rateClass = perClass.Middleware
		// Failed authentications count against the address's shared bucket,
		// and once it is empty no credentials are checked from there.
		refuse := func(w http.ResponseWriter, r *http.Request, d ratelimit.Decision) {
			if d.Unavailable { // a shared store that cannot be asked, failing closed
				api.Write(w, api.Busy)
				return
			}
			ratelimit.SetHeaders(w.Header(), o.RateShared, d)
			limited.WithLabelValues(o.RateShared.Name).Inc()
			api.Write(w, api.RateLimited)
		}
		// An OHTTP request without outer credentials is charged once the
		// gateway has opened it: to the identity of its inner credentials
		// when they are valid, else to its address (a relay's address is
		// shared by all its clients: RFC 9458 section 8). So anonymous
		// garbage from a relay's address empties that address's bucket,
		// never the bucket of a client whose inner credentials are valid.
		charge := func(w http.ResponseWriter, r *http.Request, identity string) bool {
			key := identity
			if key == "" {
				key = addrKey(r)
			}
			for _, p := range []ratelimit.Policy{o.RateShared, o.RatePolicies[route.OHTTP]} {
				if p.Off() {
					continue
				}
				d := o.RateStore.Take(r.Context(), key, p, now())
				ratelimit.SetHeaders(w.Header(), p, d)
				switch {
				case d.Unavailable && !d.Allowed:
					api.Write(w, api.Busy)
					return true
				case !d.Allowed:
					limited.WithLabelValues(p.Name).Inc()
					api.Write(w, api.RateLimited)
					return true
				}
			}
			return false
		}
		deferOHTTP = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, ok := auth.IdentityFrom(r.Context()); !ok && policyOf(r) == route.OHTTP {
					r = r.WithContext(ratelimit.WithDeferred(r.Context(), charge))
				}
				next.ServeHTTP(w, r)
			})
		}
		if !o.RateShared.Off() {
			if pk, ok := o.RateStore.(ratelimit.Peeker); ok {
				guard.Allow = func(w http.ResponseWriter, r *http.Request) bool {
					d := pk.Peek(r.Context(), addrKey(r), o.RateShared, now())
					if !d.Allowed {
						refuse(w, r, d)
					}
					return d.Allowed
				}
			}
			guard.Failed = func(w http.ResponseWriter, r *http.Request) bool {
				d := o.RateStore.Take(r.Context(), addrKey(r), o.RateShared, now())
				if !d.Allowed {
					refuse(w, r, d)
				}
				return !d.Allowed
			}
		}
	}
	if o.Auth != nil {
		authenticate = o.Auth.Middleware(func(r *http.Request) auth.Mode {
			c := policyOf(r)
			m := o.AuthModes[c]
			if c == route.OHTTP && m == auth.Required {
				return auth.Optional // the inner request may carry the credentials
			}
			return m
		}, guard)
	}

	// The chain, outermost first, as in the package documentation.
	return chain(o.Gateway,
		recoverer(o.Logger),
		api.RequestIDMiddleware,
		requestLog,
		o.Route.Middleware,
		closeUnread,
		accessLog(o.Logger, duration),
		securityHeaders(o.HSTS),
		cspConnect(o.OIDC),
		o.ClientIP.Middleware,
		healthFirst(health),
		authenticate,
		auth.StripCredentials,
		deferOHTTP,
		rateShared,
		rateClass,
		perClientLimit(o.MaxConcurrentPerClient, o.Logger),
		bufferBody(bodyRules{max: o.MaxBodyBytes, minRate: float64(o.BodyMinRate), grace: o.BodyGrace, total: o.BodyTimeout,
			budget: &budget{max: o.MaxBufferedBytes, perClient: o.MaxBufferedBytesPerClient, anonMax: anonBytes, gauge: buffered},
			bufs:   bodybuf.New(0), log: o.Logger}),
		concurrencyLimit(o.MaxConcurrent, anonSlots, inflight),
	)
}

// requestLog puts the request ID into the request's log fields
// (logging.WithRequest), so that every component's line about the request
// (route, body limits, auth, rate limits, gateway, upstream) carries the ID
// the client sent or got.
func requestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := api.RequestIDFrom(r.Context())
		next.ServeHTTP(w, r.WithContext(logging.WithRequest(r.Context(), zap.String("request_id", id))))
	})
}

// healthFirst answers the health probes (route.Health) and the auth
// description (route.AuthInfo) with h before any
// limiter: a probe never waits behind, or is refused by, the rate limits,
// the concurrency limits or the body budget.
func healthFirst(h http.Handler) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if k, _ := route.FromContext(r.Context()); k == route.Health || k == route.AuthInfo {
				h.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// middleware wraps a handler.
type middleware = func(http.Handler) http.Handler

// chain wraps h in mws, the first outermost; nil entries are skipped.
func chain(h http.Handler, mws ...middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			h = mws[i](h)
		}
	}
	return h
}

func recoverer(log *zap.Logger) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("panic in handler", zap.String("panic", fmt.Sprint(v)))
					api.Write(w, api.Internal)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog writes one line per request: method, path (no query: it may
// carry user data), status, sizes, duration. Never bodies or credentials.
func accessLog(log *zap.Logger, hist *prometheus.HistogramVec) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			d := time.Since(start)
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			hist.WithLabelValues(strconv.Itoa(sw.status)).Observe(d.Seconds())
			log.Info("request",
				zap.String("request_id", r.Header.Get(api.RequestIDHeader)),
				zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.String("proto", r.Proto), zap.Int("status", sw.status),
				zap.Int64("request_bytes", r.ContentLength), zap.Int64("response_bytes", sw.bytes),
				zap.Duration("duration", d))
		})
	}
}

func securityHeaders(hsts bool) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			if hsts && r.TLS != nil {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			next.ServeHTTP(w, r)
		})
	}
}

// authOn reports whether any policy kind has authentication on.
func authOn(modes map[route.Kind]auth.Mode) bool {
	for _, m := range modes {
		if m != auth.Off {
			return true
		}
	}
	return false
}

// concurrencyLimit bounds the requests in progress to n, of which at most
// anon may be anonymous (no identity established by then).
func concurrencyLimit(n, anon int, g prometheus.Gauge) middleware {
	slots := make(chan struct{}, n)
	anonSlots := make(chan struct{}, anon)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := auth.IdentityFrom(r.Context()); !ok {
				select {
				case anonSlots <- struct{}{}:
					defer func() { <-anonSlots }()
				default:
					api.Write(w, api.Busy)
					return
				}
			}
			select {
			case slots <- struct{}{}:
			default:
				api.Write(w, api.Busy)
				return
			}
			g.Inc()
			defer func() { <-slots; g.Dec() }()
			next.ServeHTTP(w, r)
		})
	}
}

// cspConnect adds the OpenID Provider's token endpoint origin to the
// connect-src directive of the Content-Security-Policy that the core sends
// with its page (plain routes only), so that the WebUI can exchange the
// authorization code there; nothing else of the policy changes. Without a
// provider, or before its discovery, the policy passes as it is.
func cspConnect(oidc func() *api.AuthInfoOIDC) middleware {
	if oidc == nil {
		return nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if k, _ := route.FromContext(r.Context()); k != route.Plain {
				next.ServeHTTP(w, r)
				return
			}
			origin := ""
			if oi := oidc(); oi != nil {
				origin = CSPOrigin(oi.TokenEndpoint)
			}
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(&cspWriter{ResponseWriter: w, origin: origin}, r)
		})
	}
}

// CSPOrigin returns the origin of an https URL (or an http one on loopback)
// as a CSP source expression, "" when it is none.
func CSPOrigin(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"") {
		return ""
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// cspWriter rewrites the connect-src directive of the response's
// Content-Security-Policy when the header is written.
type cspWriter struct {
	http.ResponseWriter
	origin string
	wrote  bool
}

func (c *cspWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		h := c.Header()
		if p := h.Get("Content-Security-Policy"); p != "" {
			h.Set("Content-Security-Policy", addConnectSrc(p, c.origin))
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cspWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *cspWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// addConnectSrc appends origin to policy's connect-src directive; a policy
// without one is left as it is (default-src then governs, and it is not
// widened).
func addConnectSrc(policy, origin string) string {
	dirs := strings.Split(policy, ";")
	for i, d := range dirs {
		f := strings.Fields(d)
		if len(f) > 0 && strings.EqualFold(f[0], "connect-src") {
			if len(f) == 2 && f[1] == "'none'" {
				f = f[:1]
			}
			dirs[i] = " " + strings.Join(append(f, origin), " ")
			if i == 0 {
				dirs[i] = strings.TrimPrefix(dirs[i], " ")
			}
			return strings.Join(dirs, ";")
		}
	}
	return policy
}
