package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sealocr/sealocr/core/api"
	wire "github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// Mode is the envelope a [Client] uses.
type Mode string

// Envelope modes.
const (
	// ModePSK seals requests with a pre-shared key (the default).
	ModePSK Mode = "psk"
	// ModeOHTTP encapsulates requests with Oblivious HTTP (RFC 9458).
	ModeOHTTP Mode = "ohttp"
)

// OCR modes of the core, for [OCROptions.Mode].
const (
	// DocumentMode detects and recognizes every text line of a page.
	DocumentMode = "document"
	// LineMode recognizes an image holding one line of text.
	LineMode = "line"
)

// Defaults.
const (
	// DefaultServer is the sidecar's default address.
	DefaultServer = "https://127.0.0.1:8443"
	// DefaultTimeout bounds one call when [Config.Timeout] is zero.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxResponseBytes bounds a response body when
	// [Config.MaxResponseBytes] is zero.
	DefaultMaxResponseBytes = 64 << 20
	// GatewayPath is the sidecar's Oblivious HTTP resource: GET returns the
	// key configurations, POST takes an encapsulated request.
	GatewayPath = api.OHTTPPath
	// OCRPath is the core's OCR endpoint.
	OCRPath = api.OCRPath
)

// maxKeyListBytes bounds an application/ohttp-keys body.
const maxKeyListBytes = 1 << 20

// keyCacheTTL is how long fetched gateway keys are reused.
const keyCacheTTL = time.Hour

// Config configures a [Client]. The zero value of every field but PSKKey
// (required in PSK mode) has a safe default.
type Config struct {
	// Server is the sidecar's base URL; it must be https. Default
	// [DefaultServer].
	Server string
	// CAFile is a PEM file of the certificate authorities to trust for
	// the sidecar's TLS certificate (the sidecar's local CA is
	// <state_dir>/ca.pem). When set, only these are trusted; when empty,
	// the system roots are. It cannot be combined with HTTPClient.
	CAFile string
	// HTTPClient sends the requests; nil builds one that trusts CAFile
	// (or the system roots), requires TLS 1.2 or later and follows no
	// redirects.
	HTTPClient *http.Client
	// Mode is the envelope, [ModePSK] (default) or [ModeOHTTP].
	Mode Mode
	// PSKKey is the pre-shared key for [ModePSK].
	PSKKey *PSKKey
	// OHTTPKEM selects the gateway key configuration by KEM name
	// ([KEMX25519] or [KEMMLKEM768X25519]); empty prefers X25519 and
	// falls back to any supported KEM.
	OHTTPKEM string
	// OHTTPAEAD selects the AEAD ([AEADAES128GCM], [AEADAES256GCM] or
	// [AEADChaCha20Poly1305]) with HKDF-SHA256; empty prefers AES-128-GCM
	// and falls back to the first suite the configuration offers.
	OHTTPAEAD string
	// PinnedKeyFingerprint, if set, is the hex SHA-256 of the one gateway
	// key configuration the client may use (see [KeyInfo.Fingerprint]; a
	// "sha256:" prefix, colons and upper case are accepted). A gateway
	// that does not offer it is refused with [ErrKeyPinMismatch].
	PinnedKeyFingerprint string
	// RelayURL, if set, is an Oblivious HTTP relay to which encapsulated
	// requests are posted instead of the gateway; keys are still fetched
	// from Server.
	RelayURL string
	// Timeout bounds each call; zero means [DefaultTimeout], negative no
	// limit beyond the context's.
	Timeout time.Duration
	// MaxResponseBytes bounds each response body; zero means
	// [DefaultMaxResponseBytes].
	MaxResponseBytes int64
	// Now is the clock for PSK timestamps and the Date of OHTTP inner
	// requests; nil means time.Now.
	Now func() time.Time
	// Rand is the randomness for PSK salts and nonces; nil means
	// crypto/rand. (Oblivious HTTP always uses crypto/rand.)
	Rand io.Reader
	// Credential, if set, is a bearer credential (a JWT or an API key) for
	// a sidecar that requires authentication. In PSK mode it travels in the
	// outer request's Authorization header (inside TLS); in Oblivious HTTP
	// mode inside the encrypted request, so a relay never sees it.
	Credential string
	// MaxRetries is how many times a call is retried after a busy or
	// rate-limited answer or an attempt that got no answer (see the
	// package documentation, "Retries"); zero means [DefaultMaxRetries],
	// negative no retries.
	MaxRetries int
	// RetryBaseDelay is the ceiling of the first random backoff, doubled
	// for every further retry; zero means [DefaultRetryBaseDelay].
	RetryBaseDelay time.Duration
	// RetryMaxDelay caps the backoff ceiling (not the server's
	// Retry-After); zero means [DefaultRetryMaxDelay].
	RetryMaxDelay time.Duration
	// AttemptTimeout, if positive, bounds each attempt of a call; an
	// attempt that times out is retried within Timeout (OCR is
	// idempotent). Zero leaves only Timeout.
	AttemptTimeout time.Duration
}

// OCROptions are the per-request options of [Client.OCR].
type OCROptions struct {
	// Mode is the core's OCR mode, [DocumentMode] or [LineMode]; empty
	// leaves the core's default (document).
	Mode string
	// ContentType is the document's media type, such as "image/png" or
	// "application/pdf"; empty sniffs it from the bytes and falls back to
	// "application/octet-stream".
	ContentType string
	// Output is the answer's format: [OutputJSON] (empty: the default),
	// [OutputPDF] (a searchable PDF) or [OutputHOCR]. [Client.OCR] and
	// [Client.OCRJSON] take JSON only; [Client.OCRAnswer] takes any.
	Output string
	// OnRetry, if set, is called before each retry of this call, from the
	// calling goroutine, with the attempt about to be made, the wait and
	// what the previous attempt got.
	OnRetry func(RetryInfo)
}

// Client sends sealed OCR requests to a sidecar. It is safe for concurrent
// use.
type Client struct {
	hc      *http.Client
	base    *url.URL
	relay   *url.URL
	mode    Mode
	key     *PSKKey
	kem     ohttp.KEM // 0: prefer X25519
	aead    ohttp.AEAD
	aeadSet bool
	pin     string
	cred    string // bearer credential; never printed
	timeout time.Duration
	maxResp int64
	now     func() time.Time
	rand    io.Reader
	retries retryPolicy

	mu      sync.Mutex
	cfgs    []ohttp.PublicKeyConfig
	fetched time.Time
}

// New validates cfg, reporting every problem at once, and returns a client.
func New(cfg Config) (*Client, error) {
	c := &Client{
		mode:    cfg.Mode,
		key:     cfg.PSKKey,
		timeout: cfg.Timeout,
		maxResp: cfg.MaxResponseBytes,
		now:     cfg.Now,
		rand:    cfg.Rand,
		aead:    ohttp.AEADAES128GCM,
		cred:    cfg.Credential,
		retries: newRetryPolicy(cfg),
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	server := cfg.Server
	if server == "" {
		server = DefaultServer
	}
	var err error
	if c.base, err = parseHTTPS(server); err != nil {
		bad("server: %v", err)
	}
	if cfg.RelayURL != "" {
		if c.relay, err = parseHTTPS(cfg.RelayURL); err != nil {
			bad("relay URL: %v", err)
		}
	}
	switch c.mode {
	case "":
		c.mode = ModePSK
		fallthrough
	case ModePSK:
		if c.key == nil {
			bad("PSK mode needs a pre-shared key")
		}
	case ModeOHTTP:
	default:
		bad("unknown mode %q (want %q or %q)", cfg.Mode, ModePSK, ModeOHTTP)
	}
	if cfg.OHTTPKEM != "" {
		k, ok := parseKEM(cfg.OHTTPKEM)
		if !ok {
			bad("unknown OHTTP KEM %q", cfg.OHTTPKEM)
		}
		c.kem = k
	}
	if cfg.OHTTPAEAD != "" {
		a, ok := parseAEAD(cfg.OHTTPAEAD)
		if !ok {
			bad("unknown OHTTP AEAD %q", cfg.OHTTPAEAD)
		}
		c.aead, c.aeadSet = a, true
	}
	if cfg.PinnedKeyFingerprint != "" {
		p, ok := normalizeFingerprint(cfg.PinnedKeyFingerprint)
		if !ok {
			bad("pinned key fingerprint must be 64 hex digits")
		}
		c.pin = p
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxResp <= 0 {
		c.maxResp = DefaultMaxResponseBytes
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	switch {
	case cfg.HTTPClient != nil && cfg.CAFile != "":
		bad("CAFile and HTTPClient are exclusive")
	case cfg.HTTPClient != nil:
		c.hc = cfg.HTTPClient
	default:
		hc, err := newHTTPClient(cfg.CAFile)
		if err != nil {
			errs = append(errs, err)
		}
		c.hc = hc
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// parseHTTPS parses an absolute https URL without query or fragment.
func parseHTTPS(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("must be an absolute https URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errors.New("must not have a query, fragment or user info")
	}
	return u, nil
}

// newHTTPClient builds the default HTTP client: TLS 1.2 or later, the CA
// file as the only roots when given, no redirects.
func newHTTPClient(caFile string) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: CA file: %w", ErrInvalidConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA file %s holds no PEM certificates", ErrInvalidConfig, caFile)
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       tc,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		// A redirected POST would change the sealed target; never follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// CloseIdleConnections closes the idle connections of the HTTP client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Format prints the server and mode only, never the key or credential.
func (c *Client) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "sealocr client(%s, %s)", c.base, c.mode)
}

// Mode returns the client's envelope mode.
func (c *Client) Mode() Mode { return c.mode }

// Output formats of [OCROptions.Output] (the core's "output" query
// parameter).
const (
	OutputJSON = "json"
	OutputPDF  = "pdf"
	OutputHOCR = "hocr"
)

// Answer is the core's successful answer as it was sealed: its media type
// (application/json, application/pdf or text/html for hOCR) and its body.
type Answer struct {
	ContentType string
	Body        []byte
}

// OCR sends image for recognition and returns the core's decoded response.
// Error answers are a [*ServerError]; see also [ErrOpenResponse].
func (c *Client) OCR(ctx context.Context, image []byte, opts OCROptions) (*api.Response, error) {
	raw, err := c.OCRJSON(ctx, image, opts)
	if err != nil {
		return nil, err
	}
	var r api.Response
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w: the OCR response is not the expected JSON", ErrUnexpectedResponse)
	}
	return &r, nil
}

// OCRJSON is like [Client.OCR] but returns the core's JSON response body
// exactly as the core wrote it.
func (c *Client) OCRJSON(ctx context.Context, image []byte, opts OCROptions) ([]byte, error) {
	switch opts.Output {
	case "", OutputJSON:
	default:
		return nil, fmt.Errorf("%w: OCRJSON takes JSON output only; use OCRAnswer", ErrInvalidConfig)
	}
	a, err := c.OCRAnswer(ctx, image, opts)
	if err != nil {
		return nil, err
	}
	return a.Body, nil
}

// OCRAnswer sends a document (an image, a multi-page TIFF or a PDF) for
// recognition and returns the core's answer in the format opts.Output asks
// for. Error answers are a [*ServerError]; see also [ErrOpenResponse].
func (c *Client) OCRAnswer(ctx context.Context, image []byte, opts OCROptions) (*Answer, error) {
	target, err := ocrTarget(opts.Mode, opts.Output)
	if err != nil {
		return nil, err
	}
	ct := opts.ContentType
	if ct == "" {
		ct = sniff(image)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	// Every attempt seals afresh: a new nonce, a new HPKE context.
	out, err := c.retry(ctx, opts.OnRetry, func(ctx context.Context) (*Answer, error) {
		if c.mode == ModeOHTTP {
			return c.ocrOHTTP(ctx, target, ct, image)
		}
		return c.ocrPSK(ctx, target, ct, image)
	})
	// A server that notices the cancellation may still get its answer
	// through before the transport gives up; the caller asked to stop, so
	// that is what it hears.
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("sealocr client: %w", ctx.Err())
	}
	return out, err
}

// ocrTarget returns the path and query of the OCR request.
func ocrTarget(mode, output string) (string, error) {
	q := url.Values{}
	for _, p := range []struct{ name, value string }{{"mode", mode}, {"output", output}} {
		if p.value == "" {
			continue
		}
		for i := 0; i < len(p.value); i++ {
			ch := p.value[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') || i >= 32 {
				return "", fmt.Errorf("%w: OCR %s must be a short lowercase word", ErrInvalidConfig, p.name)
			}
		}
		q.Set(p.name, p.value)
	}
	if len(q) == 0 {
		return OCRPath, nil
	}
	return OCRPath + "?" + q.Encode(), nil
}

// sniff guesses an image or PDF media type, or application/octet-stream.
func sniff(b []byte) string {
	ct := http.DetectContentType(b)
	if strings.HasPrefix(ct, "image/") || ct == "application/pdf" {
		return ct
	}
	if len(b) >= 4 && (bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*"))) {
		return "image/tiff"
	}
	return "application/octet-stream"
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout > 0 {
		return context.WithTimeout(ctx, c.timeout)
	}
	return context.WithCancel(ctx)
}

// endpoint returns the base URL with path p (which may carry a query)
// appended to the base path.
func endpoint(base *url.URL, p string) *url.URL {
	u := *base
	path, query, _ := strings.Cut(p, "?")
	u.Path = strings.TrimSuffix(base.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = query
	return &u
}

// ocrPSK seals, sends and opens one request in PSK mode.
func (c *Client) ocrPSK(ctx context.Context, target, contentType string, image []byte) (*Answer, error) {
	u := endpoint(c.base, target)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("sealocr client: %w", err)
	}
	// Seal for exactly the request target the transport writes, into a
	// lent buffer that goes back once the request is done with.
	lb := lendSealBuffer(len(image))
	defer lb.release()
	body, opener, err := psk.AppendSealRequest((*lb.buf)[:0], c.rand, c.key.k, http.MethodPost, req.URL.RequestURI(), contentType, c.now(), image)
	if err != nil {
		return nil, fmt.Errorf("sealocr client: seal request: %w", err)
	}
	*lb.buf = body
	lb.setBody(req)
	req.Header.Set("Content-Type", psk.RequestMediaType)
	req.Header.Set("Accept", psk.ResponseMediaType)
	if c.cred != "" {
		req.Header.Set("Authorization", "Bearer "+c.cred)
	}
	status, header, data, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, outerError(status, header, data)
	}
	if mt := mediaType(header.Get("Content-Type")); mt != psk.ResponseMediaType {
		return nil, fmt.Errorf("%w: unexpected content type %q", ErrOpenResponse, clean(mt))
	}
	innerStatus, innerType, plain, err := opener.Open(data)
	if err != nil {
		return nil, ErrOpenResponse
	}
	return innerResult(innerStatus, innerType, plain)
}

// setBody sets a replayable in-memory body.
func setBody(req *http.Request, body []byte) {
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// sealBufs lends the buffers PSK requests are sealed into: a 1 MiB image
// sealed into a fresh buffer costs newly zeroed pages and a garbage
// collection every few requests, more CPU than the sealing itself.
var sealBufs sync.Pool

// sealSlack is room beyond the plaintext for the PSK header and tag (a
// longer header only costs a reallocation).
const sealSlack = 512

// maxLentBuffer is the largest buffer kept in sealBufs; larger bodies are
// sealed into buffers left to the garbage collector.
const maxLentBuffer = 8 << 20

// lentBuffer is a sealing buffer on loan: it goes back to sealBufs when
// the caller has released it and the transport has closed every body
// reader it made of it (RoundTrip may close a body after it returns, and
// GetBody may make more than one).
type lentBuffer struct {
	buf  *[]byte
	mu   sync.Mutex
	refs int
}

// lendSealBuffer lends a buffer for sealing n bytes of plaintext; the
// caller holds one reference.
func lendSealBuffer(n int) *lentBuffer {
	if p, ok := sealBufs.Get().(*[]byte); ok && cap(*p) >= n+sealSlack {
		return &lentBuffer{buf: p, refs: 1}
	} else if ok {
		sealBufs.Put(p) // too small for this one; another request may use it
	}
	b := make([]byte, 0, n+sealSlack)
	return &lentBuffer{buf: &b, refs: 1}
}

// setBody makes req's body (and GetBody's) readers of the buffer.
func (l *lentBuffer) setBody(req *http.Request) {
	req.ContentLength = int64(len(*l.buf))
	req.Body, _ = l.reader()
	req.GetBody = l.reader
}

func (l *lentBuffer) reader() (io.ReadCloser, error) {
	l.mu.Lock()
	l.refs++
	l.mu.Unlock()
	return &lentReader{Reader: bytes.NewReader(*l.buf), l: l}, nil
}

// release drops one reference; the last returns the buffer.
func (l *lentBuffer) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refs--; l.refs == 0 && cap(*l.buf) <= maxLentBuffer {
		*l.buf = (*l.buf)[:0]
		sealBufs.Put(l.buf)
	}
}

// lentReader reads a lent buffer; Close gives its reference back once.
type lentReader struct {
	*bytes.Reader
	l    *lentBuffer
	once sync.Once
}

func (r *lentReader) Close() error {
	r.once.Do(r.l.release)
	return nil
}

// do sends req and reads at most maxResp bytes of the body.
func (c *Client) do(req *http.Request) (int, http.Header, []byte, error) {
	return c.doLimit(req, c.maxResp)
}

func (c *Client) doLimit(req *http.Request, limit int64) (int, http.Header, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("sealocr client: %w", err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return 0, nil, nil, ErrResponseTooLarge
	}
	var data []byte
	if resp.ContentLength > 0 {
		// The length is known (and within the limit): one allocation of
		// the right size instead of ReadAll's doublings.
		data = make([]byte, resp.ContentLength)
		_, err = io.ReadFull(resp.Body, data)
	} else {
		data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	}
	if err != nil {
		return 0, nil, nil, fmt.Errorf("sealocr client: read response: %w", err)
	}
	if int64(len(data)) > limit {
		return 0, nil, nil, ErrResponseTooLarge
	}
	return resp.StatusCode, resp.Header, data, nil
}

// innerResult turns the opened inner answer into the Answer or a sealed
// ServerError.
func innerResult(status int, contentType string, body []byte) (*Answer, error) {
	if status >= 200 && status < 300 {
		return &Answer{ContentType: contentType, Body: body}, nil
	}
	e := errorFromBody(status, contentType, body)
	e.Sealed = true
	return nil, e
}

// outerError builds the ServerError for an outer non-200 answer.
func outerError(status int, header http.Header, body []byte) *ServerError {
	e := errorFromBody(status, header.Get("Content-Type"), body)
	if s := header.Get(api.HeaderRetryAfter); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

// codeKeyUnknown is the ServerError code of a key-unknown problem.
const codeKeyUnknown = wire.CodeOHTTPKeyUnknown

// errorFromBody parses a JSON error body, a problem details body or a
// short text. Nothing from the body but the code and a sanitized, bounded
// message is kept.
func errorFromBody(status int, contentType string, body []byte) *ServerError {
	e := &ServerError{Status: status}
	switch mediaType(contentType) {
	case "application/json":
		var eb wire.ErrorBody // the sidecar's and the core's (core/api) alike
		if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
			e.Code, e.Message = clean(eb.Error.Code), clean(eb.Error.Message)
			return e
		}
	case wire.ContentTypeProblem:
		var p wire.Problem
		if json.Unmarshal(body, &p) == nil {
			if wire.IsKeyUnknown(p.Type) {
				e.Code = codeKeyUnknown
			}
			e.Message = clean(p.Title)
			if e.Message != "" {
				return e
			}
		}
	case "text/plain":
		line, _, _ := strings.Cut(string(body), "\n")
		if e.Message = clean(line); e.Message != "" {
			return e
		}
	}
	e.Message = strings.ToLower(http.StatusText(status))
	return e
}

// clean keeps printable ASCII and at most 200 bytes.
func clean(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 200; i++ {
		if s[i] >= 0x20 && s[i] < 0x7f {
			b.WriteByte(s[i])
		}
	}
	return strings.TrimSpace(b.String())
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}
