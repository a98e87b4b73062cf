package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/enginetest"
	"github.com/sealocr/sealocr/core/internal/pipeline"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// stubEngine provokes the faults a real engine cannot be made to show on
// demand: a run that blocks, or an internal error.
type stubEngine struct {
	block chan struct{}
	err   error
}

func (s *stubEngine) RunPage(ctx context.Context, _ *raster.Image, _ pipeline.Options) (*pipeline.Result, error) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	return &pipeline.Result{}, nil
}

func (s *stubEngine) Models() []api.ModelInfo { return nil }

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func do(t testing.TB, h http.Handler, method, target, ct string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func multipartBody(t testing.TB, field string, data []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("note", "ignored")
	fw, err := mw.CreateFormFile(field, "scan.png")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func TestErrorCodes(t *testing.T) {
	small := pngBytes(t, 8, 8)
	bomb := append([]byte(nil), small...)
	binary.BigEndian.PutUint32(bomb[16:], 60000)
	binary.BigEndian.PutUint32(bomb[20:], 60000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	mpCT, mpNoImage := multipartBody(t, "file", small)

	a := New(&stubEngine{}, Options{MaxBody: 4096})
	tests := []struct {
		name, method, target, ct string
		body                     []byte
		status                   int
		code                     string
	}{
		{"not an image", "POST", "/v1/ocr", "image/png", []byte("definitely not a png"), 400, api.CodeNotAnImage},
		{"empty body", "POST", "/v1/ocr", "image/png", nil, 400, api.CodeNotAnImage},
		{"bad mode", "POST", "/v1/ocr?mode=page", "image/png", small, 400, api.CodeBadRequest},
		{"bad cls", "POST", "/v1/ocr?cls=maybe", "image/png", small, 400, api.CodeBadRequest},
		{"bad json", "POST", "/v1/ocr", "application/json", []byte("{"), 400, api.CodeBadRequest},
		{"json without image", "POST", "/v1/ocr", "application/json", []byte(`{"img":"x"}`), 400, api.CodeBadRequest},
		{"json not base64", "POST", "/v1/ocr", "application/json", []byte(`{"image":"***"}`), 400, api.CodeBadRequest},
		{"multipart without image", "POST", "/v1/ocr", mpCT, mpNoImage, 400, api.CodeBadRequest},
		{"too large", "POST", "/v1/ocr", "image/png", make([]byte, 5000), 413, api.CodeTooLarge},
		{"unsupported type", "POST", "/v1/ocr", "text/plain", small, 415, api.CodeUnsupportedMedia},
		{"pixel bomb", "POST", "/v1/ocr", "image/png", bomb, 422, api.CodeTooManyPixels},
		{"wrong method", "GET", "/v1/ocr", "", nil, 405, api.CodeMethodNotAllowed},
		{"unknown path", "GET", "/v2/ocr", "", nil, 404, api.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(t, a, tc.method, tc.target, tc.ct, tc.body)
			checkError(t, res, body, tc.status, tc.code)
		})
	}
}

func checkError(t *testing.T, res *http.Response, body []byte, status int, code string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d (%s)", res.StatusCode, status, body)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	wantStatus, want := api.ErrorFor(code)
	if eb != want || wantStatus != status {
		t.Fatalf("body %+v, want %+v", eb, want)
	}
}

func TestEngineFaults(t *testing.T) {
	small := pngBytes(t, 8, 8)
	t.Run("internal error hides detail", func(t *testing.T) {
		var logs bytes.Buffer
		a := New(&stubEngine{err: errors.New("secret detail /var/lib/x")}, Options{Logger: bufLogger(&logs)})
		res, body := do(t, a, "POST", "/v1/ocr", "image/png", small)
		checkError(t, res, body, 500, api.CodeInternal)
		if strings.Contains(string(body), "secret detail") {
			t.Fatal("detail leaked to client")
		}
		if !strings.Contains(logs.String(), "secret detail") {
			t.Fatal("detail missing from log")
		}
	})
	t.Run("not ready", func(t *testing.T) {
		a := New(&stubEngine{}, Options{Ready: func() bool { return false }})
		res, body := do(t, a, "GET", "/readyz", "", nil)
		checkError(t, res, body, 503, api.CodeNotReady)
	})
	t.Run("timeout", func(t *testing.T) {
		a := New(&stubEngine{block: make(chan struct{})}, Options{Timeout: 50 * time.Millisecond})
		res, body := do(t, a, "POST", "/v1/ocr", "image/png", small)
		checkError(t, res, body, 503, api.CodeTimeout)
	})
	t.Run("busy", func(t *testing.T) {
		block := make(chan struct{})
		a := New(&stubEngine{block: block}, Options{Workers: 1, Queue: -1, Timeout: 5 * time.Second})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); do(t, a, "POST", "/v1/ocr", "image/png", small) }()
		deadline := time.Now().Add(5 * time.Second)
		for len(a.slots) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		res, body := do(t, a, "POST", "/v1/ocr", "image/png", small)
		close(block)
		wg.Wait()
		checkError(t, res, body, 503, api.CodeBusy)
		if res.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After on busy")
		}
	})
	t.Run("deadline in the queue is busy", func(t *testing.T) {
		a := New(&stubEngine{}, Options{Workers: 1, Queue: 4, Timeout: 100 * time.Millisecond})
		a.slots <- struct{}{} // the one worker is taken
		res, body := do(t, a, "POST", "/v1/ocr", "image/png", small)
		<-a.slots
		checkError(t, res, body, 503, api.CodeBusy)
		if res.Header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q on a request that waited out its deadline in the queue", res.Header.Get("Retry-After"))
		}
	})
}

func bufLogger(w io.Writer) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zapcore.DebugLevel))
}

// TestOCRInputs runs the real models behind every accepted body shape and
// checks that neither logs nor metrics carry the recognized text.
func TestOCRInputs(t *testing.T) {
	eng := enginetest.Engine(t)
	img, err := os.ReadFile(enginetest.Testdata(t, "cnocr/lines/helloworld.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a := New(eng, Options{Logger: bufLogger(&logs)})
	mpCT, mp := multipartBody(t, "image", img)
	b64, _ := json.Marshal(map[string]string{"image": base64.StdEncoding.EncodeToString(img)})
	dataURL, _ := json.Marshal(map[string]string{"image": "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(img)})
	tests := []struct {
		name, ct string
		body     []byte
	}{
		{"raw jpeg", "image/jpeg", img},
		{"raw octet-stream", "application/octet-stream", img},
		{"raw no content type", "", img},
		{"multipart", mpCT, mp},
		{"json base64", "application/json", b64},
		{"json data url", "application/json; charset=utf-8", dataURL},
	}
	const want = "Hello world!你好世界"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(t, a, "POST", "/v1/ocr?mode=line", tc.ct, tc.body)
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			var r api.Response
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if noSpace(r.Text) != noSpace(want) || len(r.Lines) != 1 || r.Lines[0].Text != r.Text {
				t.Fatalf("got %+v", r)
			}
			if r.Width == 0 || r.Height == 0 || r.ElapsedMS <= 0 || r.Lines[0].Confidence < 0.5 {
				t.Fatalf("fields %+v", r)
			}
		})
	}
	if res, _ := do(t, a, "GET", "/metrics", "", nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the API handler: %d, want 404", res.StatusCode)
	}
	_, metrics := do(t, a.Metrics(), "GET", "/metrics", "", nil)
	if !bytes.Contains(metrics, []byte(`sealocr_core_requests_total{code="ok",mode="line"} 6`)) {
		t.Fatalf("request counter missing:\n%s", metrics)
	}
	if !bytes.Contains(metrics, []byte(`sealocr_core_stage_seconds_count{stage="recognize"}`)) {
		t.Fatal("stage histogram missing")
	}
	for _, leak := range []string{"Hello", "你好世界"} {
		if strings.Contains(logs.String(), leak) || bytes.Contains(metrics, []byte(leak)) {
			t.Fatalf("recognized text %q reached the log or metrics", leak)
		}
	}
}

func TestModelsAndHealth(t *testing.T) {
	a := New(enginetest.Engine(t), Options{})
	res, body := do(t, a, "GET", "/v1/models", "", nil)
	var m api.ModelsResponse
	if res.StatusCode != 200 || json.Unmarshal(body, &m) != nil || len(m.Models) != 4 {
		t.Fatalf("models: %d %s", res.StatusCode, body)
	}
	for _, mi := range m.Models {
		if len(mi.SHA256) != 64 || mi.Name == "" || mi.Version == "" {
			t.Fatalf("model info %+v", mi)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if res, body := do(t, a, "GET", p, "", nil); res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, res.StatusCode, body)
		}
	}
	// HEAD is answered wherever GET is, with the headers and no body (a
	// real server: net/http drops the body).
	srv := httptest.NewServer(a)
	defer srv.Close()
	for _, p := range []string{"/v1/models", "/healthz", "/readyz"} {
		res, err := srv.Client().Head(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || len(body) != 0 {
			t.Fatalf("HEAD %s: %d %q %q", p, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
}

// noSpace drops spaces: PP-OCRv4's Chinese recognizer often omits the space
// between Latin words, which is not what these transport tests are about.
func noSpace(s string) string { return strings.ReplaceAll(s, " ", "") }
