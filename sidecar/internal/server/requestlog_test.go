package server

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/route"
)

// TestRefusalLinesCarryTheRequestID: the lines that explain a refusal —
// the gateway's (plaintext), the body limit's (too large), the
// authenticator's (bad credential) — carry the X-Request-ID the client
// sent, so an operator can match a client's report to the reason. Before,
// only the access log and the upstream call carried it.
func TestRefusalLinesCarryTheRequestID(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	p := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(p, []byte("keys:\n  - id: ci\n    sha256: "+auth.HashAPIKey(apiKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(context.Background(), auth.Options{APIKeysFile: p, Logger: log.Named("auth")})
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Options{Logger: log.Named("gateway")})
	srv := httptest.NewServer(Handler(Options{Gateway: gw, Logger: log, MaxBodyBytes: 1 << 10, MaxBufferedBytes: 1 << 20,
		BodyGrace: time.Minute, BodyMinRate: 1, BodyTimeout: 10 * time.Second,
		Auth: a, AuthModes: map[route.Kind]auth.Mode{route.PSK: auth.Optional, route.Plain: auth.Optional}}))
	defer srv.Close()
	for _, tc := range []struct {
		id, ct, key string
		body        []byte
		status      int
		line        string
	}{
		{"req-plaintext-1", "image/png", "", []byte("plain image"), http.StatusUnsupportedMediaType, "unencrypted request refused"},
		{"req-too-large-2", psk.RequestMediaType, "", make([]byte, 4<<10), http.StatusRequestEntityTooLarge, "request body refused"},
		{"req-bad-key-3", psk.RequestMediaType, "sk-wrong-0123456789abcdef0123456789abcd", []byte("x"), http.StatusUnauthorized, "authentication refused"},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/ocr", bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		req.Header.Set(api.RequestIDHeader, tc.id)
		if tc.key != "" {
			req.Header.Set("X-Api-Key", tc.key)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.id, res.StatusCode, tc.status)
		}
		found := false
		for _, e := range logs.FilterMessage(tc.line).All() {
			if e.ContextMap()["request_id"] == tc.id {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %q line with request_id %s; lines: %v", tc.id, tc.line, tc.id, messages(logs))
		}
	}
}

func messages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		out = append(out, e.LoggerName+": "+e.Message+" "+func() string { id, _ := e.ContextMap()["request_id"].(string); return id }())
	}
	return out
}
