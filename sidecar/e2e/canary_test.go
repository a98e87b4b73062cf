package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// canary is a valid-looking PRC resident ID number (region 110105, born
// 1949-12-31, sequence 002, check character X): personal data that must
// never reach a log, a file or the wire in clear.
const canary = "11010519491231002X"

// canaryForms are the spellings searched for: as printed, lower case, the
// digits alone, and grouped with separators (region, birth date, sequence).
var canaryForms = []string{
	canary,
	strings.ToLower(canary),
	canary[:17],
	"110105 19491231 002X",
	"110105-19491231-002X",
}

// renderText draws text in black Go Regular on white, with a margin.
func renderText(t *testing.T, text string, size float64) []byte {
	t.Helper()
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	m := face.Metrics()
	width := font.MeasureString(face, text).Ceil()
	margin := int(size / 2)
	h := (m.Ascent + m.Descent).Ceil()
	img := image.NewRGBA(image.Rect(0, 0, width+2*margin, h+2*margin))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	d := font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: face,
		Dot: fixed.Point26_6{X: fixed.I(margin), Y: fixed.I(margin) + m.Ascent}}
	d.DrawString(text)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// recorder is a TCP proxy on 127.0.0.1 that keeps every byte it relays,
// both ways.
type recorder struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	bytes  bytes.Buffer
	wg     sync.WaitGroup
}

func startRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln, target: target}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go r.relay(c)
		}
	}()
	t.Cleanup(r.close)
	return r
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes.Write(b)
}

func (r *recorder) relay(c net.Conn) {
	defer r.wg.Done()
	defer c.Close()
	u, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(io.MultiWriter(dst, r), src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	<-done
	<-done
}

// close stops accepting and waits for the relayed connections to end.
func (r *recorder) close() {
	_ = r.ln.Close()
	r.wg.Wait()
}

func (r *recorder) captured() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.bytes.Bytes())
}

// findCanary reports where any canary form occurs in b.
func findCanary(b []byte) string {
	lower := bytes.ToLower(b)
	for _, f := range canaryForms {
		if bytes.Contains(lower, bytes.ToLower([]byte(f))) {
			return f
		}
	}
	return ""
}

// checkTree asserts that no file under root holds the canary in its name or
// content.
func checkTree(t *testing.T, what, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if f := findCanary([]byte(d.Name())); f != "" {
			t.Errorf("%s: file name %s contains the canary (%q)", what, path, f)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		if f := findCanary(b); f != "" {
			i := bytes.Index(bytes.ToLower(b), bytes.ToLower([]byte(f)))
			lo, hi := max(0, i-200), min(len(b), i+len(f)+200)
			t.Errorf("%s: %s contains the canary (%q): …%s…", what, path, f, b[lo:hi])
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s: walk %s: %v", what, root, err)
	}
	return n
}

// TestCanary OCRs an image whose text and file name carry a canary through
// a recording proxy, with both processes logging at debug level, then looks
// for the canary everywhere the request left traces. It runs once per PSK
// suite and once per legacy CBC algorithm (AES-256-CBC from AES_SECRET_KEY,
// SM4-CBC from the key file), with and without the legacy "mac" member.
func TestCanary(t *testing.T) {
	for _, suite := range psk.Suites() {
		t.Run(suite.String(), func(t *testing.T) {
			s := newSuiteSidecar(t, suite, nil)
			testCanary(t, s, pskCanary(suiteKey(t, s, suite)))
		})
	}
	for _, alg := range []string{legacycbc.Algorithm, legacycbc.AlgorithmSM4} {
		t.Run("legacy "+alg, func(t *testing.T) {
			var s *sidecar
			var key legacycbc.Key
			var err error
			if alg == legacycbc.AlgorithmSM4 {
				s = newSidecar(t, sm4LegacyEnv(writeSM4LegacyKeys(t)))
				sk, _ := hex.DecodeString(sm4LegacyKeyHex)
				key, err = legacycbc.NewAlgorithmKey(alg, sk)
			} else {
				s = newLegacySidecar(t, nil)
				key, err = legacycbc.NewKey([]byte(legacySecret))
			}
			if err != nil {
				t.Fatal(err)
			}
			testCanary(t, s, legacyCanary(key))
		})
	}
}

// canarySender sends the canary image (at imgPath) through the recording
// proxy at proxyURL and returns the core's JSON answers, opened.
type canarySender func(t *testing.T, client *http.Client, proxyURL, imgPath string) [][]byte

// pskCanary sends the image as a multipart upload named after the file, so
// the core sees the canary in the file name as well as in the pixels, in
// line and document mode.
func pskCanary(key psk.Key) canarySender {
	return func(t *testing.T, client *http.Client, proxyURL, imgPath string) [][]byte {
		data, err := os.ReadFile(imgPath)
		if err != nil {
			t.Fatal(err)
		}
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name="image"; filename=%q`, filepath.Base(imgPath)))
		hdr.Set("Content-Type", "image/png")
		pw, err := mw.CreatePart(hdr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pw.Write(data)
		_ = mw.Close()
		var out [][]byte
		for _, mode := range []string{"line", "document"} {
			target := "/v1/ocr?mode=" + mode
			r := sealPSK(t, key, target, mw.FormDataContentType(), form.Bytes(), time.Now())
			res, body := doRequest(t, client, http.MethodPost, proxyURL+target, psk.RequestMediaType, bytes.NewReader(r.body), int64(len(r.body)))
			status, ct, content := openPSK(t, "canary "+mode, r, res, body)
			if status != http.StatusOK || ct != "application/json" {
				t.Fatalf("mode %s: inner answer %d %q %q", mode, status, ct, truncate(content))
			}
			out = append(out, content)
		}
		return out
	}
}

// legacyCanary sends the image in the legacy CBC format (which carries no
// file name; the core reads it in document mode), without and with the
// "mac" member.
func legacyCanary(key legacycbc.Key) canarySender {
	return func(t *testing.T, client *http.Client, proxyURL, imgPath string) [][]byte {
		data, err := os.ReadFile(imgPath)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, seal := range []func(io.Reader, legacycbc.Key, []byte) ([]byte, error){legacycbc.SealRequest, legacycbc.SealRequestMAC} {
			req, err := seal(nil, key, data)
			if err != nil {
				t.Fatal(err)
			}
			res, body := doRequest(t, client, http.MethodPost, proxyURL+"/ocr", legacycbc.MediaType, bytes.NewReader(req), int64(len(req)))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("legacy: %d %q", res.StatusCode, truncate(body))
			}
			plain, err := legacycbc.OpenResponseTo(key, req, body)
			if err != nil {
				t.Fatalf("legacy: open the answer: %v", err)
			}
			out = append(out, plain)
		}
		return out
	}
}

func testCanary(t *testing.T, s *sidecar, send canarySender) {
	img := renderText(t, canary, 48)
	imgPath := filepath.Join(t.TempDir(), "id-card-"+canary+".png")
	if err := os.WriteFile(imgPath, img, 0o600); err != nil {
		t.Fatal(err)
	}
	if findCanary([]byte(imgPath)) == "" || findCanary([]byte(`{"text":"110105 19491231 002x"}`)) == "" {
		t.Fatal("findCanary does not find the canary")
	}

	rec := startRecorder(t, s.addr)
	client := &http.Client{
		Timeout:   requestTimeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.caPool, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true},
	}
	proxyURL := "https://" + rec.ln.Addr().String()

	answers := send(t, client, proxyURL, imgPath)
	if len(answers) == 0 {
		t.Fatal("no answer to check")
	}
	for i, content := range answers {
		what := fmt.Sprintf("canary answer %d", i)
		res := checkOCR(t, what, content, canary)
		// The check above compares exactly; say so plainly if the model
		// misread the canary, since the rest of the test would prove nothing.
		if !strings.Contains(squash(res.Text), canary) {
			t.Fatalf("%s: the core did not read the canary (got %q); the leak checks would be vacuous", what, res.Text)
		}
	}
	client.CloseIdleConnections()
	rec.close()

	// Metrics of both processes.
	for _, u := range []string{s.metrics, coreMetrics} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", u, res.StatusCode)
		}
		if f := findCanary(b); f != "" {
			t.Errorf("%s contains the canary (%q)", u, f)
		}
	}

	// Stop the sidecar so that it flushes its logs, then look everywhere.
	s.proc.stop()
	wire := rec.captured()
	if len(wire) < len(img) {
		t.Errorf("the proxy recorded %d bytes, fewer than the image (%d): did the requests go through it?", len(wire), len(img))
	}
	if f := findCanary(wire); f != "" {
		t.Errorf("the bytes between client and sidecar contain the canary (%q)", f)
	}
	if !strings.Contains(s.proc.logs(), `"request"`) {
		t.Errorf("the sidecar log has no access log line; is it logging?\n%s", s.proc.tail())
	}
	// The core logs at debug level too (each page's figures), and those
	// lines were searched for the canary with the rest.
	if !strings.Contains(core.logs(), `"level":"debug"`) || !strings.Contains(core.logs(), `"msg":"page read"`) {
		t.Errorf("the core wrote no debug line about a page; the canary search proves less than it says\n%s", core.tail())
	}
	for _, tc := range []struct{ what, root string }{
		{"sidecar state folder", s.stateDir},
		{"sidecar output and home folder", s.proc.root},
		{"core output and home folder", core.root},
	} {
		if n := checkTree(t, tc.what, tc.root); n == 0 {
			t.Errorf("%s: no file under %s; the check proves nothing", tc.what, tc.root)
		}
	}
}
