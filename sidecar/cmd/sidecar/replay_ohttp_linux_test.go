package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/redisstate/redistest"
	"github.com/sealocr/sealocr/sidecar/internal/route"
)

// TestReplicasOHTTPReplayWhoeverSendsIt plays issue 19 #6 against two
// sidecar processes sharing a real redis-server, with auth optional: an
// OHTTP request first sent with one client's outer API key is replayed to
// the other replica with another key and with none; every replay must be
// refused 400 cannot_open and never reach the core. Before the fix the
// replay record was kept under "ohttp:" + the outer identity, so each new
// identity (or none) made the captured request fresh again.
func TestReplicasOHTTPReplayWhoeverSendsIt(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	core := newStandInCore(t)
	_, set, env, client := sharedSetup(t)
	const keyA, keyB = "sk-replica-a-0123456789abcdef0123456789", "sk-replica-b-0123456789abcdef0123456789"
	keysFile := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(keysFile, []byte("keys:\n  - id: a\n    sha256: "+auth.HashAPIKey(keyA)+
		"\n  - id: b\n    sha256: "+auth.HashAPIKey(keyB)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["SEALOCR_UPSTREAM"] = core.URL
	env["SEALOCR_REDIS_URL"] = rs.URL
	env["SEALOCR_AUTH"] = "optional"
	env["SEALOCR_AUTH_API_KEYS_FILE"] = keysFile
	var reps []*replica
	for i := range 2 {
		e := map[string]string{"SEALOCR_STATE_DIR": t.TempDir()}
		for k, v := range env {
			e[k] = v
		}
		reps = append(reps, startReplica(t, "replica"+strconv.Itoa(i+1), e, client))
	}
	for _, r := range reps {
		r.waitHealthy(t, 60*time.Second)
	}
	post := func(r *replica, enc []byte, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.url+route.OHTTPPath, bytes.NewReader(enc))
		req.Header.Set("Content-Type", ohttp.RequestMediaType)
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		res, err := r.client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusOK {
			return res.StatusCode, ""
		}
		return res.StatusCode, answerCode(b)
	}
	o := sealOHTTP(t, set)
	if s, c := post(reps[0], o.enc, keyA); s != http.StatusOK {
		t.Fatalf("first sight with client a's key: %d %s", s, c)
	}
	cannotOpen := api.Lookup(api.CannotOpen)
	for _, tc := range []struct {
		name string
		r    *replica
		key  string
	}{
		{"same replica, another outer key", reps[0], keyB},
		{"other replica, another outer key", reps[1], keyB},
		{"other replica, no credentials", reps[1], ""},
		{"other replica, first client's key", reps[1], keyA},
		{"same replica, no credentials", reps[0], ""},
	} {
		if s, c := post(tc.r, o.enc, tc.key); s != cannotOpen.Status || c != cannotOpen.Code {
			t.Errorf("replay, %s: %d %q, want %d %q", tc.name, s, c, cannotOpen.Status, cannotOpen.Code)
		}
	}
	if n := core.ocr.Load(); n != 1 {
		t.Errorf("the core got %d OCR requests for one request replayed five times, want 1", n)
	}
}
