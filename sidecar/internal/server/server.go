// Package server assembles the sidecar's HTTP handler and servers. The
// middleware order is fixed here, outermost first (Handler builds it from
// one ordered list):
//
//	recover → request ID → route → access log → security headers → client IP
//	→ auth → rate limit → concurrency limit → body limit → own routes
//	(/healthz, /readyz) → gateway
//
// The route middleware classifies each request once (package route, under
// the gateway's rules) and stores the decision in its context; the gateway
// dispatches on it, and auth modes and rate-limit policies are chosen by its
// Class (health, psk, ohttp, legacy, plain). Client IP comes before auth so that refusals can be
// attributed; auth comes before rate limiting so that an authenticated
// client is limited by identity (JWT subject, API key ID) rather than by
// address; rate limiting comes before the concurrency limit so that one
// client over its limit cannot take the shared in-flight slots. For OHTTP
// the credentials may travel inside the encrypted request: a required OHTTP
// route is only optional at this layer, and the gateway's Authorize hook
// (see OHTTPAuthorizer) enforces it after decapsulation.
//
// The gateway opens the envelope and forwards to the upstream. Metrics are
// served on a separate loopback listener, never on the public one.
package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/clientip"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/route"
)

// Class is the kind of a request, for auth modes and rate-limit policies.
type Class string

// Classes.
const (
	// ClassHealth is GET /healthz and /readyz: never authenticated or
	// rate-limited (probes).
	ClassHealth Class = "health"
	// ClassPSK is a PSK-sealed request.
	ClassPSK Class = "psk"
	// ClassOHTTP is an Oblivious HTTP request (POST to the gateway path).
	ClassOHTTP Class = "ohttp"
	// ClassLegacy is a legacy AES-CBC request.
	ClassLegacy Class = "legacy"
	// ClassPlain is everything else: plain routes, the OHTTP key
	// configuration and requests the gateway refuses.
	ClassPlain Class = "plain"
)

// ClassOf returns the policy class of a route kind: the OHTTP key
// configuration, plain routes and refused requests are all ClassPlain.
func ClassOf(k route.Kind) Class {
	switch k {
	case route.Health:
		return ClassHealth
	case route.PSK:
		return ClassPSK
	case route.OHTTP:
		return ClassOHTTP
	case route.Legacy:
		return ClassLegacy
	}
	return ClassPlain
}

// Classifier returns the function that classifies requests by the routing
// rules with legacy mode at legacyPath (when enabled) and no plain route.
func Classifier(legacyEnabled bool, legacyPath string) func(*http.Request) Class {
	rs := route.Rules{LegacyEnabled: legacyEnabled, LegacyPath: legacyPath}
	return func(r *http.Request) Class { return ClassOf(rs.Classify(r)) }
}

// classOf returns the class of the decision stored by the route middleware.
func classOf(r *http.Request) Class {
	k, _ := route.FromContext(r.Context())
	return ClassOf(k)
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
	Gateway       http.Handler
	Upstream      Readiness // probed by /readyz
	KeysLoaded    func() bool
	MaxBodyBytes  int64
	MaxConcurrent int
	HSTS          bool // send Strict-Transport-Security (on HTTPS listeners)
	Logger        *zap.Logger
	Registry      prometheus.Registerer

	// Route are the routing rules under which each request is classified,
	// once. When Gateway has a method Rules() route.Rules (the real
	// gateway), its rules are used instead, so that routing and policy
	// follow the same rules.
	Route route.Rules
	// ClientIP finds the client address; nil trusts no proxy.
	ClientIP *clientip.Resolver
	// Auth checks credentials under AuthModes (a missing class is
	// auth.Off); nil turns authentication off.
	Auth      *auth.Authenticator
	AuthModes map[Class]auth.Mode
	// RateStore keeps the buckets of RatePolicies (a missing class is not
	// limited); nil turns rate limiting off.
	RateStore    ratelimit.Store
	RatePolicies map[Class]ratelimit.Policy
	// Now is the rate limiter's clock; nil means time.Now.
	Now func() time.Time
}

// Handler builds the public handler.
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 64
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 20 << 20
	}
	inflight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sealocr_sidecar_inflight", Help: "Requests in progress."})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sealocr_sidecar_request_seconds", Help: "Request duration by status class.",
		Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"class"})
	if o.Registry != nil {
		o.Registry.MustRegister(inflight, duration)
	}

	if g, ok := o.Gateway.(interface{ Rules() route.Rules }); ok {
		o.Route = g.Rules()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		api.Write(w, api.Healthy)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if o.KeysLoaded != nil && !o.KeysLoaded() {
			api.Write(w, api.NotReadyKeys)
			return
		}
		if o.Upstream != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			if err := o.Upstream.Ready(ctx); err != nil {
				o.Logger.Info("readiness: upstream not ready", zap.Error(err))
				api.Write(w, api.NotReadyUpstream)
				return
			}
		}
		api.Write(w, api.Ready)
	})
	mux.Handle("/", o.Gateway)

	if o.ClientIP == nil {
		o.ClientIP = &clientip.Resolver{}
	}
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealocr_sidecar_rate_limited_total", Help: "Requests refused with 429, by class.",
	}, []string{"class"})
	if o.Registry != nil {
		o.Registry.MustRegister(limited)
	}

	var authenticate, rateLimit middleware // nil when off
	if o.Auth != nil {
		authenticate = o.Auth.Middleware(func(r *http.Request) auth.Mode {
			c := classOf(r)
			m := o.AuthModes[c]
			if c == ClassOHTTP && m == auth.Required {
				return auth.Optional // the inner request may carry the credentials
			}
			return m
		})
	}
	if o.RateStore != nil {
		l := &ratelimit.Limiter{
			Store: o.RateStore,
			Policy: func(r *http.Request) (ratelimit.Policy, bool) {
				p, ok := o.RatePolicies[classOf(r)]
				return p, ok
			},
			Key: func(r *http.Request) string {
				if id, ok := auth.IdentityFrom(r.Context()); ok {
					return id.Key()
				}
				return clientip.Key(clientip.FromContext(r.Context()))
			},
			Now: o.Now,
			OnLimited: func(r *http.Request, p ratelimit.Policy) {
				limited.WithLabelValues(p.Name).Inc()
			},
		}
		rateLimit = l.Middleware
	}

	// The chain, outermost first, as in the package documentation.
	return chain(mux,
		recoverer(o.Logger),
		api.RequestIDMiddleware,
		o.Route.Middleware,
		accessLog(o.Logger, duration),
		securityHeaders(o.HSTS),
		o.ClientIP.Middleware,
		authenticate,
		rateLimit,
		concurrencyLimit(o.MaxConcurrent, inflight),
		bodyLimit(o.MaxBodyBytes),
	)
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
			hist.WithLabelValues(strconv.Itoa(sw.status/100) + "xx").Observe(d.Seconds())
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

func concurrencyLimit(n int, g prometheus.Gauge) middleware {
	slots := make(chan struct{}, n)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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

func bodyLimit(n int64) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				api.Write(w, api.TooLarge)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// NewHTTPServer returns an http.Server with every timeout set.
func NewHTTPServer(h http.Handler, upstreamTimeout time.Duration, log *zap.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      upstreamTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
}
