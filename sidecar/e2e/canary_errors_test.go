package e2e

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
)

// errCanary is content a client sends that no parser can read: words the
// redacting encoder has no pattern for (unlike canary, an ID number it
// would scrub), so that only the code can keep them out of the logs.
// errToken is the same as one token, for places where the grammar allows
// no spaces (media types, parameter names, query values).
const (
	errCanary = "Patient Quixote Zanzibar confidential"
	errToken  = "quixote-zanzibar"
)

// findErrCanary reports whether b holds the error canary in any case.
func findErrCanary(b []byte) bool {
	l := bytes.ToLower(b)
	return bytes.Contains(l, []byte("quixote")) || bytes.Contains(l, []byte("zanzibar"))
}

// inner is one plaintext request the core must refuse.
type inner struct {
	name        string
	target      string
	contentType string
	body        []byte
}

// truncatedImages returns, per format the core decodes, an image whose
// header is sound and whose data is cut and followed by the canary.
func truncatedImages(t *testing.T) map[string][]byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
		if i%4 == 3 {
			m.Pix[i] = 0xff
		}
	}
	pal := image.NewPaletted(m.Bounds(), []color.Color{color.White, color.Black, color.Gray{Y: 128}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	enc := map[string]func(*bytes.Buffer) error{
		"png":  func(b *bytes.Buffer) error { return png.Encode(b, m) },
		"jpeg": func(b *bytes.Buffer) error { return jpeg.Encode(b, m, nil) },
		"gif":  func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) },
		"bmp":  func(b *bytes.Buffer) error { return bmp.Encode(b, m) },
		"tiff": func(b *bytes.Buffer) error { return tiff.Encode(b, m, nil) },
	}
	out := map[string][]byte{}
	for name, f := range enc {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		data := b.Bytes()
		out[name] = append(append([]byte(nil), data[:len(data)*3/5]...), errCanary...)
	}
	// A WebP (RIFF) header whose VP8 chunk is the canary.
	webp := []byte("RIFF\x40\x00\x00\x00WEBPVP8 \x30\x00\x00\x00")
	out["webp"] = append(webp, errCanary...)
	// A 16-bit PNG (the core's own scanline decoder) cut short.
	var b16 bytes.Buffer
	m16 := image.NewNRGBA64(m.Bounds())
	for i := range m16.Pix {
		m16.Pix[i] = uint8(i * 13)
	}
	if err := png.Encode(&b16, m16); err != nil {
		t.Fatal(err)
	}
	out["png16"] = append(append([]byte(nil), b16.Bytes()[:b16.Len()*3/5]...), errCanary...)
	return out
}

// errorInners lists a request for every way the core's request parsing can
// fail, each carrying the canary where the parser meets it.
func errorInners(t *testing.T) []inner {
	t.Helper()
	const b = "zzBoundary"
	mp := "multipart/form-data; boundary=" + b
	part := func(headers, content string) []byte {
		return []byte("--" + b + "\r\n" + headers + "\r\n\r\n" + content + "\r\n--" + b + "--\r\n")
	}
	disp := `Content-Disposition: form-data; name="image"`
	ins := []inner{
		// The audit's finding: a part header line without a colon.
		{"multipart header line without colon", "/v1/ocr", mp, part(disp+"\r\n"+errCanary, "x")},
		{"multipart header line without colon, large", "/v1/ocr", mp,
			part(disp+"\r\n"+strings.Repeat(errCanary+" ", 3000), "x")},
		{"multipart part content type", "/v1/ocr", mp, part(disp+"\r\nContent-Type: image/"+errToken, "x")},
		{"multipart no image field", "/v1/ocr", mp, part(`Content-Disposition: form-data; name="`+errToken+`"`, errCanary)},
		{"multipart without boundary", "/v1/ocr", "multipart/form-data", []byte(errCanary)},
		{"multipart cut short", "/v1/ocr", mp, []byte("--" + b + "\r\n" + disp + "\r\n\r\n" + errCanary)},
		{"multipart garbage", "/v1/ocr", mp, []byte(errCanary + "\r\n--" + b + "\r\n" + errCanary)},
		{"multipart not an image", "/v1/ocr", mp, part(disp, errCanary)},
		{"malformed content type", "/v1/ocr", `image/png; ` + errToken + `="unterminated`, []byte(errCanary)},
		{"unsupported content type", "/v1/ocr", "text/" + errToken, []byte(errCanary)},
		{"invalid JSON", "/v1/ocr", "application/json", []byte(`{"image": ` + errCanary + `}`)},
		{"JSON image not base64", "/v1/ocr", "application/json", []byte(`{"image":"` + errCanary + `"}`)},
		{"JSON bad data URL", "/v1/ocr", "application/json", []byte(`{"image":"data:image/` + errToken + `;base64,!` + errCanary + `"}`)},
		{"JSON without image", "/v1/ocr", "application/json", []byte(`{"` + errToken + `":"` + errCanary + `"}`)},
		{"JSON base64 not an image", "/v1/ocr", "application/json",
			[]byte(`{"image":"` + base64.StdEncoding.EncodeToString([]byte(errCanary)) + `"}`)},
		{"raw not an image", "/v1/ocr", "application/octet-stream", []byte(errCanary)},
		{"bad mode", "/v1/ocr?mode=" + errToken, "image/png", []byte(errCanary)},
		{"bad cls", "/v1/ocr?cls=" + errToken, "image/png", []byte(errCanary)},
		{"bad preprocess", "/v1/ocr?preprocess=" + errToken, "image/png", []byte(errCanary)},
	}
	for format, data := range truncatedImages(t) {
		ins = append(ins, inner{"truncated " + format, "/v1/ocr", "application/octet-stream", data})
	}
	return ins
}

// TestCanaryErrorPaths drives every request-parsing error path of the core
// (multipart, JSON, base64, data: URL, media types, query, truncated images
// of each format) through a real sidecar with PSK and with OHTTP to a real
// core, plus the envelope errors of PSK, OHTTP and the legacy format, each
// request carrying a canary, in both log formats with both processes at
// debug level; then it hunts the canary in every log line of both.
func TestCanaryErrorPaths(t *testing.T) {
	models, ortLib, err := modelPaths()
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			c, url, err := startCore(models, ortLib, "--log-format", format)
			if c != nil {
				t.Cleanup(func() { c.stop(); c.cleanup() })
			}
			if err != nil {
				t.Fatalf("core: %v", err)
			}
			s := newLegacySidecar(t, map[string]string{"SEALOCR_UPSTREAM": url, "SEALOCR_LOG_FORMAT": format})
			inners := errorInners(t)
			key := pskKey(t, s)
			cfg := ohttpKeys(t, s)[0]
			suite := cfg.Suites()[0]
			for _, in := range inners {
				// PSK: the inner answer is the core's refusal.
				r := sealPSK(t, key, in.target, in.contentType, in.body, time.Now())
				res, body := s.sendPSK(t, r)
				if status, _, content := openPSK(t, "psk "+in.name, r, res, body); status < 400 {
					t.Errorf("psk %s: inner answer %d %q, want a refusal", in.name, status, truncate(content))
				}
				// OHTTP: the same request in Binary HTTP.
				breq := &bhttp.Request{Method: http.MethodPost, Scheme: "https", Authority: s.addr, Path: in.target,
					Header: []bhttp.Field{{Name: "content-type", Value: in.contentType}}, Content: in.body}
				raw, err := breq.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if bres := s.ohttpExchange(t, cfg, suite, raw); bres.Status < 400 {
					t.Errorf("ohttp %s: inner answer %d, want a refusal", in.name, bres.Status)
				}
			}
			envelopeErrors(t, s, key, cfg, suite)

			s.proc.stop()
			c.stop()
			checkLogs(t, "core", c.logs(), "ocr request failed", 2*len(inners))
			checkLogs(t, "sidecar", s.proc.logs(), "request refused", 4)
		})
	}
}

// envelopeErrors sends the canary where the sidecar's openers meet it:
// envelopes that do not parse, do not decrypt, or open to an inner
// request that does not parse.
func envelopeErrors(t *testing.T, s *sidecar, key psk.Key, cfg ohttp.PublicKeyConfig, suite ohttp.SymmetricSuite) {
	t.Helper()
	refused := func(what string, res *http.Response, body []byte) {
		t.Helper()
		if res.StatusCode < 400 {
			t.Errorf("%s: %d %q, want a refusal", what, res.StatusCode, truncate(body))
		}
	}
	// PSK: garbage, a damaged envelope, an unknown key ID.
	res, body := s.do(t, http.MethodPost, "/v1/ocr", psk.RequestMediaType, []byte(errCanary+strings.Repeat("\x00", 64)))
	refused("psk garbage", res, body)
	r := sealPSK(t, key, "/v1/ocr", "application/octet-stream", []byte(errCanary), time.Now())
	r.body[len(r.body)-1] ^= 1
	res, body = s.sendPSK(t, r)
	refused("psk damaged", res, body)
	other, err := psk.NewKey(errToken, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	r = sealPSK(t, other, "/v1/ocr", "application/octet-stream", []byte(errCanary), time.Now())
	res, body = s.sendPSK(t, r)
	refused("psk unknown key", res, body)

	// OHTTP: garbage, an inner request that is not Binary HTTP, an inner
	// target that is not origin-form.
	res, body = s.do(t, http.MethodPost, gateway.OHTTPPath, ohttp.RequestMediaType, []byte(errCanary+strings.Repeat("\x01", 64)))
	refused("ohttp garbage", res, body)
	if bres := s.ohttpExchange(t, cfg, suite, []byte("\x00"+errCanary)); bres.Status < 400 {
		t.Errorf("ohttp inner garbage: %d, want a refusal", bres.Status)
	}
	breq := &bhttp.Request{Method: http.MethodPost, Scheme: "https", Authority: errToken, Path: errToken, Content: []byte(errCanary)}
	raw, err := breq.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if bres := s.ohttpExchange(t, cfg, suite, raw); bres.Status < 400 {
		t.Errorf("ohttp inner target: %d, want a refusal", bres.Status)
	}
	// An inner method and target outside the route allowlist (OHTTP only:
	// a PSK envelope's target is its outer path, in clear anyway).
	breq = &bhttp.Request{Method: strings.ToUpper(errToken), Scheme: "https", Authority: s.addr,
		Path: "/" + errToken + "?" + errToken, Content: []byte(errCanary)}
	if raw, err = breq.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	if bres := s.ohttpExchange(t, cfg, suite, raw); bres.Status < 400 {
		t.Errorf("ohttp inner route: %d, want a refusal", bres.Status)
	}

	// Legacy: JSON that does not parse, data that is not base64, and a
	// sealed body that is not an image.
	for _, b := range [][]byte{
		[]byte(`{"data": ` + errCanary + `}`),
		[]byte(`{"data":"` + errCanary + `","algorithm":"` + errToken + `"}`),
	} {
		res, body = s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, b)
		refused("legacy malformed", res, body)
	}
	lk := legacyKey(t, legacySecret)
	sealed, err := legacycbc.SealRequest(nil, lk, []byte(errCanary))
	if err != nil {
		t.Fatal(err)
	}
	res, body = s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, sealed)
	refused("legacy not an image", res, body) // the core's refusal, as the legacy error
}

// checkLogs fails for every log line holding the canary, and when the log
// does not show at least min lines with marker (so that an empty log
// cannot pass).
func checkLogs(t *testing.T, who, logs, marker string, min int) {
	t.Helper()
	lines := strings.Split(logs, "\n")
	leaks := 0
	for i, l := range lines {
		if findErrCanary([]byte(l)) {
			leaks++
			t.Errorf("%s log line %d holds the canary: %.300s", who, i+1, l)
		}
	}
	if n := strings.Count(logs, marker); n < min {
		t.Errorf("%s log: %d lines with %q, want at least %d; is it logging?\n%s", who, n, marker, min, tailOf(logs))
	}
	t.Logf("%s: %d log lines, %d bytes, %d with the canary", who, len(lines), len(logs), leaks)
}
