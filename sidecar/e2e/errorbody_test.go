package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	coreapi "github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// TestOneErrorBodyForBothBinaries: the JSON error answers of the real core
// and of the real sidecar decode with one type, core/api.ErrorBody, with
// nothing left over, and carry the fixed code and message of their table;
// a code both binaries answer (method_not_allowed) has one message.
func TestOneErrorBodyForBothBinaries(t *testing.T) {
	s := newSidecar(t, nil)
	decode := func(what string, res *http.Response, body []byte) coreapi.Error {
		t.Helper()
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", what, ct)
		}
		var eb coreapi.ErrorBody
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&eb); err != nil || eb.Error.Code == "" {
			t.Errorf("%s: %s does not decode as core/api.ErrorBody: %v", what, body, err)
		}
		return eb.Error
	}
	core := &http.Client{Timeout: requestTimeout}
	for _, tc := range []struct {
		what, method, path, ct string
		body                   []byte
		code                   string
	}{
		{"core, no such path", http.MethodGet, "/nope", "", nil, coreapi.CodeNotFound},
		{"core, wrong method", http.MethodGet, coreapi.OCRPath, "", nil, coreapi.CodeMethodNotAllowed},
		{"core, not an image", http.MethodPost, coreapi.OCRPath, "image/png", []byte("not an image at all"), coreapi.CodeNotAnImage},
		{"core, unsupported type", http.MethodPost, coreapi.OCRPath, "text/plain", []byte("x"), coreapi.CodeUnsupportedMedia},
	} {
		res, body := doRequest(t, core, tc.method, coreURL+tc.path, tc.ct, bytes.NewReader(tc.body), int64(len(tc.body)))
		got := decode(tc.what, res, body)
		status, want := coreapi.ErrorFor(tc.code)
		if got != want.Error || res.StatusCode != status {
			t.Errorf("%s: %d %+v, want %d %+v", tc.what, res.StatusCode, got, status, want.Error)
		}
	}
	for _, tc := range []struct {
		what, method, path, ct string
		body                   []byte
		id                     api.ID
	}{
		{"sidecar, plaintext", http.MethodPost, coreapi.OCRPath, "image/png", []byte("plain"), api.EncryptionRequired},
		{"sidecar, unopenable", http.MethodPost, coreapi.OCRPath, psk.RequestMediaType, bytes.Repeat([]byte{7}, 200), api.CannotOpen},
		{"sidecar, wrong method", http.MethodPut, coreapi.OHTTPPath, "", nil, api.MethodNotAllowed},
	} {
		res, body := s.do(t, tc.method, tc.path, tc.ct, tc.body)
		got := decode(tc.what, res, body)
		want := api.Lookup(tc.id)
		if got.Code != want.Code || got.Message != want.Message || res.StatusCode != want.Status {
			t.Errorf("%s: %d %+v, want %d %s %q", tc.what, res.StatusCode, got, want.Status, want.Code, want.Message)
		}
	}
	for _, code := range []string{coreapi.CodeMethodNotAllowed, coreapi.CodeBusy, coreapi.CodeTooLarge, coreapi.CodeInternal, coreapi.CodeNotReady} {
		found := false
		for _, a := range api.Answers() {
			if a.Code != code {
				continue
			}
			found = true
			if code != coreapi.CodeNotReady && a.Message != coreapi.Message(code) {
				t.Errorf("%s: the sidecar says %q, the core %q", code, a.Message, coreapi.Message(code))
			}
		}
		if !found {
			t.Errorf("the sidecar has no answer with the core's code %s", code)
		}
	}
}
