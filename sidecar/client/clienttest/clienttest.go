// Package clienttest runs an in-process stand-in for a sealocr sidecar, for
// tests of code that uses package client. It speaks the PSK and Oblivious
// HTTP envelopes with the real envelope code, reads a real key file, serves
// HTTPS with a CA file to trust, and answers with a fake core.
//
// It is not the sidecar: it has no rate limits, logging or plain routes,
// and it keeps every key in memory.
package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// PSKKeyID is the ID of the pre-shared key in the server's key file.
const PSKKeyID = "test-key"

// GatewayPath is the Oblivious HTTP gateway resource.
const GatewayPath = "/.well-known/ohttp-gateway"

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

// Server is a running fake sidecar. Its methods are safe for concurrent
// use.
type Server struct {
	// URL is the base URL, https://127.0.0.1:port.
	URL string
	// CAFile is a PEM file holding the certificate to trust.
	CAFile string
	// KeysFile is the sealocr key file (mode 0600) with the pre-shared key
	// [PSKKeyID] and two Oblivious HTTP configurations.
	KeysFile string

	srv    *httptest.Server
	core   Core
	pskSet *psk.KeySet
	replay psk.ReplayCache

	mu        sync.Mutex
	gw        *ohttp.Gateway
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
	s := &Server{core: core, replay: psk.NewMemoryReplayCache(0, nil)}
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
	s.pskSet, s.gw = set.PSK, set.OHTTP
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
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
	s.gw = gw
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
	case path != "/v1/ocr":
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

func writeJSON(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

const msgCannotOpen = `{"error":{"code":"cannot_open","message":"request could not be opened"}}`

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	s.mu.Lock()
	fail, gw := s.fail, s.gw
	s.mu.Unlock()
	if r.URL.Path == GatewayPath && r.Method == http.MethodGet {
		list, err := gw.KeyList()
		if err != nil {
			http.Error(w, "internal", http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		s.fetches++
		s.mu.Unlock()
		w.Header().Set("Content-Type", ohttp.KeysMediaType)
		_, _ = w.Write(list)
		return
	}
	if fail != nil {
		if fail.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(fail.retryAfter))
		}
		b, _ := json.Marshal(api.ErrorBody{Error: api.Error{Code: fail.code, Message: fail.msg}})
		writeJSON(w, fail.status, "application/json", string(b))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, "application/json",
			`{"error":{"code":"too_large","message":"the request body is larger than the limit"}}`)
		return
	}
	switch {
	case r.URL.Path == GatewayPath && r.Method == http.MethodPost && mt == ohttp.RequestMediaType:
		s.serveOHTTP(w, r, gw, body)
	case r.Method == http.MethodPost && mt == psk.RequestMediaType:
		s.servePSK(w, r, body)
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, "application/json",
			`{"error":{"code":"encryption_required","message":"this endpoint accepts only encrypted requests"}}`)
	}
}

func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, 64<<20))
	return buf.Bytes(), err
}

func (s *Server) callCore(ctx context.Context, req Request) (int, string, []byte, bool) {
	req.Body = bytes.Clone(req.Body)
	s.mu.Lock()
	s.last = req
	s.nRequests++
	tamper := s.tamper
	s.mu.Unlock()
	status, ct, body := s.core(ctx, req)
	return status, ct, body, tamper
}

func (s *Server) servePSK(w http.ResponseWriter, r *http.Request, body []byte) {
	req, err := psk.OpenRequest(s.pskSet, r.Method, r.URL.RequestURI(), body, time.Now(), 0, s.replay)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json", msgCannotOpen)
		return
	}
	status, ct, out, tamper := s.callCore(r.Context(), Request{
		Envelope: "psk", Method: r.Method, Target: r.URL.RequestURI(), ContentType: req.ContentType(), Body: req.Plaintext(),
	})
	sealed, err := req.SealResponse(nil, status, ct, out)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	if tamper {
		sealed[len(sealed)-1] ^= 1
	}
	w.Header().Set("Content-Type", psk.ResponseMediaType)
	_, _ = w.Write(sealed)
}

func (s *Server) serveOHTTP(w http.ResponseWriter, r *http.Request, gw *ohttp.Gateway, body []byte) {
	inner, rc, err := gw.DecapsulateRequest(body)
	if errors.Is(err, ohttp.ErrUnknownKey) {
		writeJSON(w, http.StatusBadRequest, "application/problem+json",
			`{"type":"urn:ietf:params:ohttp:error:key-unknown","title":"key identifier unknown"}`)
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json", msgCannotOpen)
		return
	}
	breq, err := bhttp.ParseRequest(inner, bhttp.Limits{})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json", msgCannotOpen)
		return
	}
	ct := ""
	for _, f := range breq.Header {
		if strings.EqualFold(f.Name, "content-type") {
			ct = f.Value
		}
	}
	status, rct, out, tamper := s.callCore(r.Context(), Request{
		Envelope: "ohttp", Method: breq.Method, Target: breq.Path, ContentType: ct, Body: breq.Content,
	})
	bres := &bhttp.Response{Status: status, Content: out}
	if rct != "" {
		bres.Header = []bhttp.Field{{Name: "content-type", Value: rct}}
	}
	enc, err := bres.MarshalBinary()
	if err == nil {
		enc, err = rc.EncapsulateResponse(nil, enc)
	}
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	if tamper {
		enc[len(enc)-1] ^= 1
	}
	w.Header().Set("Content-Type", ohttp.ResponseMediaType)
	_, _ = w.Write(enc)
}
