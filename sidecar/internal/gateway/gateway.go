// Package gateway is the sidecar's encrypted front: it opens a request in one
// of the three envelope modes (PSK, Oblivious HTTP, legacy AES-CBC), forwards
// the plaintext to the upstream OCR service, and seals the upstream's answer
// back to the client. Requests that are not encrypted are refused, except the
// configured allowlist of plain routes, which are proxied as they are.
//
// The gateway never parses what it forwards. Every failure to open a request
// answers the same fixed message whatever failed; the detail goes to the
// (redacting) log only.
package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	coreapi "github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/bodybuf"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/replay"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
	"github.com/sealocr/sealocr/sidecar/logging"
)

// OHTTPPath is the Oblivious HTTP gateway and key configuration resource.
const OHTTPPath = route.OHTTPPath

// OHTTPReplayPartition is the replay store partition of every OHTTP
// request. The record is keyed by the request alone (key ID, KEM, KDF, AEAD
// and the encapsulated key: ohttp.ResponseContext.ReplayKey), never by an
// identity the sender chooses.
const OHTTPReplayPartition = "ohttp"

// Forwarder sends plaintext to the upstream.
type Forwarder interface {
	Do(ctx context.Context, method, path string, header http.Header, body []byte) (*upstream.Response, error)
	ServeHTTP(w http.ResponseWriter, r *http.Request)
}

// KeySource returns the keys in force.
type KeySource interface{ Current() *keys.Set }

// Options configure the gateway. Zero values get safe defaults.
type Options struct {
	Keys     KeySource
	Upstream Forwarder
	// Replay records accepted PSK and OHTTP requests (required). A PSK
	// request is recorded in its key ID's partition, an OHTTP request in
	// the one partition OHTTPReplayPartition under its key configuration
	// and encapsulated key, whoever sends it: who posts a captured request
	// (other outer credentials, or none) does not make it fresh again. An
	// error from it refuses the request with 503 busy.
	Replay replay.Store
	// Window is how old a PSK timestamp or an OHTTP Date may be (5 min).
	Window time.Duration
	// MaxFuture is how far ahead of the clock a PSK timestamp or an OHTTP
	// Date may be (30 s).
	MaxFuture time.Duration
	// OHTTPRequireDate refuses OHTTP inner requests without a Date field
	// (with the encapsulated date problem). Without it, a request without
	// Date is protected against replay for Window after its receipt.
	OHTTPRequireDate bool

	LegacyEnabled      bool
	LegacyPath         string // route.LegacyPath when empty
	LegacyUpstreamPath string // core/api.OCRPath when empty

	// Plain reports whether an unencrypted request may be proxied as is.
	Plain func(method, path string) bool

	// Inner reports whether the inner request of a PSK or OHTTP request may
	// reach method and path (the target without its query) at the
	// upstream; nil allows route.DefaultInner. Anything else is answered
	// api.RouteNotAllowed inside the sealed or encapsulated response.
	Inner func(method, path string) bool

	// Authorize, if set, is called with the headers of each decapsulated
	// OHTTP inner request before it is forwarded: credentials may travel
	// inside the encrypted request. An error refuses the request with an
	// encapsulated 401; if the error has a method Challenge() string, its
	// result is the inner response's WWW-Authenticate field.
	Authorize func(ctx context.Context, header http.Header) (identity string, err error)

	// KeyUsage records when each key last opened a request (nil: not
	// recorded).
	KeyUsage *keys.Usage

	Logger   *zap.Logger
	Registry prometheus.Registerer
	Now      func() time.Time
	Rand     io.Reader
}

// Gateway is the http.Handler.
type Gateway struct {
	o        Options
	bufs     *bodybuf.Pool // request bodies read here (outside the server's chain)
	rules    route.Rules
	log      *zap.Logger
	requests *prometheus.CounterVec
}

// New builds a gateway.
func New(o Options) *Gateway {
	if o.Window <= 0 {
		o.Window = psk.DefaultWindow
	}
	if o.MaxFuture <= 0 {
		o.MaxFuture = psk.DefaultMaxFuture
	}
	o.MaxFuture = min(o.MaxFuture, o.Window)
	if o.LegacyPath == "" {
		o.LegacyPath = route.LegacyPath
	}
	if o.LegacyUpstreamPath == "" {
		o.LegacyUpstreamPath = coreapi.OCRPath
	}
	if o.Plain == nil {
		o.Plain = func(string, string) bool { return false }
	}
	if o.Inner == nil {
		o.Inner = route.DefaultInner.Match
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	g := &Gateway{o: o, log: o.Logger, bufs: bodybuf.New(0),
		rules: route.Rules{LegacyEnabled: o.LegacyEnabled, LegacyPath: o.LegacyPath, Plain: o.Plain}}
	g.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealocr_sidecar_requests_total",
		Help: "Requests by envelope mode and outcome (ok, refused, too_large, unauthorized, route_not_allowed, upstream_error, plain, rejected_plaintext).",
	}, []string{"mode", "outcome"})
	if o.Registry != nil {
		o.Registry.MustRegister(g.requests)
	}
	return g
}

// logFor is the gateway's logger with the fields of ctx's request (its
// request ID: logging.WithRequest).
func (g *Gateway) logFor(ctx context.Context) *zap.Logger { return logging.For(ctx, g.log) }

// innerAllowed reports whether an inner request of method to target (origin
// form, path and query) may be forwarded: its path, without the query, must
// be on the allowlist. A target that is not a valid origin-form
// request-target (route.ValidTarget) never is.
func (g *Gateway) innerAllowed(method, target string) bool {
	if !route.ValidTarget(target) || strings.HasPrefix(target, "//") {
		return false
	}
	path, _, _ := strings.Cut(target, "?")
	return g.o.Inner(method, path)
}

// refuseInner counts and logs an inner request outside the allowlist and
// returns the fixed answer to seal or encapsulate.
func (g *Gateway) refuseInner(ctx context.Context, mode, method, target string) *upstream.Response {
	g.requests.WithLabelValues(mode, "route_not_allowed").Inc()
	// The inner method and target were encrypted: a client may put
	// anything there, so only a known method's name and the target's
	// size are logged.
	g.logFor(ctx).Info("inner request outside the allowlist", zap.String("mode", mode),
		zap.String("method", knownMethod(method)), zap.Int("target_bytes", len(target)))
	return fixedResponse(api.RouteNotAllowed)
}

// Rules returns the routing rules of the gateway's options, for the
// server's routing middleware: the request is classified once, there, and
// ServeHTTP dispatches on that decision.
func (g *Gateway) Rules() route.Rules { return g.rules }

// ServeHTTP dispatches on the request's route.Kind: the one stored by the
// server's routing middleware, or, outside the server's chain, its own
// classification under Rules.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch g.rules.Of(r) {
	case route.OHTTP, route.OHTTPKeys:
		g.ohttp(w, r)
	case route.PSK:
		g.psk(w, r)
	case route.Legacy:
		g.legacy(w, r)
	case route.Plain:
		g.plain(w, r)
	case route.Health: // the server answers these; a plain route otherwise
		if g.o.Plain(r.Method, r.URL.Path) {
			g.plain(w, r)
			return
		}
		g.refusePlaintext(w, r)
	default:
		g.refusePlaintext(w, r)
	}
}

func (g *Gateway) plain(w http.ResponseWriter, r *http.Request) {
	g.requests.WithLabelValues("plain", "plain").Inc()
	g.o.Upstream.ServeHTTP(w, r)
}

func (g *Gateway) refusePlaintext(w http.ResponseWriter, r *http.Request) {
	g.requests.WithLabelValues("none", "rejected_plaintext").Inc()
	g.logFor(r.Context()).Info("unencrypted request refused", zap.String("method", r.Method), zap.String("path", r.URL.Path))
	api.Write(w, api.EncryptionRequired)
}

// refuse counts and logs a refused request of mode, with err's cause, and
// writes err's fixed answer (api.AnswerFor): the client never sees the
// cause.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, mode string, err error) {
	id := api.AnswerFor(err)
	outcome := "refused"
	if id == api.TooLarge {
		outcome = "too_large"
	}
	g.requests.WithLabelValues(mode, outcome).Inc()
	g.logFor(r.Context()).Info("request refused", zap.String("mode", mode), zap.Stringer("answer", id), cause(err))
	api.Write(w, id)
}

// serverBody is a body read by the server under its byte budget
// (server.Buffered).
type serverBody interface {
	Bytes() []byte
	// Reserve counts n more bytes of this request in the budget.
	Reserve(n int64) bool
	// Release gives the body's bytes back before the request ends.
	Release()
}

// maxPrealloc bounds the buffer allocated up front from a request's
// Content-Length; a larger body grows it as it arrives.
const maxPrealloc = 8 << 20

// readBody reads the (already size-limited) body; false means an answer
// was written. A body the server has read under its byte budget is taken
// as it is. Otherwise the buffer comes from the gateway's pool, sized once
// from Content-Length (up to maxPrealloc) rather than grown by doubling,
// which at 1 MiB cost a dozen reallocations and copies; the caller gives
// held back to the pool when it is done with body (nil: nothing to give).
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, mode string) (body, held []byte, ok bool) {
	if b, ok := r.Body.(interface{ Bytes() []byte }); ok { // read by the server, under its budget
		return b.Bytes(), nil, true
	}
	n := int64(0)
	if r.ContentLength > 0 {
		n = min(r.ContentLength, maxPrealloc)
	}
	held = g.bufs.Get(int(n) + bytes.MinRead)
	// The capacity is capped at len(held), which Put clears: a longer body
	// moves to a new buffer rather than past what the pool clears.
	buf := bytes.NewBuffer(held[:0:len(held)])
	_, err := buf.ReadFrom(r.Body)
	if err != nil {
		g.bufs.Put(held)
		id := api.CannotOpen
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			id = api.TooLarge
		}
		g.refuse(w, r, mode, api.NewError(id, fmt.Errorf("read body: %w", err)))
		return nil, nil, false
	}
	return buf.Bytes(), held, true
}

// forward sends plaintext upstream; transport failures become the fixed
// 502/504 answers, which the caller seals like any upstream response.
func (g *Gateway) forward(ctx context.Context, mode, method, path, contentType string, body []byte) *upstream.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if id, ok := api.RequestIDFrom(ctx); ok {
		h.Set(api.RequestIDHeader, id)
	}
	res, err := g.o.Upstream.Do(ctx, method, path, h, body)
	if err != nil {
		g.requests.WithLabelValues(mode, "upstream_error").Inc()
		g.logFor(ctx).Warn("upstream call failed", zap.String("mode", mode), cause(err))
		return upstream.ErrorResponse(err)
	}
	g.requests.WithLabelValues(mode, "ok").Inc()
	return res
}

func (g *Gateway) psk(w http.ResponseWriter, r *http.Request) {
	body, held, ok := g.readBody(w, r, "psk")
	if !ok {
		return
	}
	defer g.bufs.Put(held) // the plaintext is opened in place: cleared there
	set := g.o.Keys.Current()
	// The target is bound as sent on the wire (PROTOCOL.md section 1.2):
	// r.RequestURI, not the re-escaped r.URL.RequestURI().
	target := r.RequestURI
	if target == "" { // a request built in a test, not read from the wire
		target = r.URL.RequestURI()
	}
	req, err := psk.Open(r.Context(), set.PSK, r.Method, target, body, g.o.Now(),
		psk.OpenOptions{Window: g.o.Window, MaxFuture: g.o.MaxFuture, Replay: g.o.Replay, InPlace: true})
	if err != nil {
		id := api.CannotOpen
		if errors.Is(err, psk.ErrReplayStore) {
			id = api.Busy // never accepted unchecked
		}
		g.refuse(w, r, "psk", api.NewError(id, err))
		return
	}
	g.logFor(r.Context()).Debug("psk request opened", logging.KeyID(req.KeyID()))
	g.o.KeyUsage.Used("psk", req.KeyID(), g.o.Now())
	var res *upstream.Response
	if g.innerAllowed(r.Method, target) {
		res = g.forward(r.Context(), "psk", r.Method, target, req.ContentType(), req.Plaintext())
	} else {
		res = g.refuseInner(r.Context(), "psk", r.Method, target)
	}
	sealed, err := req.SealResponse(g.o.Rand, res.Status, res.Header.Get("Content-Type"), res.Body)
	if err != nil {
		g.logFor(r.Context()).Error("psk seal failed", zap.Error(err))
		api.Write(w, api.Internal)
		return
	}
	writeSealed(w, r, psk.ResponseMediaType, sealed)
}

func (g *Gateway) ohttp(w http.ResponseWriter, r *http.Request) {
	set := g.o.Keys.Current()
	if set.OHTTP == nil {
		api.Write(w, api.OHTTPUnavailable)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		// The configurations offered; with rotation the gateway also
		// accepts those of the periods around (keys.Set.At).
		list, err := ohttp.MarshalKeyList(set.Public...)
		if err != nil {
			g.logFor(r.Context()).Error("ohttp key list", zap.Error(err))
			api.Write(w, api.Internal)
			return
		}
		w.Header().Set("Content-Type", ohttp.KeysMediaType)
		w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(set.KeyListMaxAge/time.Second)))
		w.Header().Set("Content-Length", strconv.Itoa(len(list)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(list)
		}
		return
	case http.MethodPost:
	default:
		api.Write(w, api.MethodNotAllowed)
		return
	}
	if !route.IsOHTTPRequest(r) {
		api.Write(w, api.EncryptionRequired)
		return
	}
	body, held, ok := g.readBody(w, r, "ohttp")
	if !ok {
		return
	}
	defer g.bufs.Put(held)
	// The HPKE plaintext is a second copy of the body (crypto/hpke opens
	// into a new slice): the server's byte budget counts it before it
	// exists, and the ciphertext is given back as soon as it is opened,
	// so that at most both are held, and only while the AEAD runs.
	// Binary HTTP content is a view of the plaintext (no third copy),
	// and the plaintext is zeroed when the request ends.
	if sb, ok := r.Body.(serverBody); ok {
		if !sb.Reserve(int64(len(body))) {
			g.refuse(w, r, "ohttp", api.NewError(api.Busy, errors.New("byte budget cannot hold the plaintext")))
			return
		}
	}
	// Without outer credentials the server's rate limiter took no token:
	// the request is charged here, once, to the identity of its valid
	// inner credentials, else to its address (ratelimit.Deferred).
	charge := ratelimit.DeferredFrom(r.Context())
	limited := func(identity string) bool { return charge != nil && charge(w, r, identity) }
	var keyID uint8 // the header's key ID, read before the ciphertext is given back
	if len(body) > 0 {
		keyID = body[0]
	}
	inner, rc, err := set.OHTTP.DecapsulateRequest(body)
	if sb, ok := r.Body.(serverBody); ok {
		sb.Release() // body is not used again
	}
	defer clear(inner)
	if err != nil {
		if limited("") {
			return
		}
		id := api.CannotOpen
		if errors.Is(err, ohttp.ErrUnknownKey) || errors.Is(err, ohttp.ErrUnsupported) {
			// RFC 9458 section 5.3: tell the client to refetch the keys
			// (PROTOCOL.md section 2.5: unknown key and suite not offered alike).
			id = api.OHTTPKeyUnknown
		}
		g.refuse(w, r, "ohttp", api.NewError(id, err))
		return
	}
	g.o.KeyUsage.UsedOHTTP(keyID, g.o.Now())
	breq, err := bhttp.ParseRequestInPlace(inner, bhttp.Limits{})
	var res *upstream.Response
	var identity string
	var expiry time.Time
	switch {
	case err != nil:
		g.requests.WithLabelValues("ohttp", "refused").Inc()
		g.logFor(r.Context()).Info("ohttp inner request malformed", cause(err), zap.Int("inner_bytes", len(inner)))
		res = fixedResponse(api.CannotOpen)
	case !strings.HasPrefix(breq.Path, "/"):
		// Only origin-form paths: the authority never chooses a host.
		g.requests.WithLabelValues("ohttp", "refused").Inc()
		res = fixedResponse(api.CannotOpen)
	default:
		if expiry, res = g.checkDate(r.Context(), breq.Header); res != nil {
			break
		}
		identity, res = g.authorizeInner(r.Context(), breq.Header)
	}
	if res == nil {
		// RFC 9458 section 6.5: the encapsulated key is fresh for every
		// request; one seen before is a replay, whatever credentials
		// come with it this time (the key is the request's own, not the
		// sender's identity). Checked after authorization, so that
		// anonymous floods cannot fill the OHTTP share when credentials
		// are required, and before the charge, so that replaying a
		// captured request draws from the replayer's address, never from
		// the bucket of the client who sent it first.
		fresh, err := g.o.Replay.Seen(r.Context(), OHTTPReplayPartition, rc.ReplayKey(), expiry)
		if err != nil {
			if limited("") {
				return
			}
			g.refuse(w, r, "ohttp", api.NewError(api.Busy, fmt.Errorf("replay store: %w", err)))
			return
		}
		if !fresh {
			if limited("") {
				return
			}
			g.refuse(w, r, "ohttp", api.NewError(api.CannotOpen, errors.New("replayed encapsulated request")))
			return
		}
	}
	if limited(identity) { // identity is "" unless the inner credentials are valid
		return
	}
	if res == nil {
		if g.innerAllowed(breq.Method, breq.Path) {
			ct := ""
			for _, f := range breq.Header {
				if strings.EqualFold(f.Name, "content-type") {
					ct = f.Value
				}
			}
			res = g.forward(r.Context(), "ohttp", breq.Method, breq.Path, ct, breq.Content)
		} else {
			res = g.refuseInner(r.Context(), "ohttp", breq.Method, breq.Path)
		}
	}
	bres := &bhttp.Response{Status: res.Status}
	if ct := res.Header.Get("Content-Type"); ct != "" {
		bres.Header = append(bres.Header, bhttp.Field{Name: "content-type", Value: ct})
	}
	if id := res.Header.Get(api.RequestIDHeader); id != "" {
		bres.Header = append(bres.Header, bhttp.Field{Name: "x-request-id", Value: id})
	}
	if ra := res.Header.Get(api.HeaderRetryAfter); ra != "" {
		// The core's busy answer says when to come back; the client honours it.
		bres.Header = append(bres.Header, bhttp.Field{Name: "retry-after", Value: ra})
	}
	if c := res.Header.Get(api.HeaderWWWAuthenticate); c != "" && res.Status == http.StatusUnauthorized {
		bres.Header = append(bres.Header, bhttp.Field{Name: "www-authenticate", Value: c})
	}
	if d := res.Header.Get(api.HeaderDate); d != "" {
		bres.Header = append(bres.Header, bhttp.Field{Name: "date", Value: d})
	}
	bres.Content = res.Body
	enc, err := bres.MarshalBinary()
	if err == nil {
		enc, err = rc.EncapsulateResponse(g.o.Rand, enc)
	}
	if err != nil {
		g.logFor(r.Context()).Error("ohttp encapsulate failed", zap.Error(err))
		api.Write(w, api.Internal)
		return
	}
	writeSealed(w, r, ohttp.ResponseMediaType, enc)
}

// checkDate applies the acceptance window to the inner request's Date
// (ohttp.CheckDate): it returns until when the request must be remembered,
// or the date problem to encapsulate, with the sidecar's Date.
func (g *Gateway) checkDate(ctx context.Context, fields []bhttp.Field) (time.Time, *upstream.Response) {
	var dates []string
	for _, f := range fields {
		if strings.EqualFold(f.Name, "date") {
			dates = append(dates, f.Value)
		}
	}
	now := g.o.Now()
	expiry, err := ohttp.CheckDate(dates, now, g.o.Window, g.o.MaxFuture, g.o.OHTTPRequireDate)
	if err == nil {
		return expiry, nil
	}
	g.requests.WithLabelValues("ohttp", "refused").Inc()
	g.logFor(ctx).Info("ohttp inner request refused", zap.Stringer("answer", api.OHTTPDate), cause(err))
	res := fixedResponse(api.OHTTPDate)
	res.Header.Set(api.HeaderDate, now.UTC().Format(http.TimeFormat))
	return time.Time{}, res
}

// authorizeInner runs Options.Authorize on the inner request's fields; it
// returns the identity to go on, or the 401 answer to encapsulate.
func (g *Gateway) authorizeInner(ctx context.Context, fields []bhttp.Field) (string, *upstream.Response) {
	if g.o.Authorize == nil {
		return "", nil
	}
	h := make(http.Header, len(fields))
	for _, f := range fields {
		h.Add(f.Name, f.Value)
	}
	id, err := g.o.Authorize(ctx, h)
	if err == nil {
		if id != "" {
			g.logFor(ctx).Debug("ohttp inner request authorized", logging.Subject(id))
		}
		return id, nil
	}
	g.requests.WithLabelValues("ohttp", "unauthorized").Inc()
	g.logFor(ctx).Info("ohttp inner request unauthorized", cause(err))
	res := fixedResponse(api.Unauthorized)
	challenge := "Bearer"
	var c interface{ Challenge() string }
	if errors.As(err, &c) {
		challenge = c.Challenge()
	}
	res.Header.Set(api.HeaderWWWAuthenticate, challenge)
	return "", res
}

// fixedResponse is a fixed answer to seal or encapsulate instead of an
// upstream answer.
func fixedResponse(id api.ID) *upstream.Response {
	a := api.Lookup(id)
	h := http.Header{}
	h.Set("Content-Type", a.ContentType)
	return &upstream.Response{Status: a.Status, Header: h, Body: a.Body}
}

// legacy serves the compatibility mode without a padding oracle
// (PROTOCOL.md section 3.3). Whatever the body holds, the same steps run:
// every key is tried (legacycbc.OpenAll: MAC check, decryption and
// constant-time unpadding under each), the resulting bytes — the image, or
// the undecodable stand-in when no key opened the request — go to the
// upstream, and only the upstream's answer decides. A 200 is sealed under
// the key that accepted the request; everything else (the upstream's
// refusal, a transport failure, a timeout, a request no key accepted) is the
// one fixed LegacyError answer. So the status, the body, the work at the
// core and its counters do not depend on which check failed.
func (g *Gateway) legacy(w http.ResponseWriter, r *http.Request) {
	var body []byte
	var err error
	legacyKeys := g.o.Keys.Current().Legacy
	sb, buffered := r.Body.(serverBody)
	if buffered {
		// Read by the server under its byte budget: taken without a
		// copy. What OpenAll makes is counted before it exists, each
		// copy at most the body's length: the JSON string, its base64
		// decoding, one decryption per key (a refusal that depends on
		// the body's length and the key count only).
		body = sb.Bytes()
		copies := int64(2 + len(legacyKeys))
		if !sb.Reserve(copies * int64(len(body))) {
			g.refuse(w, r, "legacy", api.NewError(api.Busy, errors.New("byte budget cannot hold the plaintext")))
			return
		}
	} else {
		body, err = io.ReadAll(r.Body)
	}
	if err != nil {
		// Only the body's size (413) is told apart: it depends on nothing
		// secret.
		id := api.LegacyError
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			id = api.TooLarge
		}
		g.refuse(w, r, "legacy", api.NewError(id, fmt.Errorf("read body: %w", err)))
		return
	}
	opened := legacycbc.OpenAll(legacyKeys, body)
	if buffered {
		sb.Release() // the ciphertext is not used again
	}
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if id, ok := api.RequestIDFrom(r.Context()); ok {
		h.Set(api.RequestIDHeader, id)
	}
	res, err := g.o.Upstream.Do(r.Context(), http.MethodPost, g.o.LegacyUpstreamPath, h, opened.Plaintext())
	var cause error
	switch {
	case err != nil:
		cause = fmt.Errorf("upstream: %w", err)
	case res.Status != http.StatusOK:
		cause = fmt.Errorf("upstream answered %d", res.Status)
	case !opened.CanSeal():
		cause = errors.New("upstream accepted a stand-in body")
	}
	if cause != nil {
		if c := opened.Cause(); c != legacycbc.CauseNone {
			cause = fmt.Errorf("request %s (%w)", c, cause)
		}
		g.refuse(w, r, "legacy", api.NewError(api.LegacyError, cause))
		return
	}
	sealed, err := opened.Seal(g.o.Rand, res.Body)
	if err != nil {
		g.refuse(w, r, "legacy", api.NewError(api.LegacyError, fmt.Errorf("seal: %w", err)))
		return
	}
	g.requests.WithLabelValues("legacy", "ok").Inc()
	writeSealed(w, r, legacycbc.MediaType, sealed)
}

// writeSealed writes a sealed answer: 200, its media type, no-store and
// its length. Over HTTP/1.x the answer is flushed at once, so that the
// client reads it while the request's cleanup (the body buffer zeroed and
// given back, the budget, the access log) still runs; the declared length
// keeps the answer unchunked. (Over HTTP/2 a flush before the handler
// returns would leave END_STREAM to a frame of its own, which a client
// that closes the body on the last byte answers with RST_STREAM.)
func writeSealed(w http.ResponseWriter, r *http.Request, mediaType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	if r.ProtoMajor == 1 {
		_ = http.NewResponseController(w).Flush()
	}
}
