package render

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"image"
	"image/color"
	_ "image/jpeg" // synth pages come as JPEG or PNG
	_ "image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/synth"
)

// synthDPI is the resolution of synth's document pages (about 120 dpi).
const synthDPI = 120

var (
	fontsOnce sync.Once
	fonts     *synth.Fonts
	fontsErr  error
)

// testDocs generates n mixed Chinese/English receipts and m English
// invoices (the same every run).
func testDocs(t testing.TB, n, m int) []synth.Document {
	t.Helper()
	fontsOnce.Do(func() { fonts, fontsErr = synth.LoadFonts("") })
	if fontsErr != nil {
		t.Fatalf("fonts (run ./.ci/testdeps.sh): %v", fontsErr)
	}
	set := synth.Generate(fonts, synth.Spec{Seed: 22, Documents: n, EnglishDocuments: m})
	return append(set.Documents, set.EnglishDocuments...)
}

// labelPage is a generated document as a page read perfectly: every run
// of the labels is a line with its ink box as the box, in reading order
// (rows top to bottom, runs left to right).
func labelPage(t testing.TB, d synth.Document, n int) Page {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(d.Data))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	pg := Page{Page: api.Page{Page: n, Width: b.Dx(), Height: b.Dy()}, Image: img, DPI: synthDPI}
	var texts []string
	for _, row := range d.Rows {
		for _, run := range row.Runs {
			r := run.Box
			pg.Lines = append(pg.Lines, api.Line{Text: run.Text, Confidence: 0.93, Box: [4]api.Point{
				{r.Min.X, r.Min.Y}, {r.Max.X, r.Min.Y}, {r.Max.X, r.Max.Y}, {r.Min.X, r.Max.Y}}})
		}
		texts = append(texts, row.Text())
	}
	pg.Text = strings.Join(texts, "\n")
	return pg
}

// turnPage returns pg turned clockwise by q quarter turns, as a scanner
// would have sent it: the image turned, every box's corners moved with it
// (still starting at the text's top-left corner), Angle 90×q.
func turnPage(pg Page, q int) Page {
	src := pg.Image
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	out := pg
	out.Lines = nil
	dw, dh := w, h
	if q%2 == 1 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	move := func(x, y int) (int, int) { // pixel (x, y) of the upright page
		switch q % 4 {
		case 1:
			return h - 1 - y, x
		case 2:
			return w - 1 - x, h - 1 - y
		case 3:
			return y, w - 1 - x
		}
		return x, y
	}
	for y := range h {
		for x := range w {
			nx, ny := move(x, y)
			dst.Set(nx, ny, src.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	// Box corners are pixel edges: (x, y) goes where pixel (x, y)'s corner
	// goes, which for a turned page is the far edge of the moved pixel.
	corner := func(p api.Point) api.Point {
		switch q % 4 {
		case 1:
			return api.Point{h - p[1], p[0]}
		case 2:
			return api.Point{w - p[0], h - p[1]}
		case 3:
			return api.Point{p[1], w - p[0]}
		}
		return p
	}
	for _, l := range pg.Lines {
		for k := range l.Box {
			l.Box[k] = corner(l.Box[k])
		}
		out.Lines = append(out.Lines, l)
	}
	out.Image, out.Width, out.Height, out.Angle = dst, dw, dh, 90*(q%4)
	return out
}

// writePDF writes pages to a file in a temporary folder and returns its
// path.
func writePDF(t testing.TB, pages []Page) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := NewPDF(&buf, PDFOptions{})
	for _, pg := range pages {
		if err := w.AddPage(pg); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, buf.Bytes()
}

// tool runs one of poppler-utils or qpdf and returns its standard output.
func tool(t testing.TB, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not installed (run ./.ci/testdeps.sh): %v", name, err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s%s", name, args, err, out.String(), errb.String())
	}
	if errb.Len() > 0 {
		t.Errorf("%s %v wrote to stderr: %s", name, args, errb.String())
	}
	return out.String()
}

// fields is s with white space collapsed to single spaces.
func fields(s string) string { return strings.Join(strings.Fields(s), " ") }

// pageWant is what pdftotext must return for a label page: its rows top
// to bottom, white space collapsed.
func pageWant(pg Page) string { return fields(pg.Text) }

// testPages is a four-page document of mixed Chinese/English receipts and
// an English invoice, plus the first receipt turned by 90°, 180° and
// 270° (seven pages in all).
func testPages(t testing.TB) []Page {
	pagesOnce.Do(func() { cachedPages = makeTestPages(t) })
	if cachedPages == nil {
		t.Fatal("test pages not made")
	}
	return slices.Clone(cachedPages)
}

var (
	pagesOnce   sync.Once
	cachedPages []Page // made once per test binary; the tests change copies only
)

func makeTestPages(t testing.TB) []Page {
	docs := testDocs(t, 3, 1)
	var pages []Page
	for i, d := range docs {
		pages = append(pages, labelPage(t, d, i+1))
	}
	for q := 1; q < 4; q++ {
		pages = append(pages, turnPage(pages[0], q))
	}
	return pages
}

// TestPDFText writes label pages and reads them back with poppler: the
// file passes qpdf --check, has the pages' count, sizes and rotations,
// and pdftotext -layout (rows as laid out) and -raw (the order the text
// was written in) return every page's labels in reading order, Chinese
// and Latin, upright or turned.
func TestPDFText(t *testing.T) {
	pages := testPages(t)
	path, _ := writePDF(t, pages)

	if out := tool(t, "qpdf", "--check", path); !strings.Contains(out, "No syntax or stream encoding errors") {
		t.Errorf("qpdf --check:\n%s", out)
	}
	info := tool(t, "pdfinfo", "-f", "1", "-l", "99", path)
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^Pages:\s+%d$`, len(pages))).MatchString(info) {
		t.Errorf("pdfinfo: want %d pages:\n%s", len(pages), info)
	}
	for i, pg := range pages {
		n := i + 1
		w, h := float64(pg.Width)*72/synthDPI, float64(pg.Height)*72/synthDPI
		size := fmt.Sprintf(`(?m)^Page\s+%d size:\s+%g x %g pts`, n, w, h)
		rot := fmt.Sprintf(`(?m)^Page\s+%d rot:\s+%d$`, n, (360-pg.Angle)%360)
		if !regexp.MustCompile(size).MatchString(info) || !regexp.MustCompile(rot).MatchString(info) {
			t.Errorf("page %d: want %s and %s in pdfinfo:\n%s", n, size, rot, info)
		}
		for _, mode := range []string{"-layout", "-raw"} {
			got := fields(tool(t, "pdftotext", mode, "-f", strconv.Itoa(n), "-l", strconv.Itoa(n), path, "-"))
			if want := pageWant(pg); got != want {
				t.Errorf("page %d (angle %d) pdftotext %s:\n got %q\nwant %q", n, pg.Angle, mode, got, want)
			}
		}
	}
	// The whole document: pages in order, separated by form feeds.
	all := tool(t, "pdftotext", "-layout", path, "-")
	parts := strings.Split(strings.TrimSuffix(all, "\f"), "\f")
	if len(parts) != len(pages) {
		t.Fatalf("pdftotext: %d pages, want %d", len(parts), len(pages))
	}
	for i, p := range parts {
		if fields(p) != pageWant(pages[i]) {
			t.Errorf("page %d of the whole document differs", i+1)
		}
	}
	// The font is embedded, maps to Unicode, and renders without a
	// complaint (tool fails the test on anything written to stderr).
	fonts := tool(t, "pdffonts", path)
	if !regexp.MustCompile(`GlyphLessFont\s+CID TrueType\s+Identity-H\s+yes\s+no\s+yes`).MatchString(fonts) {
		t.Errorf("pdffonts: want an embedded, subset-free CID TrueType font with a ToUnicode map:\n%s", fonts)
	}
	tool(t, "pdftoppm", "-r", "20", "-png", path, filepath.Join(t.TempDir(), "p"))
}

// TestPDFPlainText checks pdftotext without options, which finds its own
// reading order: on single-column pages (the rows of one run of two
// receipts and an invoice, and a page with characters outside the Basic
// Multilingual Plane) it returns the lines in order.
func TestPDFPlainText(t *testing.T) {
	var pages []Page
	for i, d := range testDocs(t, 2, 1) {
		pg := labelPage(t, d, i+1)
		var lines []api.Line
		var texts []string
		for _, row := range d.Rows {
			if len(row.Runs) == 1 {
				lines = append(lines, pg.Lines[lineIndex(d, row)])
				texts = append(texts, row.Text())
			}
		}
		pg.Lines, pg.Text = lines, strings.Join(texts, "\n")
		pages = append(pages, pg)
	}
	blank := image.NewGray(image.Rect(0, 0, 800, 300))
	for i := range blank.Pix {
		blank.Pix[i] = 255
	}
	rare := Page{Page: api.Page{Page: 4, Width: 800, Height: 300, Text: "𠮷野家 Yoshinoya 𝕏\nfüße € ½ “quoted” <tag> & (paren)", Lines: []api.Line{
		{Text: "𠮷野家 Yoshinoya 𝕏", Confidence: 1, Box: [4]api.Point{{40, 40}, {600, 40}, {600, 90}, {40, 90}}},
		{Text: "füße € ½ “quoted” <tag> & (paren)", Confidence: 1, Box: [4]api.Point{{40, 150}, {760, 150}, {760, 200}, {40, 200}}},
	}}, Image: blank}
	pages = append(pages, rare)
	path, _ := writePDF(t, pages)
	for i, pg := range pages {
		n := strconv.Itoa(i + 1)
		if got := fields(tool(t, "pdftotext", "-f", n, "-l", n, path, "-")); got != pageWant(pg) {
			t.Errorf("page %s pdftotext:\n got %q\nwant %q", n, got, pageWant(pg))
		}
	}
	// The page of unknown resolution is taken at DefaultDPI.
	info := tool(t, "pdfinfo", "-f", "4", "-l", "4", path)
	if want := fmt.Sprintf(`(?m)^Page\s+4 size:\s+%g x %g pts`, 800.0*72/DefaultDPI, 300.0*72/DefaultDPI); !regexp.MustCompile(want).MatchString(info) {
		t.Errorf("pdfinfo: want %q:\n%s", want, info)
	}
}

// lineIndex is the index in labelPage's lines of a row's first run.
func lineIndex(d synth.Document, row synth.Row) int {
	i := 0
	for _, r := range d.Rows {
		if r.Box() == row.Box() && r.Text() == row.Text() {
			return i
		}
		i += len(r.Runs)
	}
	panic("row not in document")
}

// countingWriter counts the bytes written through it.
type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// TestPDFStreams checks that each page is written out when it is added
// (at least its encoded image has reached the writer when AddPage
// returns), that the writer makes no temporary file, and that only Close
// writes the trailer.
func TestPDFStreams(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	pages := testPages(t)[:4]
	var c countingWriter
	w := NewPDF(&c, PDFOptions{})
	prev := 0
	for i, pg := range pages {
		img, _ := w.encodeImage(pg.Image)
		if err := w.AddPage(pg); err != nil {
			t.Fatal(err)
		}
		if c.n-prev < len(img) {
			t.Errorf("page %d: %d bytes written by AddPage, less than its %d-byte image", i+1, c.n-prev, len(img))
		}
		prev = c.n
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if c.n-prev > 16<<10 {
		t.Errorf("Close wrote %d bytes; want only the shared objects and the cross-reference table", c.n-prev)
	}
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Errorf("temporary folder: %v entries, %v", len(ents), err)
	}
	if err := w.AddPage(pages[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("AddPage after Close: %v, want ErrClosed", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

// TestPDFBadPage checks the pages AddPage refuses, and that a refused page
// leaves a valid document.
func TestPDFBadPage(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 10, 10))
	for name, pg := range map[string]Page{
		"no image":   {Page: api.Page{Width: 10, Height: 10}},
		"wrong size": {Page: api.Page{Width: 11, Height: 10}, Image: img},
		"no pixels":  {Page: api.Page{}, Image: image.NewGray(image.Rect(0, 0, 0, 0))},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			w := NewPDF(&b, PDFOptions{})
			if err := w.AddPage(pg); !errors.Is(err, ErrBadPage) {
				t.Fatalf("AddPage: %v, want ErrBadPage", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "empty.pdf")
			if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			tool(t, "qpdf", "--check", path)
		})
	}
}

// TestPDFImages checks how page images are stored (pdfimages -list): a
// black-and-white page as 1-bit Flate, a noisy grey scan as grey JPEG, a
// colour page as RGB JPEG, each at the page's size.
func TestPDFImages(t *testing.T) {
	const w, h = 600, 400
	bw := image.NewGray(image.Rect(0, 0, w, h))
	grey := image.NewGray(image.Rect(0, 0, w, h))
	colour := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			v := uint8(255)
			if (x/20+y/20)%2 == 0 {
				v = 0
			}
			bw.Pix[y*bw.Stride+x] = v
			grey.Pix[y*grey.Stride+x] = uint8(120 + 60*math.Sin(float64(x)/30)*math.Cos(float64(y)/40) + 4*r.NormFloat64())
			colour.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var pages []Page
	for i, img := range []image.Image{bw, grey, colour} {
		pages = append(pages, Page{Page: api.Page{Page: i + 1, Width: w, Height: h}, Image: img, DPI: 200})
	}
	path, _ := writePDF(t, pages)
	out := tool(t, "pdfimages", "-list", path)
	want := []string{
		`(?m)^\s+1\s+0 image\s+600\s+400\s+gray\s+1\s+1\s+image`,
		`(?m)^\s+2\s+1 image\s+600\s+400\s+gray\s+1\s+8\s+jpeg`,
		`(?m)^\s+3\s+2 image\s+600\s+400\s+rgb\s+3\s+8\s+jpeg`,
	}
	for _, re := range want {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("pdfimages -list: no match for %s:\n%s", re, out)
		}
	}
}

// BenchmarkPDF writes a four-page document (three receipts and an invoice,
// 1000×1400 grey scans at 120 dpi, 20-40 rows each) and reports bytes and
// time per page.
func BenchmarkPDF(b *testing.B) {
	pages := testPages(b)[:4]
	var size int
	for b.Loop() {
		var c countingWriter
		w := NewPDF(&c, PDFOptions{})
		for _, pg := range pages {
			if err := w.AddPage(pg); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		size = c.n
	}
	b.ReportMetric(float64(size)/float64(len(pages)), "bytes/page")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pages)), "ns/page")
}

// BenchmarkHOCR writes the same four pages as hOCR.
func BenchmarkHOCR(b *testing.B) {
	pages := testPages(b)[:4]
	var size int
	for b.Loop() {
		var c countingWriter
		w := NewHOCR(&c, HOCROptions{})
		for _, pg := range pages {
			if err := w.AddPage(pg); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		size = c.n
	}
	b.ReportMetric(float64(size)/float64(len(pages)), "bytes/page")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pages)), "ns/page")
}

// TestPDFWordBoxes checks where the words of the text layer are: every
// word pdftotext -bbox finds on an upright page is a word of the labels
// and lies on its share of the line's box (intersection over union at
// least 0.9 with the box by character share), so that selecting a word
// highlights that word on the image.
func TestPDFWordBoxes(t *testing.T) {
	pages := testPages(t)[:4]
	path, _ := writePDF(t, pages)
	out := tool(t, "pdftotext", "-bbox", path, "-")
	pageRe := regexp.MustCompile(`<page width="([\d.]+)" height="([\d.]+)">`)
	wordRe := regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>`)
	chunks := pageRe.Split(out, -1)[1:]
	if len(chunks) != len(pages) {
		t.Fatalf("%d pages in pdftotext -bbox, want %d", len(chunks), len(pages))
	}
	type want struct {
		text string
		box  [4]float64 // x0, y0, x1, y1 in pixels
	}
	for i, pg := range pages {
		var wants []want
		for _, l := range pg.Lines {
			rs := cleanText(l.Text)
			g, _ := lineGeometry(l.Box)
			for _, w := range words(rs) {
				c := g.span(w.start, w.end, len(rs))
				wants = append(wants, want{w.text, [4]float64{c[0].x, c[0].y, c[2].x, c[2].y}})
			}
		}
		found := 0
		s := 72.0 / synthDPI
		for _, m := range wordRe.FindAllStringSubmatch(chunks[i], -1) {
			var b [4]float64
			for k := range b {
				v, _ := strconv.ParseFloat(m[k+1], 64)
				b[k] = v / s
			}
			text := html.UnescapeString(m[5])
			best := 0.0
			for _, w := range wants {
				if w.text == text {
					best = math.Max(best, iou(b, w.box))
				}
			}
			if best < 0.9 {
				t.Errorf("page %d: word %q at %.0f: no label word of that text within IoU 0.9 (best %.2f)", i+1, text, b, best)
			}
			found++
		}
		if found != len(wants) {
			t.Errorf("page %d: pdftotext found %d words, the labels have %d", i+1, found, len(wants))
		}
	}
}

// iou is the intersection over union of two rectangles x0, y0, x1, y1.
func iou(a, b [4]float64) float64 {
	ix := math.Max(0, math.Min(a[2], b[2])-math.Max(a[0], b[0]))
	iy := math.Max(0, math.Min(a[3], b[3])-math.Max(a[1], b[1]))
	in := ix * iy
	area := func(r [4]float64) float64 { return (r[2] - r[0]) * (r[3] - r[1]) }
	return in / (area(a) + area(b) - in)
}

// TestPDFMemory checks that the writer keeps no page once it is written:
// the live heap after 24 pages is within 1 MB of that after 2, where
// keeping each page's encoded image (about 190 KB) would add 4 MB.
func TestPDFMemory(t *testing.T) {
	pg := testPages(t)[0]
	var c countingWriter
	w := NewPDF(&c, PDFOptions{})
	var at2 uint64
	for i := range 24 {
		if err := w.AddPage(pg); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			at2 = liveHeap()
		}
	}
	grown := int64(liveHeap()) - int64(at2)
	if grown > 1<<20 {
		t.Errorf("live heap grew by %d bytes from page 2 to page 24 (%d bytes written)", grown, c.n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(w)
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
