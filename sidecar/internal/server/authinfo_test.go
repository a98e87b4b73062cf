package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/route"
)

// TestAuthInfo: GET /v1/auth-info is answered by the sidecar itself, with
// auth required and without credentials, even when every plain bucket is
// empty, never reaches the gateway, and says what OHTTP requests need.
func TestAuthInfo(t *testing.T) {
	a := newAuth(t)
	reached := 0
	gw := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reached++; w.WriteHeader(http.StatusTeapot) })
	now := time.Unix(1e9, 0)
	for _, tc := range []struct {
		name    string
		info    *api.AuthInfo
		mode    string
		methods []string
	}{
		{"off (nil)", nil, "off", []string{}},
		{"required with API keys", &api.AuthInfo{Auth: api.AuthInfoAuth{Mode: "required", Methods: a.Methods()}}, "required", []string{"api_key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Handler(Options{
				Gateway: gw, Auth: a, AuthInfo: tc.info,
				AuthModes:    map[route.Kind]auth.Mode{route.OHTTP: auth.Required, route.Plain: auth.Required},
				RateStore:    ratelimit.NewMemory(100),
				RateShared:   ratelimit.Policy{Name: "requests", Rate: 0.001, Burst: 1},
				RatePolicies: map[route.Kind]ratelimit.Policy{route.Plain: {Name: "plain", Rate: 0.001, Burst: 1}},
				Now:          func() time.Time { return now },
			})
			for i := range 5 { // past every bucket
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, api.AuthInfoPath, nil))
				if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("request %d: %d %q", i, w.Code, w.Header().Get("Content-Type"))
				}
				var got api.AuthInfo
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				if got.Server != "sidecar" || got.Transport != "ohttp" || got.OHTTPGateway != "/.well-known/ohttp-gateway" ||
					got.Auth.Mode != tc.mode || len(got.Auth.Methods) != len(tc.methods) ||
					(len(tc.methods) > 0 && got.Auth.Methods[0] != tc.methods[0]) {
					t.Fatalf("auth info %+v, want mode %s methods %v", got, tc.mode, tc.methods)
				}
			}
			if reached != 0 {
				t.Errorf("the gateway saw %d auth-info requests", reached)
			}
		})
	}
}
