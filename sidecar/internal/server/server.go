// Package server assembles the sidecar's HTTP handler and servers. The
// middleware order is fixed here, outermost first:
//
//	recover → request ID → access log → security headers → client IP → auth
//	→ rate limit → concurrency limit → body limit → own routes (/healthz,
//	/readyz) → gateway
//
// Each request is put in a Class (health, psk, ohttp, legacy, plain) by the
// same rules the gateway routes by; auth modes and rate-limit policies are
// chosen per class. Client IP comes before auth so that refusals can be
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
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/clientip"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
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

// Classifier returns the function that classifies requests by the gateway's
// routing rules.
func Classifier(legacyEnabled bool, legacyPath string) func(*http.Request) Class {
	return func(r *http.Request) Class {
		p := r.URL.Path
		switch {
		case (r.Method == http.MethodGet || r.Method == http.MethodHead) && (p == "/healthz" || p == "/readyz"):
			return ClassHealth
		case p == gateway.OHTTPPath:
			if r.Method == http.MethodPost {
				return ClassOHTTP
			}
			return ClassPlain
		case r.Method == http.MethodPost && mediaType(r) == psk.RequestMediaType:
			return ClassPSK
		case legacyEnabled && r.Method == http.MethodPost && p == legacyPath:
			return ClassLegacy
		}
		return ClassPlain
	}
}

func mediaType(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return strings.ToLower(mt)
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
	MaxBody       int64
	MaxConcurrent int
	HSTS          bool // send Strict-Transport-Security (on HTTPS listeners)
	Logger        *zap.Logger
	Registry      prometheus.Registerer

	// Classify puts a request in a Class; nil means Classifier(false, "").
	Classify func(*http.Request) Class
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
	if o.MaxBody <= 0 {
		o.MaxBody = 20 << 20
	}
	inflight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sealocr_sidecar_inflight", Help: "Requests in progress."})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sealocr_sidecar_request_seconds", Help: "Request duration by status class.",
		Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"class"})
	if o.Registry != nil {
		o.Registry.MustRegister(inflight, duration)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fixed(w, http.StatusOK, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if o.KeysLoaded != nil && !o.KeysLoaded() {
			fixed(w, http.StatusServiceUnavailable, `{"error":{"code":"not_ready","message":"keys are not loaded"}}`)
			return
		}
		if o.Upstream != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			if err := o.Upstream.Ready(ctx); err != nil {
				o.Logger.Info("readiness: upstream not ready", zap.Error(err))
				fixed(w, http.StatusServiceUnavailable, `{"error":{"code":"not_ready","message":"the OCR service is not ready"}}`)
				return
			}
		}
		fixed(w, http.StatusOK, `{"status":"ready"}`)
	})
	mux.Handle("/", o.Gateway)

	if o.Classify == nil {
		o.Classify = Classifier(false, "")
	}
	if o.ClientIP == nil {
		o.ClientIP = &clientip.Resolver{}
	}
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealocr_sidecar_rate_limited_total", Help: "Requests refused with 429, by class.",
	}, []string{"class"})
	if o.Registry != nil {
		o.Registry.MustRegister(limited)
	}

	var h http.Handler = mux
	h = bodyLimit(h, o.MaxBody)
	h = concurrencyLimit(h, o.MaxConcurrent, inflight)
	if o.RateStore != nil {
		l := &ratelimit.Limiter{
			Store: o.RateStore,
			Policy: func(r *http.Request) (ratelimit.Policy, bool) {
				p, ok := o.RatePolicies[o.Classify(r)]
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
		h = l.Middleware(h)
	}
	if o.Auth != nil {
		h = o.Auth.Middleware(func(r *http.Request) auth.Mode {
			c := o.Classify(r)
			m := o.AuthModes[c]
			if c == ClassOHTTP && m == auth.Required {
				return auth.Optional // the inner request may carry the credentials
			}
			return m
		})(h)
	}
	h = o.ClientIP.Middleware(h)
	h = securityHeaders(h, o.HSTS)
	h = accessLog(h, o.Logger, duration)
	h = requestID(h)
	h = recoverer(h, o.Logger)
	return h
}

func fixed(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func recoverer(next http.Handler, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", zap.String("panic", fmt.Sprint(v)))
				fixed(w, http.StatusInternalServerError, `{"error":{"code":"internal","message":"internal error"}}`)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := upstream.RequestID(r.Header.Get(upstream.RequestIDHeader))
		r.Header.Set(upstream.RequestIDHeader, id)
		w.Header().Set(upstream.RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(gateway.WithRequestID(r.Context(), id)))
	})
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
func accessLog(next http.Handler, log *zap.Logger, hist *prometheus.HistogramVec) http.Handler {
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
			zap.String("request_id", r.Header.Get(upstream.RequestIDHeader)),
			zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.String("proto", r.Proto), zap.Int("status", sw.status),
			zap.Int64("request_bytes", r.ContentLength), zap.Int64("response_bytes", sw.bytes),
			zap.Duration("duration", d))
	})
}

func securityHeaders(next http.Handler, hsts bool) http.Handler {
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

func concurrencyLimit(next http.Handler, n int, g prometheus.Gauge) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		default:
			w.Header().Set("Retry-After", "1")
			fixed(w, http.StatusServiceUnavailable, `{"error":{"code":"busy","message":"the server is busy, retry later"}}`)
			return
		}
		g.Inc()
		defer func() { <-slots; g.Dec() }()
		next.ServeHTTP(w, r)
	})
}

func bodyLimit(next http.Handler, n int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			fixed(w, http.StatusRequestEntityTooLarge, `{"error":{"code":"too_large","message":"the request body is larger than the limit"}}`)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
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
