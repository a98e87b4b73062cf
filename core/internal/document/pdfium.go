package document

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"sync"
	"sync/atomic"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/enums"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	wazeroapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// PDFium renders PDF pages with PDFium compiled to WebAssembly
// (github.com/klippa-app/go-pdfium's webassembly mode, run by wazero): no
// cgo and no system library, the module is embedded in the binary. Each
// document gets a fresh WebAssembly instance (nothing of one request's
// document stays in memory another request's document can reach), that
// has no filesystem (no directory is mounted), writes its stdout and
// stderr nowhere, and whose memory is bounded (PDFiumOptions). The
// document's bytes are copied into the instance's memory and opened with
// FPDF_LoadMemDocument: nothing is written to disk. When the request's
// context ends the instance is killed (wazero closes a module whose
// context is done, even inside a long PDFium call).
//
// The runtime and the compiled module are made once, on the first PDF
// (compiling takes a few seconds), and shared; Close releases them.
type PDFium struct {
	o       PDFiumOptions
	once    sync.Once
	started atomic.Bool
	pool    pdfium.Pool
	err     error
}

// CompileBytes is the Go heap that compiling the module holds at its peak
// (measured: 288 MiB of heap taken from the system while compiling on
// amd64, 9 MiB in use after a collection; the compiled code itself is about
// 45 MiB outside the Go heap).
const CompileBytes = 320 << 20

// Started reports whether Start has run (the module is compiled, or
// failed to).
func (p *PDFium) Started() bool { return p.started.Load() }

// PDFiumOptions size a PDFium.
type PDFiumOptions struct {
	// Instances is the most documents rendered at once (the core's
	// workers); 0 means 1.
	Instances int
	// MemoryLimit bounds each instance's WebAssembly memory in bytes
	// (rounded up to 64 KiB pages, at most 4 GiB); 0 means
	// MemoryLimitFor(decode.DefaultMaxPixels, 20 MiB).
	MemoryLimit int64
}

// pdfiumHeap is the memory PDFium itself may need besides the document's
// bytes and one page bitmap: its parsed objects, fonts, decoded images
// of the page being rendered and the module's static data.
const pdfiumHeap = 256 << 20

// MemoryLimitFor is the WebAssembly memory one instance needs for a
// document of maxBody bytes whose page bitmaps (4 bytes per pixel) have
// at most maxPixels pixels: the document, one bitmap and PDFium's own heap
// (pdfiumHeap, 256 MiB).
func MemoryLimitFor(maxPixels, maxBody int64) int64 {
	return maxBody + 4*maxPixels + pdfiumHeap
}

// WasmPageExtraBytes is what the budget is charged for a PDF document
// besides its pages: the copy of its bytes in the WebAssembly memory and
// PDFium's heap as measured for an ordinary document (32 MiB; the memory
// limit, not the budget, bounds a document that needs more).
func WasmPageExtraBytes(docBytes int64) int64 { return docBytes + 32<<20 }

// NewPDFium returns a PDFium; nothing is started until the first PDF.
func NewPDFium(o PDFiumOptions) *PDFium {
	if o.Instances <= 0 {
		o.Instances = 1
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = MemoryLimitFor(decode.DefaultMaxPixels, 20<<20)
	}
	return &PDFium{o: o}
}

// Start compiles the module and makes the pool now rather than on the
// first PDF.
func (p *PDFium) Start() error {
	p.once.Do(func() {
		pages := (p.o.MemoryLimit + 65535) / 65536
		pages = min(pages, 65536)
		rc := wazero.NewRuntimeConfig().
			WithCoreFeatures(wazeroapi.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
			WithMemoryLimitPages(uint32(pages)).
			WithCloseOnContextDone(true)
		p.pool, p.err = webassembly.Init(webassembly.Config{
			MinIdle:       0,
			MaxIdle:       p.o.Instances,
			MaxTotal:      p.o.Instances,
			FSConfig:      wazero.NewFSConfig(), // nothing mounted
			RuntimeConfig: rc,
			Stdout:        io.Discard,
			Stderr:        io.Discard,
			ReuseWorkers:  false, // a fresh instance per document
		})
		if p.err != nil {
			p.err = fmt.Errorf("start pdfium: %w", p.err)
		}
		p.started.Store(true)
	})
	return p.err
}

// Close releases the runtime; PDFs are refused afterwards.
func (p *PDFium) Close() error {
	p.once.Do(func() { p.err = errors.New("pdfium closed") })
	if p.pool != nil {
		return p.pool.Close()
	}
	return nil
}

func (p *PDFium) open(ctx context.Context, data []byte, o Options) (Document, error) {
	if err := p.Start(); err != nil {
		return nil, err
	}
	inst, err := p.pool.GetInstanceWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("pdfium instance: %w", err)
	}
	d := &pdfDoc{inst: inst, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	// The deadline kills the instance, which ends whatever PDFium call is
	// running (a content stream that never ends, an object tree too deep).
	go func() {
		defer close(d.done)
		select {
		case <-ctx.Done():
			d.mu.Lock()
			d.killed = true
			d.mu.Unlock()
			_ = inst.Kill()
		case <-d.stop:
		}
	}()
	res, err := inst.OpenDocument(&requests.OpenDocument{File: &data})
	if err != nil {
		d.Close()
		return nil, d.classify(ctx, err)
	}
	d.doc = res.Document
	d.opened = true
	n, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: d.doc})
	if err != nil {
		d.Close()
		return nil, d.classify(ctx, err)
	}
	d.pages = n.PageCount
	switch {
	case d.pages <= 0:
		d.Close()
		return nil, ErrMalformed
	case d.pages > o.MaxPages:
		d.Close()
		return nil, ErrTooManyPages
	}
	return d, nil
}

// pdfDoc is an open PDF in its own PDFium instance.
type pdfDoc struct {
	inst   pdfium.Pdfium
	o      Options
	doc    references.FPDF_DOCUMENT
	opened bool
	pages  int
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	killed bool
	closed bool
}

func (d *pdfDoc) Format() string { return "pdf" }
func (d *pdfDoc) Pages() int     { return d.pages }

// classify turns a PDFium error into a sentinel: the deadline, a
// password, or a malformed document. PDFium's own errors are fixed texts
// (never built from the document), yet only the sentinel goes on.
func (d *pdfDoc) classify(ctx context.Context, err error) error {
	d.mu.Lock()
	killed := d.killed
	d.mu.Unlock()
	switch {
	case ctx.Err() != nil || killed:
		return context.DeadlineExceeded
	case errors.Is(err, pdfiumerrors.ErrPassword), errors.Is(err, pdfiumerrors.ErrSecurity):
		return ErrEncrypted
	}
	return ErrMalformed
}

func (d *pdfDoc) page(i int) requests.Page {
	return requests.Page{ByIndex: &requests.PageByIndex{Document: d.doc, Index: i}}
}

// Plan loads page i (PDFium parses its content here) and chooses its
// pixel size: RenderDPI, less when that would exceed the pixel limits,
// refused below MinRenderDPI.
func (d *pdfDoc) Plan(ctx context.Context, i int) (Plan, error) {
	sz, err := d.inst.GetPageSize(&requests.GetPageSize{Page: d.page(i)})
	if err != nil {
		return Plan{}, d.classify(ctx, err)
	}
	w, h, dpi, err := renderSize(sz.Width, sz.Height, min(RenderDPI, d.scanDPI(i, sz.Width, sz.Height)), d.o.Limits)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Width: w, Height: h, ExtraBytes: 4 * int64(w) * int64(h), DPI: dpi}, nil
}

// scanDPI is the resolution of a scanned page: when one image covers at
// least nine tenths of the page (a scan, perhaps under an invisible text
// layer), rendering finer than its pixels only adds pixels to read, so the
// page is rendered at the image's resolution, at least ScanMinDPI (small
// print stays legible to the detector). Any other page, or one PDFium
// cannot describe, gets RenderDPI.
func (d *pdfDoc) scanDPI(i int, wpt, hpt float64) float64 {
	n, err := d.inst.FPDFPage_CountObjects(&requests.FPDFPage_CountObjects{Page: d.page(i)})
	if err != nil || n.Count <= 0 || n.Count > maxScanObjects {
		return RenderDPI
	}
	for k := range n.Count {
		obj, err := d.inst.FPDFPage_GetObject(&requests.FPDFPage_GetObject{Page: d.page(i), Index: k})
		if err != nil {
			return RenderDPI
		}
		t, err := d.inst.FPDFPageObj_GetType(&requests.FPDFPageObj_GetType{PageObject: obj.PageObject})
		if err != nil || t.Type != enums.FPDF_PAGEOBJ_IMAGE {
			continue
		}
		b, err := d.inst.FPDFPageObj_GetBounds(&requests.FPDFPageObj_GetBounds{PageObject: obj.PageObject})
		if err != nil {
			continue
		}
		bw, bh := float64(b.Right-b.Left), float64(b.Top-b.Bottom)
		if bw*bh < 0.9*wpt*hpt {
			continue
		}
		px, err := d.inst.FPDFImageObj_GetImagePixelSize(&requests.FPDFImageObj_GetImagePixelSize{ImageObject: obj.PageObject})
		if err != nil || px.Width == 0 || px.Height == 0 {
			continue
		}
		// Either side: an image placed turned has its sides swapped.
		dpi := 72 * max(float64(px.Width), float64(px.Height)) / max(bw, bh)
		return max(dpi, ScanMinDPI)
	}
	return RenderDPI
}

// maxScanObjects bounds the objects scanDPI looks at: a scan has a few.
const maxScanObjects = 16

// renderSize is the pixel size of a page of wpt × hpt points rendered at
// want dots per inch, or at the highest resolution the limits allow.
func renderSize(wpt, hpt, want float64, lim decode.Limits) (w, h int, dpi float64, err error) {
	if !(wpt > 0 && hpt > 0) || math.IsInf(wpt, 0) || math.IsInf(hpt, 0) {
		return 0, 0, 0, ErrMalformed
	}
	maxPx, maxSide := lim.MaxPixels, lim.MaxSide
	if maxPx <= 0 {
		maxPx = decode.DefaultMaxPixels
	}
	if maxSide <= 0 {
		maxSide = decode.DefaultMaxSide
	}
	dpi = want
	dpi = min(dpi, 72*math.Sqrt(float64(maxPx)/(wpt*hpt)))
	dpi = min(dpi, 72*float64(maxSide)/max(wpt, hpt))
	if dpi < MinRenderDPI {
		return 0, 0, 0, decode.ErrTooManyPixels
	}
	w = max(1, int(wpt*dpi/72))
	h = max(1, int(hpt*dpi/72))
	return w, h, dpi, nil
}

// Decode renders page i at the size Plan chose into the pipeline's page.
// The bitmap lives in the WebAssembly memory; it is converted to the page
// raster and freed before Decode returns.
func (d *pdfDoc) Decode(ctx context.Context, i int) (*raster.Image, error) {
	p, err := d.Plan(ctx, i)
	if err != nil {
		return nil, err
	}
	res, err := d.inst.RenderPageInPixels(&requests.RenderPageInPixels{
		Page: d.page(i), Width: p.Width, Height: p.Height,
		ImageFormat: requests.RenderImageFormatRGBA,
	})
	if err != nil {
		return nil, d.classify(ctx, err)
	}
	defer res.CleanupFunc()
	img, ok := res.Result.RenderedImage.(*image.RGBA)
	if !ok || img.Bounds().Empty() {
		return nil, ErrMalformed
	}
	if res.Result.HasTransparency {
		// PDFium renders a page with transparency onto transparent black;
		// the page is paper: composite onto white (premultiplied alpha).
		px := img.Pix
		for j := 0; j+3 < len(px); j += 4 {
			a := 255 - px[j+3]
			px[j] += a
			px[j+1] += a
			px[j+2] += a
			px[j+3] = 255
		}
	}
	return raster.FromImage(img), nil
}

// Close closes the document and gives its instance back (the instance is
// destroyed, its memory with it).
func (d *pdfDoc) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	close(d.stop)
	<-d.done
	d.mu.Lock()
	killed := d.killed
	d.mu.Unlock()
	if killed {
		return nil // Kill has given the instance back
	}
	if d.opened {
		_, _ = d.inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: d.doc})
	}
	return d.inst.Close()
}
