// Package document opens what a client sends — an image, a multi-page
// TIFF or a PDF — as a sequence of pages and decodes them one at a time,
// so that a long document never holds more than the page being read. It
// sniffs the format from the bytes (never from the client's label),
// counts the pages and checks each page's pixel size before it decodes
// it, and renders PDF pages with PDFium in WebAssembly (see PDFium).
package document

import (
	"bytes"
	"context"
	"errors"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// Sentinel errors; the HTTP layer maps each to a fixed client message.
// Images and TIFFs also return decode.ErrNotImage and
// decode.ErrTooManyPixels.
var (
	// ErrTooManyPages: the document has more pages than Options.MaxPages.
	ErrTooManyPages = errors.New("document: more pages than the limit")
	// ErrEncrypted: the PDF needs a password (or uses a security handler
	// PDFium does not support).
	ErrEncrypted = errors.New("document: encrypted PDF")
	// ErrMalformed: the bytes start like a PDF but PDFium cannot open the
	// document or one of its pages (truncated, corrupt, no pages).
	ErrMalformed = errors.New("document: malformed PDF")
)

// MediaType is the Content-Type of a PDF.
const MediaType = "application/pdf"

// Defaults.
const (
	DefaultMaxPages = 50
	// RenderDPI is the resolution PDF pages are rendered at, unless the
	// pixel limits ask for less; never more.
	RenderDPI = 300
	// MinRenderDPI is the least resolution a PDF page is rendered at: a
	// page so large that the pixel limits would ask for less (a "PDF bomb"
	// with a huge MediaBox) is refused with decode.ErrTooManyPixels.
	MinRenderDPI = 72
	// ScanMinDPI is the least a scanned page (one image covering it) is
	// rendered at, whatever its image's resolution: the detector reads a
	// page at 960 pixels on its longer side at most, so finer pixels serve
	// only the line crops, which a coarser scan cannot improve.
	ScanMinDPI = 100
)

// Options bound what Open accepts.
type Options struct {
	Limits   decode.Limits // pixels per page
	MaxPages int           // 0 means DefaultMaxPages
	// PDF renders PDF pages; nil refuses PDFs as malformed documents.
	PDF *PDFium
}

// Plan is what is known about a page before it is decoded.
type Plan struct {
	Width, Height int // the page raster's size in pixels
	// ExtraBytes is what decoding the page holds besides the page raster
	// (raster.Image) at its peak: see decode.Header.PageExtraBytes; for a
	// PDF page the RGBA bitmap in the WebAssembly memory.
	ExtraBytes int64
	// DPI is the page's pixels per inch: as rendered for a PDF page, as
	// the file states for an image, 0 when unknown.
	DPI float64
}

// Document is an opened document. Plan and Decode take pages in any
// order, one at a time (a Document is not safe for concurrent use).
type Document interface {
	// Format is "pdf", "tiff" or an image format of package decode.
	Format() string
	// Pages is the number of pages, 1 or more.
	Pages() int
	// Plan checks page i (0-based) against the pixel limits and tells its
	// size, without decoding it.
	Plan(ctx context.Context, i int) (Plan, error)
	// Decode decodes page i into the pipeline's page.
	Decode(ctx context.Context, i int) (*raster.Image, error)
	// Close releases the document (for a PDF, its PDFium instance).
	Close() error
}

// IsPDF reports whether data is a PDF: "%PDF-" at the start, or within
// the first 1024 bytes (where PDF readers accept it) of data that is not
// an image.
func IsPDF(data []byte) bool {
	if bytes.HasPrefix(data, []byte("%PDF-")) {
		return true
	}
	if !bytes.Contains(data[:min(len(data), 1024)], []byte("%PDF-")) {
		return false
	}
	_, _, err := decode.Config(data)
	return err != nil
}

// Open sniffs data and opens it as a document: a PDF (through o.PDF), a
// TIFF with every page, or any other image as one page. The context
// bounds the work of opening (a PDF's parsing); it is the request's.
func Open(ctx context.Context, data []byte, o Options) (Document, error) {
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	if IsPDF(data) {
		if o.PDF == nil {
			return nil, ErrMalformed
		}
		return o.PDF.open(ctx, data, o)
	}
	if len(data) >= 4 && (string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*") {
		pages, err := decode.TIFFPages(data, o.MaxPages)
		if errors.Is(err, decode.ErrTooManyPages) {
			return nil, ErrTooManyPages
		}
		if err != nil {
			return nil, err
		}
		return &tiffDoc{data: data, pages: pages, lim: o.Limits}, nil
	}
	return &imageDoc{data: data, lim: o.Limits}, nil
}

// imageDoc is a one-page image.
type imageDoc struct {
	data []byte
	lim  decode.Limits
	fmt  string
}

func (d *imageDoc) Format() string { return d.fmt }
func (d *imageDoc) Pages() int     { return 1 }
func (d *imageDoc) Close() error   { d.data = nil; return nil } // the body is garbage once closed

func (d *imageDoc) Plan(_ context.Context, i int) (Plan, error) {
	if i != 0 {
		return Plan{}, ErrTooManyPages
	}
	h, err := decode.Inspect(d.data, d.lim)
	d.fmt = h.Format
	if err != nil {
		return Plan{}, err
	}
	return Plan{Width: h.Width, Height: h.Height, ExtraBytes: h.PageExtraBytes, DPI: decode.DPI(d.data)}, nil
}

func (d *imageDoc) Decode(_ context.Context, i int) (*raster.Image, error) {
	if i != 0 {
		return nil, ErrTooManyPages
	}
	page, _, err := decode.DecodePage(d.data, d.lim)
	return page, err
}

// tiffDoc is a TIFF, every page (image file directory) of it.
type tiffDoc struct {
	data  []byte
	pages []decode.TIFFPage
	lim   decode.Limits
}

func (d *tiffDoc) Format() string { return "tiff" }
func (d *tiffDoc) Pages() int     { return len(d.pages) }
func (d *tiffDoc) Close() error   { d.data = nil; return nil } // the body is garbage once closed

func (d *tiffDoc) Plan(_ context.Context, i int) (Plan, error) {
	h, err := decode.InspectTIFFPage(d.data, d.pages[i], d.lim)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Width: h.Width, Height: h.Height, ExtraBytes: h.PageExtraBytes, DPI: d.pages[i].DPI}, nil
}

func (d *tiffDoc) Decode(_ context.Context, i int) (*raster.Image, error) {
	return decode.DecodeTIFFPage(d.data, d.pages[i], d.lim)
}
