package document

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/testkit/doctest"
)

// sharedPDF is one PDFium for the package's tests (compiling the module
// takes seconds).
var sharedPDF = NewPDFium(PDFiumOptions{Instances: 2})

func TestMain(m *testing.M) {
	code := m.Run()
	_ = sharedPDF.Close()
	os.Exit(code)
}

func gray(w, h int, v uint8) image.Image {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = v
	}
	return m
}

func mustOpen(t *testing.T, data []byte, o Options) Document {
	t.Helper()
	if o.PDF == nil {
		o.PDF = sharedPDF
	}
	d, err := Open(context.Background(), data, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestPDFPagesAndSizes opens a PDF of an A4 page and a Letter page in
// landscape, each a scan (one image covering the page), and a page of text
// only: each page is planned and rendered with its own size, one at a
// time — a scan at its image's resolution (a 1240-pixel-wide A4 scan at
// 150 dpi; a coarse one at ScanMinDPI), the text page at RenderDPI — grey
// where the page's image is grey.
func TestPDFPagesAndSizes(t *testing.T) {
	data := doctest.PDF(t, []doctest.Page{
		{Size: doctest.A4, Image: gray(1240, 1754, 100)},
		{Size: doctest.LetterLandscape, Image: gray(80, 60, 200)},
		{Size: doctest.A4, Text: "text only"},
	}, nil)
	d := mustOpen(t, data, Options{})
	if d.Format() != "pdf" || d.Pages() != 3 {
		t.Fatalf("format %q pages %d, want pdf 3", d.Format(), d.Pages())
	}
	want := []struct {
		w, h int
		dpi  float64
		v    float32
	}{{1240, 1754, 150, 100}, {int(11 * ScanMinDPI), int(8.5 * ScanMinDPI), ScanMinDPI, 200}, {2480, 3507, RenderDPI, 255}}
	for i, w := range want {
		p, err := d.Plan(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(p.DPI-w.dpi) > 0.5 || abs(p.Width-w.w) > 1 || abs(p.Height-w.h) > 1 {
			t.Errorf("page %d planned %d×%d at %v dpi, want %d×%d at %v", i+1, p.Width, p.Height, p.DPI, w.w, w.h, w.dpi)
		}
		img, err := d.Decode(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		if img.W > p.Width || img.H > p.Height || abs(img.W-w.w) > 1 || abs(img.H-w.h) > 1 {
			t.Errorf("page %d rendered %d×%d, planned %d×%d", i+1, img.W, img.H, p.Width, p.Height)
		}
		b, _, _ := img.BGR(img.W-5, img.H-5)
		if math.Abs(float64(b-w.v)) > 2 {
			t.Errorf("page %d corner %v, want %v", i+1, b, w.v)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestPDFLimits: each bad document gets its sentinel error quickly, and
// the PDFium pool still renders a good document afterwards.
func TestPDFLimits(t *testing.T) {
	good := doctest.PDF(t, []doctest.Page{{Size: doctest.A4, Image: gray(10, 10, 50)}}, nil)
	three := doctest.PDF(t, []doctest.Page{{Size: doctest.A4}, {Size: doctest.A4}, {Size: doctest.A4}}, nil)
	encrypted := doctest.PDF(t, []doctest.Page{{Size: doctest.A4, Text: "secret"}}, func(f *fpdf.Fpdf) {
		f.SetProtection(fpdf.CnProtectPrint, "userpw", "ownerpw")
	})
	huge := doctest.PDF(t, []doctest.Page{{Size: fpdf.SizeType{Wd: 14400, Ht: 14400}}}, nil)
	for _, tc := range []struct {
		name string
		data []byte
		lim  decode.Limits
		want error
		page bool // the error comes from Plan, not Open
	}{
		{"truncated", good[:len(good)/2], decode.Limits{}, ErrMalformed, false},
		{"garbage after the magic", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), 1000)...), decode.Limits{}, ErrMalformed, false},
		{"encrypted", encrypted, decode.Limits{}, ErrEncrypted, false},
		{"over max_pages", three, decode.Limits{}, ErrTooManyPages, false},
		{"huge MediaBox", huge, decode.Limits{}, decode.ErrTooManyPixels, true},
		{"A4 over a small pixel limit", good, decode.Limits{MaxPixels: 400_000}, decode.ErrTooManyPixels, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			d, err := Open(context.Background(), tc.data, Options{PDF: sharedPDF, MaxPages: 2, Limits: tc.lim})
			if tc.page && err == nil {
				_, err = d.Plan(context.Background(), 0)
				_ = d.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v", el)
			}
			d = mustOpen(t, good, Options{})
			if _, err := d.Decode(context.Background(), 0); err != nil {
				t.Fatalf("a good PDF afterwards: %v", err)
			}
		})
	}
}

// TestPDFRenderTime logs the time to render one A4 page at 300 dpi (the
// figure in the README) and fails only if it is absurd.
func TestPDFRenderTime(t *testing.T) {
	if err := sharedPDF.Start(); err != nil {
		t.Fatal(err)
	}
	data := doctest.PDF(t, []doctest.Page{{Size: doctest.A4, Image: gray(600, 800, 128), Text: "Render time"}}, nil)
	start := time.Now()
	d := mustOpen(t, data, Options{})
	opened := time.Since(start)
	img, err := d.Decode(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("A4 at 300 dpi (%d×%d): open (fresh instance) %v, open+render+convert %v", img.W, img.H, opened, el)
	if el > 20*time.Second {
		t.Errorf("render took %v", el)
	}
}

// TestTIFFEveryPage: a three-page TIFF opens as three pages, each decoded
// with its own size and content and its resolution.
func TestTIFFEveryPage(t *testing.T) {
	var pages []image.Image
	for i, v := range []uint8{10, 120, 240} {
		pages = append(pages, gray(30+i*10, 20+i, v))
	}
	data := doctest.TIFF(t, pages, 200)
	d := mustOpen(t, data, Options{})
	if d.Format() != "tiff" || d.Pages() != 3 {
		t.Fatalf("format %q pages %d", d.Format(), d.Pages())
	}
	for i, v := range []float32{10, 120, 240} {
		p, err := d.Plan(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		img, err := d.Decode(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		if img.W != 30+i*10 || img.H != 20+i || p.Width != img.W || p.Height != img.H || p.DPI != 200 {
			t.Errorf("page %d: %d×%d (plan %+v)", i+1, img.W, img.H, p)
		}
		if b, _, _ := img.BGR(1, 1); b != v {
			t.Errorf("page %d: pixel %v, want %v", i+1, b, v)
		}
	}
	if _, err := Open(context.Background(), data, Options{MaxPages: 2}); !errors.Is(err, ErrTooManyPages) {
		t.Errorf("3 pages over max_pages 2: %v", err)
	}
	// A directory chain that loops back is refused, not walked forever.
	loop := bytes.Clone(data)
	binary.LittleEndian.PutUint32(loop[doctest.LastIFDNext(loop):], 8)
	if _, err := Open(context.Background(), loop, Options{}); !errors.Is(err, decode.ErrNotImage) {
		t.Errorf("looping IFD chain: %v", err)
	}
}

// TestImageIsOnePage: a PNG opens as one page with its pHYs resolution.
func TestImageIsOnePage(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 7, 5))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	img.Set(0, 0, color.NRGBA{0, 0, 0, 255})
	d := mustOpen(t, pngOf(t, img), Options{})
	p, err := d.Plan(context.Background(), 0)
	if err != nil || d.Pages() != 1 || d.Format() != "png" || p.Width != 7 || p.Height != 5 || p.DPI != 0 {
		t.Fatalf("pages %d format %q plan %+v err %v", d.Pages(), d.Format(), p, err)
	}
}

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestPDFDeadline: a page whose content stream takes long to draw (a
// million strokes, compressed to a few KB) is cut off by the request's
// deadline: PDFium's instance is killed, the error says deadline, it
// comes soon after the deadline, and the pool renders the next document.
func TestPDFDeadline(t *testing.T) {
	data := doctest.PDF(t, []doctest.Page{{Size: doctest.A4, Content: slowContent()}}, nil)
	if err := sharedPDF.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	d, err := Open(ctx, data, Options{PDF: sharedPDF})
	if err == nil {
		_, err = d.Decode(ctx, 0)
		_ = d.Close()
	}
	el := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the deadline", err)
	}
	if el > 2*time.Second {
		t.Errorf("answered after %v for a 300 ms deadline", el)
	}
	g := mustOpen(t, doctest.PDF(t, []doctest.Page{{Size: doctest.A4}}, nil), Options{})
	if _, err := g.Decode(context.Background(), 0); err != nil {
		t.Fatalf("a good PDF afterwards: %v", err)
	}
}

// slowContent is a content stream of a million thick strokes across the
// page: seconds of drawing for PDFium.
func slowContent() string {
	var b strings.Builder
	b.WriteString("20 w\n")
	for i := 0; i < 1_000_000; i++ {
		fmt.Fprintf(&b, "%d %d m %d %d l S\n", i%595, 0, 595-i%595, 842)
	}
	return b.String()
}

// TestPDFMemoryCap: a page whose bitmap does not fit the instance's
// memory cap fails as a malformed document (PDFium cannot allocate it),
// instead of growing the process; a small page still renders in it.
func TestPDFMemoryCap(t *testing.T) {
	p := NewPDFium(PDFiumOptions{MemoryLimit: 32 << 20})
	t.Cleanup(func() { _ = p.Close() })
	data := doctest.PDF(t, []doctest.Page{{Size: doctest.A4, Text: "too big"}}, nil)
	d, err := Open(context.Background(), data, Options{PDF: p})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Decode(context.Background(), 0)
	_ = d.Close()
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("A4 at 300 dpi (35 MB of bitmap) in 32 MiB: %v, want ErrMalformed", err)
	}
	small := doctest.PDF(t, []doctest.Page{{Size: doctest.SizeType(100, 100), Text: "ok"}}, nil)
	d, err = Open(context.Background(), small, Options{PDF: p})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Decode(context.Background(), 0); err != nil {
		t.Fatalf("a small page in the same cap: %v", err)
	}
}

// TestPDFPageRotate: a page's /Rotate is applied: an A4 portrait page
// with /Rotate 90 is rendered landscape. (The key is added to fpdf's
// output by hand; PDFium rebuilds the cross-reference table that this
// shifts, as it does for any damaged file.)
func TestPDFPageRotate(t *testing.T) {
	data := doctest.PDF(t, []doctest.Page{{Size: doctest.A4, Text: "turned"}}, nil)
	rotated := bytes.Replace(data, []byte("/Type /Page\n"), []byte("/Type /Page\n/Rotate 90\n"), 1)
	if bytes.Equal(rotated, data) {
		t.Fatal("no page dictionary found in fpdf's output")
	}
	d := mustOpen(t, rotated, Options{})
	p, err := d.Plan(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	img, err := d.Decode(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if abs(p.Width-3507) > 1 || abs(p.Height-2480) > 1 || img.W != p.Width || img.H != p.Height {
		t.Errorf("planned %d×%d, rendered %d×%d; want 3507×2480", p.Width, p.Height, img.W, img.H)
	}
}
