package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
)

// TestAuthInfoPublic: a real sidecar with auth required answers GET
// /v1/auth-info itself, without credentials, and names what OHTTP requests
// need (required, API keys) and nothing secret.
func TestAuthInfoPublic(t *testing.T) {
	const key = "sk-authinfo-e2e-0123456789abcdef0123"
	keysFile := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(keysFile, []byte("keys:\n  - id: e2e\n    sha256: "+auth.HashAPIKey(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSidecar(t, map[string]string{"SEALOCR_AUTH": "required", "SEALOCR_AUTH_API_KEYS_FILE": keysFile})
	res, body := s.do(t, http.MethodGet, api.AuthInfoPath, "", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %q %s", api.AuthInfoPath, res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var info api.AuthInfo
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	if info.Server != "sidecar" || info.Transport != "ohttp" || info.OHTTPGateway != "/.well-known/ohttp-gateway" ||
		info.Auth.Mode != "required" || len(info.Auth.Methods) != 1 || info.Auth.Methods[0] != "api_key" {
		t.Errorf("auth info %s", body)
	}
}
