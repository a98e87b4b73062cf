// Package clienttest runs an in-process sealocr sidecar, for tests of code
// that uses package client. It is the sidecar's own gateway and middleware
// chain (sidecar/internal/gateway and sidecar/internal/server: routing,
// request IDs, body and concurrency limits, the PSK and Oblivious HTTP
// envelopes, the fixed answers of sidecar/api) with a stand-in at its edge:
// the upstream is a Go function (Core) instead of the OCR core. It reads a
// real key file and serves HTTPS with a CA file to trust.
//
// Unlike a deployed sidecar it has no authentication, rate limits or plain
// routes, and it logs nothing. Fail and SetTamper inject faults in front of
// and behind the real handler.
package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sealocr/sealocr/core/api"
	wire "github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/internal/server"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// PSKKeyID is the ID of the pre-shared key in the server's key file.
const PSKKeyID = "test-key"

// GatewayPath is the Oblivious HTTP gateway resource.
const GatewayPath = gateway.OHTTPPath

// Core is the fake upstream: it gets the opened request and returns the
// status, content type and body to seal back. ctx ends when the client
// goes away.
type Core func(ctx context.Context, req Request) (status int, contentType string, body []byte)

// Request is an opened request as the core sees it.
type Request struct {
	// Envelope is "psk" or "ohttp".
	Envelope string
	// Method is the inner method.
	Method string
	// Target is the inner path and query, such as "/v1/ocr?mode=line".
	Target string
	// ContentType is the inner content type.
	ContentType string
	// Body is the inner body (the image).
	Body []byte
}

// Server is a running sidecar with a stand-in core. Its methods are safe
// for concurrent use.
type Server struct {
	// URL is the base URL, https://127.0.0.1:port.
	URL string
	// CAFile is a PEM file holding the certificate to trust.
	CAFile string
	// KeysFile is the sealocr key file (mode 0600) with the pre-shared key
	// [PSKKeyID] and two Oblivious HTTP configurations.
	KeysFile string

	srv  *httptest.Server
	core Core

	mu        sync.Mutex
	keys      *keys.Set
	tamper    bool
	fail      *failure
	fetches   int
	last      Request
	nRequests int
}

type failure struct {
	status     int
	code, msg  string
	retryAfter int
}

// NewServer starts a server that answers with core (nil means
// [CannedCore]), with its files in tb.TempDir(), and stops it when tb's test
// ends.
func NewServer(tb testing.TB, core Core) *Server {
	tb.Helper()
	s, err := Start(tb.TempDir(), core)
	if err != nil {
		tb.Fatalf("clienttest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a server that answers with core (nil means [CannedCore]),
// writing its key and CA files into dir. The caller must call
// [Server.Close].
func Start(dir string, core Core) (*Server, error) {
	if core == nil {
		core = CannedCore
	}
	s := &Server{core: core}
	data, err := keys.Generate(PSKKeyID)
	if err != nil {
		return nil, err
	}
	s.KeysFile = filepath.Join(dir, "keys.yaml")
	if err := os.WriteFile(s.KeysFile, data, 0o600); err != nil {
		return nil, err
	}
	set, err := keys.LoadFile(s.KeysFile)
	if err != nil {
		return nil, err
	}
	s.keys = set
	gw := gateway.New(gateway.Options{
		Keys:     s,
		Upstream: standIn{s},
		Replay:   psk.NewMemoryReplayCache(0, nil),
	})
	h := server.Handler(server.Options{
		Gateway:       gw,
		MaxBodyBytes:  64 << 20,
		MaxConcurrent: 1024,
	})
	s.srv = httptest.NewUnstartedServer(s.faults(h))
	// Handshake failures are expected in tests of certificate checks.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	s.URL = s.srv.URL
	s.CAFile = filepath.Join(dir, "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(s.CAFile, ca, 0o644); err != nil {
		s.srv.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server; it also stops when the test ends.
func (s *Server) Close() { s.srv.Close() }

// SetTamper makes the server flip a bit of every sealed or encapsulated
// response (true) or stop doing so (false).
func (s *Server) SetTamper(on bool) {
	s.mu.Lock()
	s.tamper = on
	s.mu.Unlock()
}

// Fail makes the server refuse every OCR request in the clear with status
// and the JSON error body {"error":{"code","message"}}, plus a Retry-After
// header when retryAfter > 0. Status 0 turns it off.
func (s *Server) Fail(status int, code, message string, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		s.fail = nil
		return
	}
	s.fail = &failure{status, code, message, retryAfter}
}

// RotateOHTTPKeys replaces the gateway's key configurations with a new
// X25519 one (key ID 7), so that requests for the old ones get the
// key-unknown problem answer. It returns the new configuration's encoding.
func (s *Server) RotateOHTTPKeys() ([]byte, error) {
	kc, err := ohttp.GenerateKeyConfig(7, ohttp.KEMX25519HKDFSHA256, ohttp.DefaultSuites()...)
	if err != nil {
		return nil, err
	}
	gw, err := ohttp.NewGateway(kc)
	if err != nil {
		return nil, err
	}
	b, err := kc.PublicConfig().MarshalBinary()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	next := *s.keys
	next.OHTTP, next.Public = gw, []ohttp.PublicKeyConfig{kc.PublicConfig()}
	s.keys = &next
	s.mu.Unlock()
	return b, nil
}

// KeyListFetches returns how many times the key list was fetched.
func (s *Server) KeyListFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// LastRequest returns the last request that reached the core, and how many
// did.
func (s *Server) LastRequest() (Request, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.nRequests
}

// CannedResponse is the body [CannedCore] returns, with Width set to the
// image size in bytes so that answers for different images differ.
func CannedResponse(imageSize int) api.Response {
	return api.Response{
		Text: "hello\nworld",
		Lines: []api.Line{
			{Text: "hello", Confidence: 0.99, Box: [4]api.Point{{0, 0}, {50, 0}, {50, 10}, {0, 10}}},
			{Text: "world", Confidence: 0.95, Box: [4]api.Point{{0, 20}, {50, 20}, {50, 30}, {0, 30}}},
		},
		Width:     imageSize,
		Height:    30,
		ElapsedMS: 1.5,
	}
}

// CannedCore answers POST /v1/ocr like the core: [CannedResponse] for a
// body that http.DetectContentType takes for an image, the not_an_image
// error otherwise, and not_found or method_not_allowed for other requests.
func CannedCore(_ context.Context, r Request) (int, string, []byte) {
	path, _, _ := strings.Cut(r.Target, "?")
	switch {
	case path != api.OCRPath:
		return coreError(api.CodeNotFound)
	case r.Method != http.MethodPost:
		return coreError(api.CodeMethodNotAllowed)
	case !strings.HasPrefix(http.DetectContentType(r.Body), "image/"):
		return coreError(api.CodeNotAnImage)
	}
	b, _ := json.Marshal(CannedResponse(len(r.Body)))
	return http.StatusOK, "application/json", b
}

func coreError(code string) (int, string, []byte) {
	status, body := api.ErrorFor(code)
	b, _ := json.Marshal(body)
	return status, "application/json", b
}

// Current implements the gateway's key source.
func (s *Server) Current() *keys.Set {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys
}

// standIn is the upstream: it hands the opened request to the Core.
type standIn struct{ s *Server }

// Do implements the gateway's Forwarder: one opened request to the Core.
func (u standIn) Do(ctx context.Context, method, path string, header http.Header, body []byte) (*upstream.Response, error) {
	env := "psk"
	if k, _ := route.FromContext(ctx); k == route.OHTTP {
		env = "ohttp"
	}
	req := Request{Envelope: env, Method: method, Target: path, ContentType: header.Get("Content-Type"), Body: bytes.Clone(body)}
	u.s.mu.Lock()
	u.s.last = req
	u.s.nRequests++
	u.s.mu.Unlock()
	status, ct, out := u.s.core(ctx, req)
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	return &upstream.Response{Status: status, Header: h, Body: out}, nil
}

// ServeHTTP implements the gateway's Forwarder for plain routes, of which
// there are none.
func (standIn) ServeHTTP(w http.ResponseWriter, _ *http.Request) { wire.Write(w, wire.Internal) }

// faults wraps the real handler: it counts key list fetches, answers
// Fail's refusal in the clear, and flips a bit of sealed and encapsulated
// answers under SetTamper.
func (s *Server) faults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		fail, tamper := s.fail, s.tamper
		s.mu.Unlock()
		if r.URL.Path == GatewayPath && r.Method == http.MethodGet {
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r)
			if rec.status == http.StatusOK {
				s.mu.Lock()
				s.fetches++
				s.mu.Unlock()
			}
			rec.send(w, false)
			return
		}
		if fail != nil {
			if fail.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(fail.retryAfter))
			}
			b, _ := json.Marshal(wire.ErrorBody{Error: wire.ErrorDetail{Code: fail.code, Message: fail.msg}})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(fail.status)
			_, _ = w.Write(b)
			return
		}
		if !tamper {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}}
		next.ServeHTTP(rec, r)
		rec.send(w, true)
	})
}

// recorder keeps a whole answer, to count or alter it before sending.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// send writes the recorded answer to w, with the last byte of a sealed or
// encapsulated body flipped when tamper is set.
func (r *recorder) send(w http.ResponseWriter, tamper bool) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	b := r.body.Bytes()
	mt := strings.ToLower(strings.TrimSpace(strings.Split(r.header.Get("Content-Type"), ";")[0]))
	if tamper && len(b) > 0 && (mt == psk.ResponseMediaType || mt == ohttp.ResponseMediaType) {
		b[len(b)-1] ^= 1
	}
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(b)
}
