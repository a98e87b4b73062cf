package render

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"

	"github.com/sealocr/sealocr/core/api"
)

// HOCROptions tunes the hOCR writer. The zero value is the default.
type HOCROptions struct {
	// System is the ocr-system meta value; "" means "sealocr".
	System string
}

// HOCRWriter writes hOCR 1.2 page by page, in the shape Tesseract's hOCR
// renderer writes (XHTML 1.0 Transitional; ocr_page, ocr_line and
// ocrx_word, each with a bbox in pixels of the page as sent; x_wconf on
// words; ppageno; scan_res when the page's DPI is known; textangle on a
// line that does not read left to right on the image as sent). Words are
// a line's space-separated parts with boxes by character share, and carry
// the line's confidence: the recogniser scores lines, not words. The
// writer holds nothing of a page after AddPage returns.
type HOCRWriter struct {
	w      *bufio.Writer
	system string
	pages  int
	err    error
	closed bool
}

// NewHOCR starts an hOCR document on w. The head is written with the first
// page (or at Close).
func NewHOCR(w io.Writer, o HOCROptions) *HOCRWriter {
	sys := o.System
	if sys == "" {
		sys = "sealocr"
	}
	return &HOCRWriter{w: bufio.NewWriter(w), system: sys}
}

// HOCR writes pages as one hOCR document (resolution unknown).
func HOCR(w io.Writer, pages []api.Page) error {
	h := NewHOCR(w, HOCROptions{})
	for _, pg := range pages {
		if err := h.AddPage(Page{Page: pg}); err != nil {
			return err
		}
	}
	return h.Close()
}

func (h *HOCRWriter) printf(format string, a ...any) {
	if h.err == nil {
		_, h.err = fmt.Fprintf(h.w, format, a...)
	}
}

func (h *HOCRWriter) head() {
	if h.pages > 0 {
		return
	}
	h.printf(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title></title>
  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
  <meta name='ocr-system' content='%s' />
  <meta name='ocr-capabilities' content='ocr_page ocr_line ocrx_word ocrp_wconf'/>
 </head>
 <body>
`, html.EscapeString(h.system))
}

// AddPage writes one page. Its Image is not used; Width, Height and the
// lines' boxes are.
func (h *HOCRWriter) AddPage(pg Page) error {
	if h.closed {
		return ErrClosed
	}
	if pg.Width <= 0 || pg.Height <= 0 {
		return ErrBadPage
	}
	h.head()
	h.pages++
	n := h.pages
	res := ""
	if pg.DPI > 0 && !math.IsInf(pg.DPI, 0) {
		d := int(math.Round(pg.DPI))
		res = fmt.Sprintf("; scan_res %d %d", d, d)
	}
	h.printf("  <div class='ocr_page' id='page_%d' title='bbox 0 0 %d %d; ppageno %d%s'>\n", n, pg.Width, pg.Height, n-1, res)
	lineNo, wordNo := 0, 0
	for _, l := range pg.Lines {
		rs := cleanText(l.Text)
		g, ok := lineGeometry(l.Box)
		if len(rs) == 0 || !ok {
			continue
		}
		lineNo++
		conf := int(math.Round(100 * l.Confidence))
		conf = max(0, min(100, conf))
		angle := ""
		// The reading direction's angle counter-clockwise on the image as
		// sent, to the nearest quarter turn (y points down).
		if a := int(math.Round(math.Atan2(-g.dir.y, g.dir.x)/(math.Pi/2))+4) % 4; a != 0 {
			angle = fmt.Sprintf("; textangle %d", 90*a)
		}
		h.printf("   <span class='ocr_line' id='line_%d_%d' title='%s%s; x_size %d'>", n, lineNo, bbox(g.corners, pg.Width, pg.Height), angle, int(math.Round(g.height)))
		for i, wd := range words(rs) {
			wordNo++
			if i > 0 {
				h.printf(" ")
			}
			h.printf("<span class='ocrx_word' id='word_%d_%d' title='%s; x_wconf %d'>%s</span>", n, wordNo,
				bbox(g.span(wd.start, wd.end, len(rs)), pg.Width, pg.Height), conf, html.EscapeString(wd.text))
		}
		h.printf("</span>\n")
	}
	h.printf("  </div>\n")
	if h.err == nil {
		h.err = h.w.Flush()
	}
	return h.err
}

// bbox is the hOCR bbox of a quadrilateral: its bounds, rounded outwards
// and clipped to the page.
func bbox(c [4]vec, w, h int) string {
	x0, y0, x1, y1 := c[0].x, c[0].y, c[0].x, c[0].y
	for _, p := range c[1:] {
		x0, y0 = math.Min(x0, p.x), math.Min(y0, p.y)
		x1, y1 = math.Max(x1, p.x), math.Max(y1, p.y)
	}
	fw, fh := float64(w), float64(h)
	return fmt.Sprintf("bbox %d %d %d %d", int(clampf(math.Floor(x0), 0, fw)), int(clampf(math.Floor(y0), 0, fh)),
		int(clampf(math.Ceil(x1), 0, fw)), int(clampf(math.Ceil(y1), 0, fh)))
}

// Close ends the document. It does not close the underlying writer.
func (h *HOCRWriter) Close() error {
	if h.closed {
		return ErrClosed
	}
	h.closed = true
	h.head()
	h.printf(" </body>\n</html>\n")
	if h.err == nil {
		h.err = h.w.Flush()
	}
	return h.err
}
