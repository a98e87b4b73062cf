package httpapi

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/raster"
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
// unsupported_output.
func (a *API) newSink(output string) (pageSink, error) {
	switch output {
	case outputJSON:
		return &jsonSink{}, nil
	case outputPDF, outputHOCR:
		return nil, fail(api.CodeUnsupportedOutput, "output format not built in")
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
	pages []api.Page
}

func (s *jsonSink) Page(_ *raster.Image, _ float64, p api.Page) error {
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
