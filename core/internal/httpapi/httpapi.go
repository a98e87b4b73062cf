// Package httpapi serves the core's HTTP API with gorilla/mux: POST /v1/ocr,
// GET /v1/models, /healthz and /readyz; /metrics is a separate handler
// (API.Metrics) for a listener of its own. It parses and bounds the
// request, admits it through a bounded queue, runs the pipeline and writes
// JSON. Client-facing errors are the fixed codes of package api; details go
// to the log, which never receives image bytes or recognized text.
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/document"
	"github.com/sealocr/sealocr/core/internal/pipeline"
	"github.com/sealocr/sealocr/core/internal/preprocess"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// Engine is what the API needs from the pipeline.
type Engine interface {
	RunPage(ctx context.Context, page *raster.Image, o pipeline.Options) (*pipeline.Result, error)
	Models() []api.ModelInfo
}

// Options bound the API.
type Options struct {
	MaxBody     int64         // request body limit in bytes (20 MiB)
	Limits      decode.Limits // pixel limits
	Timeout     time.Duration // per-request deadline, queueing included (30 s)
	Workers     int           // pages recognised at once: requests, and a document's pages on idle workers (1)
	Queue       int           // requests that may wait for a worker (16)
	Logger      *zap.Logger   // nil: no logging
	Registry    *prometheus.Registry
	Ready       func() bool // nil: always ready
	ExtraRoutes func(r *mux.Router)
	// MemoryBudget bounds the bytes that request bodies, decoded images and
	// the pipeline's copies of them hold at once (see the README's memory
	// section); 0 means DefaultMemoryBudget of the other options.
	MemoryBudget int64
	// MaxPages bounds the pages of a document (PDF, multi-page TIFF);
	// 0 means document.DefaultMaxPages.
	MaxPages int
	// PDF renders PDF pages. nil: the API makes one on the first PDF, with
	// one instance per worker, and Close releases it.
	PDF *document.PDFium
}

// Defaults.
const (
	DefaultMaxBody = 20 << 20
	DefaultTimeout = 30 * time.Second
	DefaultQueue   = 16
)

// DefaultMemoryBudget is the budget when none is given: enough for every
// worker to hold the largest image the pixel limit admits (8-bit RGBA, its
// opaque copy, the float32 page and one page's worth of crops) and for
// every worker and queued request to hold a body of the largest size. It
// bounds memory only as the other limits do; set a budget from the memory
// the core really has (the core derives one from GOMEMLIMIT).
func DefaultMemoryBudget(o Options) int64 {
	px := o.Limits.MaxPixels
	if px <= 0 {
		px = decode.DefaultMaxPixels
	}
	return int64(o.Workers)*px*(4+4+12+12) + int64(o.Workers+o.Queue)*o.MaxBody
}

// API is the HTTP handler.
type API struct {
	eng     Engine
	o       Options
	log     *zap.Logger
	router  *mux.Router
	slots   chan struct{}
	waiting atomic.Int64
	mem     *budget
	m       metrics
	ownPDF  bool // o.PDF was made by New, and Close closes it
}

type metrics struct {
	requests *prometheus.CounterVec
	stage    *prometheus.HistogramVec
	inflight prometheus.Gauge
	queued   prometheus.Gauge
	memUsed  prometheus.Gauge
	memTotal prometheus.Gauge
}

// New builds the handler.
func New(eng Engine, o Options) *API {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Queue < 0 {
		o.Queue = 0
	} else if o.Queue == 0 {
		o.Queue = DefaultQueue
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MaxPages <= 0 {
		o.MaxPages = document.DefaultMaxPages
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Ready == nil {
		o.Ready = func() bool { return true }
	}
	a := &API{eng: eng, o: o, log: o.Logger, slots: make(chan struct{}, o.Workers)}
	if a.o.PDF == nil {
		a.o.PDF = document.NewPDFium(document.PDFiumOptions{Instances: o.Workers,
			MemoryLimit: document.MemoryLimitFor(o.Limits.MaxPixels, o.MaxBody)})
		a.ownPDF = true
	}
	a.m = metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sealocr_core_requests_total", Help: "OCR requests by mode and result code.",
		}, []string{"mode", "code"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sealocr_core_stage_seconds", Help: "Time per pipeline stage; stage=model is time inside ONNX Runtime, stage=total the whole request.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"stage"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sealocr_core_inflight", Help: "Pipeline runs in progress."}),
		queued:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "sealocr_core_queued", Help: "Requests waiting for a worker."}),
		memUsed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sealocr_core_memory_reserved_bytes",
			Help: "Bytes of the memory budget that requests hold (bodies, decoded images, pipeline copies)."}),
		memTotal: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sealocr_core_memory_budget_bytes", Help: "The memory budget."}),
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget(o)
		a.o.MemoryBudget = o.MemoryBudget
	}
	a.mem = newBudget(o.MemoryBudget, a.m.memUsed)
	a.m.memTotal.Set(float64(o.MemoryBudget))
	o.Registry.MustRegister(a.m.requests, a.m.stage, a.m.inflight, a.m.queued, a.m.memUsed, a.m.memTotal,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	r := mux.NewRouter()
	r.HandleFunc(api.OCRPath, a.ocr).Methods(http.MethodPost)
	// HEAD wherever GET (RFC 9110 section 9.3.2): net/http drops the body.
	r.HandleFunc(api.ModelsPath, a.modelsHandler).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc(api.HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, api.StatusBody{Status: api.StatusOK})
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc(api.ReadyPath, a.readyz).Methods(http.MethodGet, http.MethodHead)
	if o.ExtraRoutes != nil {
		o.ExtraRoutes(r)
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeError(w, api.CodeNotFound) })
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, api.CodeMethodNotAllowed)
	})
	a.router = r
	return a
}

// Close releases what New started (the PDF renderer it made).
func (a *API) Close() error {
	if a.ownPDF {
		return a.o.PDF.Close()
	}
	return nil
}

// MemoryBudget is the memory budget in bytes (Options.MemoryBudget, or its
// default).
func (a *API) MemoryBudget() int64 { return a.o.MemoryBudget }

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

func (a *API) readyz(w http.ResponseWriter, _ *http.Request) {
	if !a.o.Ready() {
		writeError(w, api.CodeNotReady)
		return
	}
	writeJSON(w, http.StatusOK, api.StatusBody{Status: api.StatusReady})
}

func (a *API) modelsHandler(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, api.ModelsResponse{Models: a.eng.Models()})
}

// requestError carries a fixed code for the client and, for the log, a
// fixed reason: a constant of this package, never text derived from the
// request (a parser's error can quote the bytes it choked on). err is an
// error of the server's own (pipeline, deadline), logged as well; request
// parsing never sets it from a parser.
type requestError struct {
	code   string
	reason string
	err    error
}

func (e *requestError) Error() string { return e.code + ": " + e.reason }

func (e *requestError) Unwrap() error { return e.err }

// fail returns a request error with a fixed reason (a string literal).
func fail(code, reason string) error { return &requestError{code: code, reason: reason} }

func (a *API) ocr(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := api.RequestID(r.Header.Get(api.RequestIDHeader)) // the sidecar sets one on every request it forwards
	w.Header().Set(api.RequestIDHeader, rid)
	mode := "invalid"
	sum, err := a.handleOCR(w, r, rid, start, &mode)
	code := "ok"
	if err != nil {
		var re *requestError
		if !errors.As(err, &re) {
			re = &requestError{code: api.CodeInternal, reason: "pipeline failed", err: err}
		}
		code = re.code
		if re.code == api.CodeBusy {
			w.Header().Set(api.HeaderRetryAfter, "1")
		}
		writeError(w, re.code)
		fields := []zap.Field{zap.String("request_id", rid), zap.String("mode", mode),
			zap.String("code", re.code), zap.String("detail", re.reason),
			zap.Int64("content_length", r.ContentLength), zap.Duration("elapsed", time.Since(start))}
		if re.err != nil {
			// The server's own errors (pipeline, deadline, budget): never
			// built from request bytes.
			fields = append(fields, zap.String("cause", re.err.Error()))
		}
		a.log.Info("ocr request failed", fields...)
	} else {
		a.log.Info("ocr request", zap.String("request_id", rid), zap.String("mode", mode),
			zap.String("format", sum.format), zap.Int("pages", sum.pages), zap.Int("lines", sum.lines),
			zap.Int("width", sum.width), zap.Int("height", sum.height),
			zap.Int64("content_length", r.ContentLength), zap.Duration("elapsed", time.Since(start)))
	}
	a.m.requests.WithLabelValues(mode, code).Inc()
	a.m.stage.WithLabelValues("total").Observe(time.Since(start).Seconds())
}

// summary is what the log line of a served request tells: sizes and
// counts, never content. width and height are the first page's.
type summary struct {
	format        string
	pages, lines  int
	width, height int
}

func (a *API) handleOCR(w http.ResponseWriter, r *http.Request, rid string, start time.Time, modeLabel *string) (summary, error) {
	var sum summary
	q := r.URL.Query()
	mode, err := pipeline.ParseMode(q.Get("mode"))
	if err != nil {
		return sum, fail(api.CodeBadRequest, "unknown mode parameter")
	}
	*modeLabel = string(mode)
	opts := pipeline.Options{Mode: mode}
	if v := q.Get("cls"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return sum, fail(api.CodeBadRequest, "bad cls parameter")
		}
		opts.Classify = &b
	}
	if opts.Preprocess, err = parsePreprocess(q.Get("preprocess")); err != nil {
		return sum, err
	}
	format := outputFormat(r)
	// The answer's bytes (page pictures, the PDF or hOCR being written)
	// are charged here until the answer is written.
	out := &charge{b: a.mem}
	defer out.done()
	sink, err := a.newSink(format, q, out)
	if err != nil {
		return sum, err // refused before the body is read
	}

	ctx, cancel := context.WithTimeout(r.Context(), a.o.Timeout)
	defer cancel()

	// Admission comes before work: the body's bytes are taken from the
	// memory budget before it is read, a worker slot before anything is
	// decoded, and each page's bytes (estimated from its header or its
	// size in points) before it is decoded.
	mem := &charge{b: a.mem}
	defer mem.done()
	body, err := a.readImage(w, r, mem)
	if err != nil {
		return sum, err
	}
	if err := a.acquire(ctx); err != nil {
		return sum, err
	}
	// The memory goes back before the slot: the next request takes the
	// slot and then the memory.
	defer func() { mem.done(); a.release() }()

	t := time.Now()
	if document.IsPDF(body) && !a.o.PDF.Started() {
		// The first PDF compiles PDFium's module: hundreds of MiB of Go
		// heap for a few seconds, taken from the budget like any other
		// memory (at most half of it, so that a small budget can still
		// serve PDFs).
		if err := mem.take(min(document.CompileBytes, a.mem.total/2)); err != nil {
			return sum, err
		}
		err := a.o.PDF.Start()
		runtime.GC()
		mem.shrink(int64(len(body)))
		if err != nil {
			return sum, &requestError{code: api.CodeInternal, reason: "pdf renderer did not start", err: err}
		}
	}
	if document.IsPDF(body) {
		// The document's copy in PDFium's memory and PDFium's own heap,
		// for as long as the document is open.
		if err := mem.take(document.WasmPageExtraBytes(int64(len(body)))); err != nil {
			return sum, err
		}
	}
	doc, err := document.Open(ctx, body, document.Options{Limits: a.o.Limits, MaxPages: a.o.MaxPages, PDF: a.o.PDF})
	if err != nil {
		return sum, documentError(ctx, err, "open", "")
	}
	defer func() { _ = doc.Close() }()
	sum.format = doc.Format()

	// The pages are decoded one after another, each recognised as soon
	// as it is decoded. While pages are being recognised, the next one
	// runs beside them on a worker slot of its own when one is idle and
	// no other request waits for one (the workers nobody else needs read
	// a document's pages at once); else the oldest page is finished
	// first. The sink gets the pages in order.
	pr := &pageRuns{a: a, ctx: ctx, sink: sink, rid: rid, sum: &sum, held: 1}
	defer func() {
		// An early return: stop the pages still running and wait for
		// them, so that their slots and memory go back with the request's.
		cancel()
		pr.abandon()
	}()
	for i := 0; i < doc.Pages(); i++ {
		if ctx.Err() != nil {
			return sum, &requestError{code: api.CodeTimeout, reason: "deadline", err: ctx.Err()}
		}
		if err := pr.makeRoom(); err != nil {
			return sum, err
		}
		if i > 0 {
			t = time.Now() // the decode stage: not the wait for a worker
		}
		plan, err := doc.Plan(ctx, i)
		if err != nil {
			return sum, documentError(ctx, err, "header", doc.Format())
		}
		sum.format = doc.Format()
		pageBytes := pipeline.PageBytes(plan.Width, plan.Height, opts)
		pm := &charge{b: a.mem}
		if err := pr.take(pm, plan.ExtraBytes+pageBytes); err != nil {
			return sum, err
		}
		page, err := doc.Decode(ctx, i)
		if err != nil {
			pm.done()
			return sum, documentError(ctx, err, "decode", doc.Format())
		}
		if i == doc.Pages()-1 {
			// Nothing is left to decode: the document (PDFium's instance
			// with it) is closed, and the body is garbage.
			_ = doc.Close()
			mem.shrink(0)
		}
		// The decoder's images are garbage now: their bytes go back to
		// the budget (GOMEMLIMIT has the collector reclaim them before the
		// heap grows past it).
		pm.shrink(pageBytes)
		a.m.stage.WithLabelValues("decode").Observe(time.Since(t).Seconds())
		pr.start(i, page, plan.DPI, pm, opts)
	}
	for len(pr.running) > 0 {
		if err := pr.finish(); err != nil {
			return sum, err
		}
	}
	return sum, sink.Finish(w, time.Since(start))
}

// pageRuns are the pages of one request being recognised, oldest first.
// Only the request's goroutine calls its methods; each page's run has a
// goroutine of its own.
type pageRuns struct {
	a       *API
	ctx     context.Context
	sink    pageSink
	rid     string
	sum     *summary
	held    int // worker slots the request holds: its own and the extra ones
	running []*pageRun
}

// pageRun is one page being recognised.
type pageRun struct {
	i    int
	page *raster.Image
	dpi  float64
	mem  *charge // the page's bytes and the pipeline's copies of it
	done chan struct{}
	res  *pipeline.Result
	err  error
}

// makeRoom returns when the next page can run: beside the running pages
// on a slot the request holds or an idle one, or after the oldest page is
// finished.
func (p *pageRuns) makeRoom() error {
	for len(p.running) >= p.held {
		if p.a.tryIdle() {
			p.held++
			return nil
		}
		if err := p.finish(); err != nil {
			return err
		}
	}
	return nil
}

// take charges n bytes for the next page to m; when the budget is short
// and pages are running, it finishes them one by one and tries again (a
// budget that holds one page reads the document one page at a time).
func (p *pageRuns) take(m *charge, n int64) error {
	for {
		err := m.take(n)
		var re *requestError
		if err == nil || len(p.running) == 0 || !errors.As(err, &re) || re.code != api.CodeBusy {
			return err
		}
		if err := p.finish(); err != nil {
			return err
		}
	}
}

// start recognises page i on a goroutine of its own; its pipeline copies
// are charged to m.
func (p *pageRuns) start(i int, page *raster.Image, dpi float64, m *charge, opts pipeline.Options) {
	run := &pageRun{i: i, page: page, dpi: dpi, mem: m, done: make(chan struct{})}
	opts.Reserve = m.take
	p.running = append(p.running, run)
	go func() {
		defer close(run.done)
		run.res, run.err = p.a.eng.RunPage(p.ctx, page, opts)
	}()
}

// finish waits for the oldest page, gives its memory back and, when the
// request holds a slot beyond its own, that slot (taken again for the
// next page if it is still idle then), and hands the page to the sink.
func (p *pageRuns) finish() error {
	run := p.running[0]
	p.running[0] = nil // the backing array must not keep the page alive
	p.running = p.running[1:]
	<-run.done
	defer run.release() // the page and the pipeline's copies are garbage after the sink
	if p.held > 1 {
		p.held--
		p.a.release()
	}
	if run.err != nil {
		var re *requestError
		switch {
		case errors.As(run.err, &re):
			return run.err
		case p.ctx.Err() != nil:
			return &requestError{code: api.CodeTimeout, reason: "deadline", err: run.err}
		}
		return run.err
	}
	a, res, page := p.a, run.res, run.page
	tm := res.Timings
	for name, d := range map[string]time.Duration{"preprocess": tm.Preprocess, "detect": tm.Detect,
		"crop": tm.Crop, "classify": tm.Classify, "recognize": tm.Recognize, "order": tm.Order, "model": tm.Model} {
		a.m.stage.WithLabelValues(name).Observe(d.Seconds())
	}
	lines := res.Lines
	if lines == nil {
		lines = []api.Line{}
	}
	pg := api.Page{Page: run.i + 1, Width: page.W, Height: page.H, Angle: res.Angle, Text: res.Text(), Lines: lines}
	if run.i == 0 {
		p.sum.width, p.sum.height = page.W, page.H
	}
	p.sum.pages++
	p.sum.lines += len(lines)
	// Each page's figures for an operator at debug level: sizes,
	// counts and stage times, never text.
	a.log.Debug("page read", zap.String("request_id", p.rid), zap.Int("page", run.i+1),
		zap.Int("width", page.W), zap.Int("height", page.H), zap.Int("angle", res.Angle),
		zap.Int("line_count", len(lines)), zap.Float64("dpi", run.dpi),
		zap.Duration("detect", tm.Detect), zap.Duration("recognize", tm.Recognize), zap.Duration("model", tm.Model))
	return p.sink.Page(page, run.dpi, pg)
}

// release drops the page and its result, and gives back their memory:
// nothing may hold them when the charge's collection runs (see
// charge.done), or the next page's bytes land on top of them.
func (run *pageRun) release() {
	run.page, run.res = nil, nil
	run.mem.done()
}

// abandon waits for the pages still running (their context is done) and
// gives back their memory and the extra slots.
func (p *pageRuns) abandon() {
	for i, run := range p.running {
		<-run.done
		p.running[i] = nil
		run.release()
	}
	p.running = nil
	for ; p.held > 1; p.held-- {
		p.a.release()
	}
}

// documentError maps an error of package document or decode to a request
// error with a fixed reason (what failed and where, never the parser's
// text).
func documentError(ctx context.Context, err error, stage, format string) error {
	switch {
	case errors.Is(err, decode.ErrTooManyPixels):
		return fail(api.CodeTooManyPixels, "pixel limit")
	case errors.Is(err, document.ErrTooManyPages), errors.Is(err, decode.ErrTooManyPages):
		return fail(api.CodeTooManyPages, "page limit")
	case errors.Is(err, document.ErrEncrypted):
		return fail(api.CodeEncryptedDocument, "encrypted pdf")
	case errors.Is(err, document.ErrMalformed):
		return fail(api.CodeMalformedDocument, "malformed pdf at "+stage)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return &requestError{code: api.CodeTimeout, reason: "deadline", err: context.DeadlineExceeded}
	case errors.Is(err, decode.ErrNotImage):
		if stage == "decode" {
			return fail(api.CodeNotAnImage, "corrupt or truncated "+formatName(format))
		}
		return fail(api.CodeNotAnImage, "unknown format or bad header")
	}
	// The renderer's own failure (it could not start): a server error.
	return &requestError{code: api.CodeInternal, reason: "document " + stage, err: err}
}

// formatName is the format for a log line: one of the registered names,
// or "image".
func formatName(f string) string {
	switch f {
	case "png", "jpeg", "gif", "bmp", "tiff", "webp":
		return f
	}
	return "image"
}

// acquire waits for a worker slot, refusing when the queue is full.
func (a *API) acquire(ctx context.Context) error {
	select {
	case a.slots <- struct{}{}:
		a.m.inflight.Inc()
		return nil
	default:
	}
	if a.waiting.Add(1) > int64(a.o.Queue) {
		a.waiting.Add(-1)
		return fail(api.CodeBusy, "queue full")
	}
	a.m.queued.Inc()
	defer func() { a.waiting.Add(-1); a.m.queued.Dec() }()
	select {
	case a.slots <- struct{}{}:
		a.m.inflight.Inc()
		return nil
	case <-ctx.Done():
		// Never processed: the server was too busy, and the client may
		// come back (busy carries Retry-After), unlike a request that
		// ran out of time while being recognised.
		return fail(api.CodeBusy, "no worker within the deadline")
	}
}

// tryIdle takes a worker slot for another page of a running request when
// one is idle and no request waits for one.
func (a *API) tryIdle() bool {
	if a.waiting.Load() > 0 {
		return false
	}
	select {
	case a.slots <- struct{}{}:
		a.m.inflight.Inc()
		return true
	default:
		return false
	}
}

func (a *API) release() {
	<-a.slots
	a.m.inflight.Dec()
}

func parsePreprocess(s string) (preprocess.Options, error) {
	var o preprocess.Options
	if s == "" {
		return o, nil
	}
	for _, p := range strings.Split(s, ",") {
		switch strings.TrimSpace(p) {
		case "grayscale":
			o.Grayscale = true
		case "contrast":
			o.AutoContrast = true
		case "upscale":
			o.MinSide = 640
		case "none", "":
		default:
			return o, fail(api.CodeBadRequest, "unknown preprocess option")
		}
	}
	return o, nil
}

// readImage returns the image bytes from a raw, multipart or JSON body. It
// takes the body's size from the memory budget first: the declared length
// (twice for JSON, which holds the text and the decoded bytes), or the body
// limit when none is declared, and gives back the excess once it is read.
func (a *API) readImage(w http.ResponseWriter, r *http.Request, mem *charge) ([]byte, error) {
	if r.ContentLength > a.o.MaxBody {
		return nil, fail(api.CodeTooLarge, "content-length over the limit")
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.o.MaxBody)
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" {
		mt, err = "application/octet-stream", nil
	}
	if err != nil {
		return nil, fail(api.CodeUnsupportedMedia, "malformed content type")
	}
	size := r.ContentLength
	if size < 0 {
		size = a.o.MaxBody
	}
	if mt == "application/json" {
		size *= 2
	}
	var read func() ([]byte, error)
	switch {
	case mt == "application/json":
		read = func() ([]byte, error) { return a.readJSON(r.Body) }
	case mt == "multipart/form-data":
		read = func() ([]byte, error) { return a.readMultipart(r, params["boundary"]) }
	case acceptedType(mt):
		read = func() ([]byte, error) { return readAll(r.Body) }
	default:
		return nil, fail(api.CodeUnsupportedMedia, "unsupported content type")
	}
	if err := mem.take(size); err != nil {
		return nil, err
	}
	b, err := read()
	if err != nil {
		return nil, err
	}
	mem.shrink(int64(len(b)))
	return b, nil
}

// acceptedType reports whether a body (or the image part) of media type
// mt is read: an image type, PDF, or unlabelled bytes (the format is
// sniffed from the bytes in any case).
func acceptedType(mt string) bool {
	return mt == "application/octet-stream" || mt == document.MediaType || decode.MediaTypes[mt] != ""
}

func readAll(rd io.Reader) ([]byte, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fail(api.CodeTooLarge, "body over the limit")
		}
		return nil, fail(api.CodeBadRequest, "body read failed")
	}
	if len(b) == 0 {
		return nil, fail(api.CodeNotAnImage, "empty body")
	}
	return b, nil
}

func (a *API) readJSON(rd io.Reader) ([]byte, error) {
	raw, err := readAll(rd)
	if err != nil {
		return nil, err
	}
	var req struct {
		Image string `json:"image"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, fail(api.CodeBadRequest, "invalid JSON body")
	}
	s := req.Image
	if i := strings.Index(s, ";base64,"); strings.HasPrefix(s, "data:") && i > 0 {
		s = s[i+len(";base64,"):]
	}
	if s == "" {
		return nil, fail(api.CodeBadRequest, "missing image field")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, fail(api.CodeBadRequest, "image field is not base64")
		}
	}
	return b, nil
}

// readMultipart streams the parts and keeps only the one named "image", in
// memory: unlike ParseMultipartForm it never spills to a temporary file.
// Its log reasons are fixed: mime/multipart's errors quote the header line
// they could not parse.
func (a *API) readMultipart(r *http.Request, boundary string) ([]byte, error) {
	if boundary == "" {
		return nil, fail(api.CodeBadRequest, "multipart without boundary")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fail(api.CodeBadRequest, "multipart reader")
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, fail(api.CodeBadRequest, "no image field in multipart body")
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, fail(api.CodeTooLarge, "body over the limit")
			}
			return nil, fail(api.CodeBadRequest, "malformed multipart part")
		}
		if p.FormName() != "image" {
			if _, err := io.Copy(io.Discard, p); err != nil {
				return nil, fail(api.CodeTooLarge, "body over the limit")
			}
			continue
		}
		if pt := p.Header.Get("Content-Type"); pt != "" {
			mt, _, _ := mime.ParseMediaType(pt)
			if !acceptedType(mt) {
				return nil, fail(api.CodeUnsupportedMedia, "unsupported part content type")
			}
		}
		return readAll(p)
	}
}

func writeError(w http.ResponseWriter, code string) {
	status, body := api.ErrorFor(code)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Metrics returns the Prometheus handler of the API's registry. It is not
// a route of the API: the core serves it on a listener of its own
// (--metrics-listen), so that nothing that reaches the API port, such as a
// request forwarded by the sidecar, can read it.
func (a *API) Metrics() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.o.Registry, promhttp.HandlerOpts{}))
	return mux
}
