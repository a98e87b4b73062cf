package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/jpeg"
	_ "image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/document"
	"github.com/sealocr/sealocr/core/internal/enginetest"
	"github.com/sealocr/sealocr/core/internal/ocreval"
	"github.com/sealocr/sealocr/core/internal/pipeline"
	"github.com/sealocr/sealocr/core/internal/raster"
	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/core/testkit/doctest"
)

// testPDF is one PDF renderer for the package's tests (compiling the
// module takes seconds); started on first use.
var (
	testPDFOnce sync.Once
	testPDF     *document.PDFium
)

func sharedPDF(t testing.TB) *document.PDFium {
	t.Helper()
	testPDFOnce.Do(func() { testPDF = document.NewPDFium(document.PDFiumOptions{Instances: 2}) })
	if err := testPDF.Start(); err != nil {
		t.Fatal(err)
	}
	return testPDF
}

// loadImage decodes a shared test image.
func loadImage(t testing.TB, rel string) image.Image {
	t.Helper()
	return doctest.LoadImage(t, enginetest.Testdata(t, rel))
}

// label reads the ground truth of a shared test image.
func label(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(enginetest.Testdata(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cer is the character error rate of got against want, white space
// dropped.
func cer(got, want string) float64 {
	g, w := ocreval.Removed(got), ocreval.Removed(want)
	return float64(ocreval.Distance(g, w)) / float64(max(1, len([]rune(w))))
}

// okResponse returns a function that checks a 200 answer and decodes it,
// for okResponse(t)(do(...)).
func okResponse(t testing.TB) func(*http.Response, []byte) api.Response {
	return func(res *http.Response, body []byte) api.Response {
		t.Helper()
		return decodeResponse(t, res, body)
	}
}

func decodeResponse(t testing.TB, res *http.Response, body []byte) api.Response {
	t.Helper()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var r api.Response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestScannedPDFPages sends a 4-page scanned PDF (A4 at 150 dpi; page 2
// upside down, page 3 turned a quarter clockwise on a landscape page)
// through the real models: four pages in order, each read upright (its
// angle as turned, its text within the CER of the labels), each sized as
// rendered at 300 dpi; the top-level fields are the first page's, and the
// top-level text is the pages' texts joined by a form feed.
func TestScannedPDFPages(t *testing.T) {
	// Two workers: the pages are read two at a time, and still come back
	// in order.
	a := New(enginetest.Engine(t), Options{PDF: sharedPDF(t), Workers: 2, Timeout: 5 * time.Minute})
	type src struct {
		img, gt string
		quarter int
		maxCER  float64
	}
	srcs := []src{
		{"tesseract_js/pages/testocr.png", "tesseract_js/pages/testocr.gt.txt", 0, 0.05},
		{"tesseract_js/pages/cosmic.png", "tesseract_js/pages/cosmic.gt.txt", 2, 0.10},
		{"paddleocr/pages/11.jpg", "paddleocr/pages/11.gt.txt", 1, 0.15},
		{"tesseract_js/pages/testocr.png", "tesseract_js/pages/testocr.gt.txt", 0, 0.05},
	}
	var pages []doctest.Page
	for _, s := range srcs {
		size := doctest.A4
		if s.quarter%2 == 1 {
			size = fpdf.SizeType{Wd: doctest.A4.Ht, Ht: doctest.A4.Wd}
		}
		pages = append(pages, doctest.Page{Size: size, Image: doctest.Scan(loadImage(t, s.img), 1240, 1754, s.quarter)})
	}
	pdf := doctest.PDF(t, pages, nil)
	start := time.Now()
	r := okResponse(t)(do(t, a, http.MethodPost, "/v1/ocr?page_images=jpeg", "application/pdf", pdf))
	t.Logf("4 pages in %v", time.Since(start))
	if len(r.Pages) != 4 {
		t.Fatalf("%d pages, want 4", len(r.Pages))
	}
	var texts []string
	for i, s := range srcs {
		p := r.Pages[i]
		texts = append(texts, p.Text)
		// A scan is rendered at its image's resolution (1240×1754 on A4:
		// 150 dpi), not finer.
		w, h := 1240, 1754
		if s.quarter%2 == 1 {
			w, h = h, w
		}
		if p.Page != i+1 || abs(p.Width-w) > 1 || abs(p.Height-h) > 1 {
			t.Errorf("page %d: number %d size %d×%d, want %d×%d", i+1, p.Page, p.Width, p.Height, w, h)
		}
		if p.Angle != 90*s.quarter {
			t.Errorf("page %d: angle %d, want %d", i+1, p.Angle, 90*s.quarter)
		}
		if c := cer(p.Text, label(t, s.gt)); c > s.maxCER {
			t.Errorf("page %d: CER %.3f over %.2f; read\n%s", i+1, c, s.maxCER, p.Text)
		} else {
			t.Logf("page %d: CER %.3f, angle %d", i+1, c, p.Angle)
		}
		checkPagePicture(t, p)
	}
	t.Run("searchable PDF", func(t *testing.T) {
		res, out := do(t, a, http.MethodPost, "/v1/ocr?output=pdf", "application/pdf", pdf)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("%d %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
		file := filepath.Join(t.TempDir(), "out.pdf")
		if err := os.WriteFile(file, out, 0o600); err != nil {
			t.Fatal(err)
		}
		info := runTool(t, "pdfinfo", "-f", "1", "-l", "4", file)
		if !strings.Contains(info, "Pages:           4") {
			t.Errorf("pdfinfo:\n%s", info)
		}
		for i, s := range srcs {
			// Each page as the input's (A4), shown upright: /Rotate turns
			// the turned pages back.
			want := `595\.\d+ x 841\.\d+ pts \(A4\)`
			if s.quarter%2 == 1 {
				want = `841\.\d+ x 595\.\d+ pts \(A4\)`
			}
			if !regexp.MustCompile(fmt.Sprintf(`Page +%d size: +%s`, i+1, want)).MatchString(info) {
				t.Errorf("page %d is not %s:\n%s", i+1, want, info)
			}
			if rot := (360 - 90*s.quarter) % 360; !regexp.MustCompile(fmt.Sprintf(`Page +%d rot: +%d\n`, i+1, rot)).MatchString(info) {
				t.Errorf("page %d is not turned upright by /Rotate %d:\n%s", i+1, rot, info)
			}
			text := runTool(t, "pdftotext", "-f", strconv.Itoa(i+1), "-l", strconv.Itoa(i+1), "-layout", file, "-")
			if c := cer(text, label(t, s.gt)); c > s.maxCER+0.05 {
				t.Errorf("page %d: pdftotext CER %.3f over %.2f; read\n%s", i+1, c, s.maxCER+0.05, text)
			} else {
				t.Logf("page %d: pdftotext CER %.3f", i+1, c)
			}
		}
	})
	t.Run("hOCR", func(t *testing.T) {
		res, out := do(t, a, http.MethodPost, "/v1/ocr?output=hocr", "application/pdf", pdf)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%d %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
		pagesSeen := regexp.MustCompile(`class=['"]ocr_page['"][^>]*title=['"][^'"]*bbox 0 0 (\d+) (\d+)`).FindAllStringSubmatch(string(out), -1)
		if len(pagesSeen) != 4 {
			t.Fatalf("%d ocr_page elements, want 4", len(pagesSeen))
		}
		for i, m := range pagesSeen {
			if m[1] != strconv.Itoa(r.Pages[i].Width) || m[2] != strconv.Itoa(r.Pages[i].Height) {
				t.Errorf("page %d bbox %s×%s, want %d×%d", i+1, m[1], m[2], r.Pages[i].Width, r.Pages[i].Height)
			}
		}
		if n := strings.Count(string(out), "ocrx_word"); n < 50 {
			t.Errorf("%d words", n)
		}
	})
	if r.Text != strings.Join(texts, "\f") {
		t.Errorf("top-level text is not the pages' texts joined by \\f")
	}
	first := r.Pages[0]
	if r.Width != first.Width || r.Height != first.Height || r.Angle != first.Angle || len(r.Lines) != len(first.Lines) {
		t.Errorf("top-level %d×%d angle %d, %d lines; first page %d×%d angle %d, %d lines",
			r.Width, r.Height, r.Angle, len(r.Lines), first.Width, first.Height, first.Angle, len(first.Lines))
	}
}

// checkPagePicture checks a page's picture (page_images=jpeg): a JPEG
// data URL at most 1600 pixels on its longer side, of the page's shape.
func checkPagePicture(t *testing.T, p api.Page) {
	t.Helper()
	b64, ok := strings.CutPrefix(p.Image, "data:image/jpeg;base64,")
	if !ok {
		t.Errorf("page %d: image %.40q is not a JPEG data URL", p.Page, p.Image)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("page %d picture: %v", p.Page, err)
	}
	if max(cfg.Width, cfg.Height) != 1600 || abs(cfg.Width*p.Height-cfg.Height*p.Width) > max(p.Width, p.Height) {
		t.Errorf("page %d picture %d×%d for a %d×%d page", p.Page, cfg.Width, cfg.Height, p.Width, p.Height)
	}
}

// runTool runs an outside program the test needs and returns its output.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	bin := testkit.NeedTool(t, name, "apt-get install -y poppler-utils")
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestTextPDFMixedSizes: a born-digital PDF (a real text layer) of an A4
// page and a Letter page in landscape is read page by page, each at its
// own size, and its words are found.
func TestTextPDFMixedSizes(t *testing.T) {
	a := New(enginetest.Engine(t), Options{PDF: sharedPDF(t), Timeout: 5 * time.Minute})
	pdf := doctest.PDF(t, []doctest.Page{
		{Size: doctest.A4, Text: "INVOICE 2026-114\nTotal due 4,180.50 EUR"},
		{Size: doctest.LetterLandscape, Text: "Delivery note\nPallets 12 of 12"},
	}, nil)
	r := okResponse(t)(do(t, a, http.MethodPost, "/v1/ocr", "application/pdf", pdf))
	want := []struct {
		w, h  int
		words []string
	}{{2480, 3507, []string{"INVOICE", "2026-114", "4,180.50"}}, {3300, 2550, []string{"Delivery", "Pallets"}}}
	if len(r.Pages) != 2 {
		t.Fatalf("%d pages", len(r.Pages))
	}
	for i, w := range want {
		p := r.Pages[i]
		if abs(p.Width-w.w) > 1 || abs(p.Height-w.h) > 1 {
			t.Errorf("page %d is %d×%d, want %d×%d", i+1, p.Width, p.Height, w.w, w.h)
		}
		for _, word := range w.words {
			if !strings.Contains(p.Text, word) {
				t.Errorf("page %d lacks %q: %q", i+1, word, p.Text)
			}
		}
	}
}

// TestMultiPageTIFF: every page of a three-page TIFF is read (the old
// core read the first and dropped the rest).
func TestMultiPageTIFF(t *testing.T) {
	a := New(enginetest.Engine(t), Options{Timeout: 5 * time.Minute})
	srcs := [][2]string{
		{"tesseract_js/pages/testocr.png", "tesseract_js/pages/testocr.gt.txt"},
		{"paddleocr/pages/11.jpg", "paddleocr/pages/11.gt.txt"},
		{"tesseract_js/pages/cosmic.png", "tesseract_js/pages/cosmic.gt.txt"},
	}
	var imgs []image.Image
	for _, s := range srcs {
		imgs = append(imgs, loadImage(t, s[0]))
	}
	r := okResponse(t)(do(t, a, http.MethodPost, "/v1/ocr", "image/tiff", doctest.TIFF(t, imgs, 300)))
	if len(r.Pages) != 3 {
		t.Fatalf("%d pages, want 3", len(r.Pages))
	}
	for i, s := range srcs {
		b := imgs[i].Bounds()
		p := r.Pages[i]
		if p.Width != b.Dx() || p.Height != b.Dy() {
			t.Errorf("page %d: %d×%d, want %d×%d", i+1, p.Width, p.Height, b.Dx(), b.Dy())
		}
		if c := cer(p.Text, label(t, s[1])); c > 0.15 {
			t.Errorf("page %d: CER %.3f; read\n%s", i+1, c, p.Text)
		}
	}
}

// TestDocumentErrors: every bad document gets its fixed code quickly, and
// a good PDF sent next is still served (the renderer survives a killed
// instance, a refused document and a bomb).
func TestDocumentErrors(t *testing.T) {
	pdfr := sharedPDF(t)
	a := New(&stubEngine{}, Options{PDF: pdfr, MaxPages: 3, Timeout: 2 * time.Second})
	// A small page, quick to render even under the race detector on a
	// loaded machine, well within the 2 s deadline.
	good := doctest.PDF(t, []doctest.Page{{Size: doctest.SizeType(200, 200), Text: "fine"}}, nil)
	four := doctest.PDF(t, []doctest.Page{{Size: doctest.A4}, {Size: doctest.A4}, {Size: doctest.A4}, {Size: doctest.A4}}, nil)
	var tiffPages []image.Image
	for i := 0; i < 4; i++ {
		tiffPages = append(tiffPages, image.NewGray(image.Rect(0, 0, 8, 8)))
	}
	var slow strings.Builder
	slow.WriteString("20 w\n")
	for i := 0; i < 1_000_000; i++ {
		fmt.Fprintf(&slow, "%d 0 m %d 842 l S\n", i%595, 595-i%595)
	}
	for _, tc := range []struct {
		name   string
		ct     string
		body   []byte
		status int
		code   string
		within time.Duration
	}{
		{"encrypted", "application/pdf", doctest.PDF(t, []doctest.Page{{Size: doctest.A4, Text: "x"}}, func(f *fpdf.Fpdf) {
			f.SetProtection(fpdf.CnProtectPrint, "user", "owner")
		}), 422, api.CodeEncryptedDocument, 3 * time.Second},
		{"truncated", "application/pdf", good[:len(good)*2/3], 400, api.CodeMalformedDocument, 3 * time.Second},
		{"PDF magic then garbage", "application/octet-stream", []byte("%PDF-1.4\n" + strings.Repeat("garbage ", 100)), 400, api.CodeMalformedDocument, 3 * time.Second},
		{"huge MediaBox", "application/pdf", doctest.PDF(t, []doctest.Page{{Size: fpdf.SizeType{Wd: 14400, Ht: 14400}}}, nil), 422, api.CodeTooManyPixels, 3 * time.Second},
		{"PDF over max_pages", "application/pdf", four, 422, api.CodeTooManyPages, 3 * time.Second},
		{"TIFF over max_pages", "image/tiff", doctest.TIFF(t, tiffPages, 0), 422, api.CodeTooManyPages, 3 * time.Second},
		{"endless content stream", "application/pdf", doctest.PDF(t, []doctest.Page{{Size: doctest.A4, Content: slow.String()}}, nil), 503, api.CodeTimeout, 5 * time.Second},
		{"output=xml", "application/pdf", good, 406, api.CodeUnsupportedOutput, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := "/v1/ocr"
			if strings.HasPrefix(tc.name, "output=") {
				target += "?" + tc.name
			}
			start := time.Now()
			res, body := do(t, a, http.MethodPost, target, tc.ct, tc.body)
			el := time.Since(start)
			if res.StatusCode != tc.status || errorCode(body) != tc.code {
				t.Fatalf("%d %s, want %d %s", res.StatusCode, body, tc.status, tc.code)
			}
			if el > tc.within {
				t.Errorf("answered after %v, want within %v", el, tc.within)
			}
			r := okResponse(t)(do(t, a, http.MethodPost, "/v1/ocr", "application/pdf", good))
			if len(r.Pages) != 1 {
				t.Errorf("the good PDF afterwards: %d pages", len(r.Pages))
			}
			if used := memUsed(a); used != 0 {
				t.Errorf("%d bytes of the budget still held", used)
			}
		})
	}
}

// TestOutputChoice: ?output= and Accept choose the answer's format; json
// is the default and the answer to */*; an unknown format gets
// unsupported_output before the body is read.
func TestOutputChoice(t *testing.T) {
	a := New(&stubEngine{}, Options{})
	img := pngBytes(t, 8, 8)
	for _, tc := range []struct {
		query, accept string
		status        int
		ct            string
	}{
		{"", "", 200, "application/json"},
		{"", "*/*", 200, "application/json"},
		{"", "application/json", 200, "application/json"},
		{"", "text/plain", 200, "application/json"},
		{"", "application/pdf", 200, "application/pdf"},
		{"", "application/json;q=0.5, application/pdf", 200, "application/pdf"},
		{"", "application/pdf;q=0.5, application/json", 200, "application/json"},
		{"", "text/vnd.hocr+html", 200, "text/html"},
		{"output=json", "application/pdf", 200, "application/json"},
		{"output=pdf", "", 200, "application/pdf"},
		{"output=hocr", "", 200, "text/html"},
		{"output=xml", "", 406, ""},
		{"page_images=png", "", 400, ""},
	} {
		req, _ := http.NewRequest(http.MethodPost, "/v1/ocr?"+tc.query, bytes.NewReader(img))
		req.Header.Set("Content-Type", "image/png")
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("?%s Accept %q: %d %s, want %d", tc.query, tc.accept, rec.Code, rec.Body.Bytes(), tc.status)
		}
		if ct, _, _ := strings.Cut(rec.Header().Get("Content-Type"), ";"); tc.ct != "" && ct != tc.ct {
			t.Errorf("?%s Accept %q: content type %q, want %q", tc.query, tc.accept, ct, tc.ct)
		}
		if tc.status == 406 && errorCode(rec.Body.Bytes()) != api.CodeUnsupportedOutput {
			t.Errorf("?%s Accept %q: %s", tc.query, tc.accept, rec.Body.Bytes())
		}
	}
	if used := memUsed(a); used != 0 {
		t.Errorf("%d bytes of the budget still held", used)
	}
}

// recordingEngine records the budget in use at each page it reads.
type recordingEngine struct {
	a    *API
	used []int64
}

func (e *recordingEngine) RunPage(_ context.Context, _ *raster.Image, _ pipeline.Options) (*pipeline.Result, error) {
	e.used = append(e.used, memUsed(e.a))
	return &pipeline.Result{}, nil
}

func (e *recordingEngine) Models() []api.ModelInfo { return nil }

// TestOnePageAtATime: while a 6-page PDF is read, the budget holds the
// document's share and one page, never more, whatever the page's number;
// after the answer it holds nothing.
func TestOnePageAtATime(t *testing.T) {
	e := &recordingEngine{}
	a := New(e, Options{PDF: sharedPDF(t)})
	e.a = a
	var pages []doctest.Page
	for i := 0; i < 6; i++ {
		pages = append(pages, doctest.Page{Size: doctest.A4, Text: fmt.Sprintf("page %d", i+1)})
	}
	pdf := doctest.PDF(t, pages, nil)
	r := okResponse(t)(do(t, a, http.MethodPost, "/v1/ocr", "application/pdf", pdf))
	if len(r.Pages) != 6 || len(e.used) != 6 {
		t.Fatalf("%d pages answered, %d read", len(r.Pages), len(e.used))
	}
	onePage := pipeline.PageBytes(2480, 3507, pipeline.Options{})
	docShare := int64(len(pdf)) + document.WasmPageExtraBytes(int64(len(pdf)))
	for i, u := range e.used {
		if u > docShare+onePage {
			t.Errorf("page %d read with %d bytes held, more than the document and one page (%d)", i+1, u, docShare+onePage)
		}
		if u < onePage {
			t.Errorf("page %d read with %d bytes held, less than its page (%d)", i+1, u, onePage)
		}
	}
	if u := memUsed(a); u != 0 {
		t.Errorf("%d bytes held after the answer", u)
	}
}

// TestPageContentCanary: the text of a PDF page (a word found nowhere
// else) is read and answered, and never appears in the core's log, at
// debug level, nor in any file created under TMPDIR while the request
// ran.
func TestPageContentCanary(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var logs bytes.Buffer
	// A renderer of its own, started under this TMPDIR.
	pdfr := document.NewPDFium(document.PDFiumOptions{})
	t.Cleanup(func() { _ = pdfr.Close() })
	a := New(enginetest.Engine(t), Options{PDF: pdfr, Logger: bufLogger(&logs), Timeout: 5 * time.Minute})
	const canary = "QUOKKA"
	pdf := doctest.PDF(t, []doctest.Page{{Size: doctest.A4, Text: "SECRET " + canary + " 7731"}, {Size: doctest.A4, Text: canary}}, nil)
	if bytes.Contains(pdf, []byte(canary)) {
		t.Fatal("the canary is in the PDF's bytes as they are (compression off?)")
	}
	for _, ct := range []string{"application/pdf", "application/octet-stream"} {
		res, body := do(t, a, http.MethodPost, "/v1/ocr", ct, pdf)
		r := decodeResponse(t, res, body)
		if !strings.Contains(r.Text, canary) {
			t.Fatalf("the canary was not read: %q", r.Text)
		}
	}
	// A failing request too: the same page over a page limit of 1.
	b := New(enginetest.Engine(t), Options{PDF: pdfr, Logger: bufLogger(&logs), MaxPages: 1})
	if res, body := do(t, b, http.MethodPost, "/v1/ocr", "application/pdf", pdf); res.StatusCode != 422 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	if logs.Len() == 0 {
		t.Fatal("nothing was logged")
	}
	if strings.Contains(strings.ToUpper(logs.String()), canary) {
		t.Errorf("the canary is in the log:\n%s", logs.String())
	}
	err := filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == tmp {
			return err
		}
		t.Errorf("file created under TMPDIR: %s", p)
		if !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(bytes.ToUpper(b), []byte(canary)) {
				t.Errorf("%s holds the canary", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPDFBodyShapes: a PDF is accepted in every body shape an image is
// (raw as application/pdf or unlabelled, a multipart part labelled
// application/pdf, base64 in JSON), and each answer has its two pages.
func TestPDFBodyShapes(t *testing.T) {
	a := New(&stubEngine{}, Options{PDF: sharedPDF(t)})
	pdf := doctest.PDF(t, []doctest.Page{{Size: doctest.A4}, {Size: doctest.LetterLandscape}}, nil)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="image"; filename="doc.pdf"`)
	h.Set("Content-Type", "application/pdf")
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = pw.Write(pdf)
	_ = mw.Close()
	js, _ := json.Marshal(map[string]string{"image": base64.StdEncoding.EncodeToString(pdf)})
	for _, tc := range []struct {
		name, ct string
		body     []byte
	}{
		{"raw application/pdf", "application/pdf", pdf},
		{"raw unlabelled", "", pdf},
		{"multipart", mw.FormDataContentType(), mp.Bytes()},
		{"json", "application/json", js},
	} {
		r := okResponse(t)(do(t, a, http.MethodPost, "/v1/ocr", tc.ct, tc.body))
		if len(r.Pages) != 2 || r.Pages[1].Width <= r.Pages[1].Height || r.Text != "\f" {
			t.Errorf("%s: %d pages, text %q", tc.name, len(r.Pages), r.Text)
		}
	}
}
