package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// TestUpstreamDown points a sidecar at a closed port. Opened requests get
// the fixed upstream_unavailable answer inside their envelope (PSK, OHTTP);
// the legacy mode gives its one answer for every failure (a distinct answer
// for "core down" was part of its padding oracle: PROTOCOL.md section 3.3);
// /readyz reports not ready while /healthz stays up.
func TestUpstreamDown(t *testing.T) {
	port, err := testkit.Port() // nothing listens there once freePort returns
	if err != nil {
		t.Fatal(err)
	}
	s := newLegacySidecar(t, map[string]string{
		"SEALOCR_UPSTREAM":         "http://127.0.0.1:" + strconv.Itoa(port),
		"SEALOCR_UPSTREAM_TIMEOUT": "5s",
	})
	img := imgHello.read(t)

	t.Run("psk", func(t *testing.T) {
		r := sealPSK(t, pskKey(t, s), "/v1/ocr?mode=line", imgHello.contentType, img, time.Now())
		res, body := s.sendPSK(t, r)
		status, ct, content := openPSK(t, "psk", r, res, body)
		checkAnswer(t, "psk inner", status, ct, content, ansUpstreamUnavailable)
	})

	t.Run("ohttp", func(t *testing.T) {
		cfgs := ohttpKeys(t, s)
		for _, c := range cfgs {
			br := s.ohttpExchange(t, c, c.Suites()[0], innerRequest(t, s, "/v1/ocr?mode=line", imgHello.contentType, img))
			checkAnswer(t, "ohttp inner "+kemName(c.KEM()), br.Status, field(br.Header, "content-type"), br.Content, ansUpstreamUnavailable)
		}
	})

	t.Run("legacy", func(t *testing.T) {
		body, err := legacycbc.SealRequest(nil, legacyKey(t, legacySecret), img)
		if err != nil {
			t.Fatal(err)
		}
		res, got := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, body)
		checkResponse(t, "legacy", res, got, ansLegacyError)
		res, got = s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, []byte("{}"))
		checkResponse(t, "legacy garbage", res, got, ansLegacyError)
	})

	t.Run("refusals unchanged", func(t *testing.T) {
		res, body := s.do(t, http.MethodPost, "/v1/ocr", psk.RequestMediaType, []byte("garbage"))
		checkResponse(t, "psk garbage", res, body, ansCannotOpen)
		res, body = s.do(t, http.MethodPost, "/v1/ocr", "image/jpeg", img)
		checkResponse(t, "unencrypted", res, body, ansEncryptionRequired)
	})

	res, body := s.do(t, http.MethodGet, "/readyz", "", nil)
	checkResponse(t, "GET /readyz", res, body, answer(api.NotReadyUpstream))
	s.checkHealthy(t)
}
