package httpapi

import (
	"bytes"
	"encoding/base64"
	"image/jpeg"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/raster"
	"github.com/sealocr/sealocr/core/internal/render"
)

// Output formats, chosen with ?output= or the Accept header.
const (
	outputJSON = "json"
	outputPDF  = "pdf"
	outputHOCR = "hocr"
)

// pageSink receives a request's pages in order, each as soon as it is
// read and before the next page is decoded, and then writes the answer.
// img is the page as decoded (the pixels the boxes refer to), dpi its
// pixels per inch (a PDF page as rendered, an image as its file states,
// 0 when unknown). A sink that keeps a page's pixels beyond Page must
// count them against the memory budget; the JSON sink keeps only the
// lines. Finish is called once, after the last page, and writes the whole
// answer; a sink writes nothing before Finish, so that an error on a
// later page still gets its fixed error answer.
type pageSink interface {
	Page(img *raster.Image, dpi float64, p api.Page) error
	Finish(w http.ResponseWriter, elapsed time.Duration) error
}

// newSink returns the sink of an output format (outputFormat), or
// unsupported_output. q is the request's query (page_images); mem is the
// request's memory charge, which a sink that keeps bytes takes them from.
func (a *API) newSink(output string, q url.Values, mem *charge) (pageSink, error) {
	switch output {
	case outputJSON:
		s := &jsonSink{}
		switch q.Get("page_images") {
		case "":
		case "jpeg":
			s.images = mem
		default:
			return nil, fail(api.CodeBadRequest, "unknown page_images parameter")
		}
		return s, nil
	case outputPDF:
		s := &pdfSink{mem: mem}
		s.w = render.NewPDF(&s.buf, render.PDFOptions{})
		return s, nil
	case outputHOCR:
		s := &hocrSink{mem: mem}
		s.w = render.NewHOCR(&s.buf, render.HOCROptions{})
		return s, nil
	}
	return nil, fail(api.CodeUnsupportedOutput, "unknown output format")
}

// outputFormat is the format a request asks for: ?output= when given
// (any other value than json, pdf or hocr is returned as it is, and
// refused), else the most preferred of application/json,
// application/pdf and hOCR's text/vnd.hocr+html in the Accept header,
// else json (also for */*, a missing header or only other types).
func outputFormat(r *http.Request) string {
	if v, ok := r.URL.Query()["output"]; ok && len(v) > 0 {
		return strings.ToLower(strings.TrimSpace(v[0]))
	}
	best, bestQ := outputJSON, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		var f string
		switch mt {
		case "application/json":
			f = outputJSON
		case "application/pdf":
			f = outputPDF
		case "text/vnd.hocr+html", "application/vnd.hocr+html":
			f = outputHOCR
		default:
			continue
		}
		if q > 0 && q > bestQ {
			best, bestQ = f, q
		}
	}
	return best
}

// jsonSink answers api.Response: every page, the first page's lines and
// size at the top level, the pages' texts joined by a form feed.
type jsonSink struct {
	pages  []api.Page
	images *charge // non-nil: each page gets its picture (page_images=jpeg), charged here
}

func (s *jsonSink) Page(img *raster.Image, _ float64, p api.Page) error {
	if s.images != nil {
		pic, err := pagePicture(img, s.images)
		if err != nil {
			return err
		}
		p.Image = pic
	}
	s.pages = append(s.pages, p)
	return nil
}

func (s *jsonSink) Finish(w http.ResponseWriter, elapsed time.Duration) error {
	resp := api.Response{Pages: s.pages, Lines: []api.Line{}}
	texts := make([]string, len(s.pages))
	for i, p := range s.pages {
		texts[i] = p.Text
	}
	resp.Text = strings.Join(texts, "\f")
	if len(s.pages) > 0 {
		first := s.pages[0]
		resp.Lines, resp.Width, resp.Height, resp.Angle = first.Lines, first.Width, first.Height, first.Angle
	}
	resp.ElapsedMS = float64(elapsed.Microseconds()) / 1000
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// pagePictureSide is the longer side of a page picture (page_images).
const pagePictureSide = 1600

// pagePicture is img as a data: URL of a JPEG at most pagePictureSide
// pixels on its longer side; the bytes it keeps are taken from mem.
func pagePicture(img *raster.Image, mem *charge) (string, error) {
	if scale := float64(pagePictureSide) / float64(max(img.W, img.H)); scale < 1 {
		img = raster.Resize(img, max(1, int(float64(img.W)*scale)), max(1, int(float64(img.H)*scale)))
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img.ToRGBA(), &jpeg.Options{Quality: 80}); err != nil {
		return "", err
	}
	pic := "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(b.Bytes())
	if err := mem.take(int64(len(pic))); err != nil {
		return "", err
	}
	return pic, nil
}

// pdfSink answers a searchable PDF (render.PDFWriter): each page's image
// with an invisible text layer, encoded as the page comes, so that only
// the encoded pages are held (taken from the request's memory charge as
// they grow).
type pdfSink struct {
	buf bytes.Buffer
	w   *render.PDFWriter
	mem *charge
}

func (s *pdfSink) Page(img *raster.Image, dpi float64, p api.Page) error {
	// The 8-bit copy the encoder reads lives only while the page is
	// written: taken from the budget and given back.
	rgba := int64(img.W) * int64(img.H) * 4
	if err := s.mem.take(rgba); err != nil {
		return err
	}
	defer s.mem.shrink(s.mem.held - rgba)
	before := s.buf.Len()
	if err := s.w.AddPage(render.Page{Page: p, Image: img.ToRGBA(), DPI: dpi}); err != nil {
		return err
	}
	return s.mem.take(int64(s.buf.Len() - before))
}

func (s *pdfSink) Finish(w http.ResponseWriter, _ time.Duration) error {
	if err := s.w.Close(); err != nil {
		return err
	}
	writeBody(w, "application/pdf", s.buf.Bytes())
	return nil
}

// hocrSink answers hOCR (render.HOCRWriter): the pages' lines and words
// with their boxes, as Tesseract writes them.
type hocrSink struct {
	buf bytes.Buffer
	w   *render.HOCRWriter
	mem *charge
}

func (s *hocrSink) Page(_ *raster.Image, dpi float64, p api.Page) error {
	before := s.buf.Len()
	if err := s.w.AddPage(render.Page{Page: p, DPI: dpi}); err != nil {
		return err
	}
	return s.mem.take(int64(s.buf.Len() - before))
}

func (s *hocrSink) Finish(w http.ResponseWriter, _ time.Duration) error {
	if err := s.w.Close(); err != nil {
		return err
	}
	writeBody(w, hocrMediaType, s.buf.Bytes())
	return nil
}

// hocrMediaType is the media type of an hOCR answer: HTML, as Tesseract
// writes it (text/vnd.hocr+html is what a client may ask for in Accept).
const hocrMediaType = "text/html; charset=utf-8"

// writeBody writes a 200 answer of media type ct.
func writeBody(w http.ResponseWriter, ct string, b []byte) {
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
