// Package pipeline assembles the OCR stages, one package each:
//
//	decode     bytes → image, bounded (package decode; done by the caller,
//	           Run takes the decoded image and converts it with raster.FromImage)
//	preprocess optional normalisation of the page (package preprocess)
//	detect     DB text boxes (package detect; skipped in line mode)
//	crop       each box cut out and straightened (package crop)
//	classify   0/180° angle of each line (package classify)
//	orient     the page's orientation from the boxes' aspect and the lines'
//	           angles; a turned page is turned upright, its boxes mapped,
//	           cropped and classified again (orient.go)
//	order      the boxes in reading order on the upright page (package order)
//	recognize  CRNN, batched, with CTC decoding (packages recognize, ctc)
//
// then the lines are kept or dropped by confidence. Engine.Run calls them
// in that order; no stage modifies its input. Reading order comes before
// recognition, as PaddleOCR sorts its boxes before it: the recognizer
// batches lines by aspect ratio, ties in the order given, and a line's
// padding and so its confidence depend on its batch. The package loads the models,
// hands each model stage its session, and knows nothing of HTTP.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/classify"
	"github.com/sealocr/sealocr/core/internal/crop"
	"github.com/sealocr/sealocr/core/internal/ctc"
	"github.com/sealocr/sealocr/core/internal/detect"
	"github.com/sealocr/sealocr/core/internal/geom"
	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/preprocess"
	"github.com/sealocr/sealocr/core/internal/raster"
	"github.com/sealocr/sealocr/core/internal/recognize"
	"github.com/sealocr/sealocr/models"
)

// Mode selects how an image is read.
type Mode string

// Modes.
const (
	// ModeDocument detects text lines, classifies their angle and recognizes
	// each (the default).
	ModeDocument Mode = "document"
	// ModeLine treats the whole image as one text line: recognition only.
	ModeLine Mode = "line"
)

// ParseMode accepts "" (document), "document" and "line".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", string(ModeDocument):
		return ModeDocument, nil
	case string(ModeLine):
		return ModeLine, nil
	}
	return "", fmt.Errorf("pipeline: unknown mode")
}

// Config says where the models are and how to run them.
type Config struct {
	ModelsDir string // folder with the model files named in the manifest
	Threads   int    // intra-op threads per ONNX session (0: one per core)
	// Session tunes every ONNX Runtime session further; its IntraOpThreads
	// is replaced by Threads.
	Session onnx.Options

	DetLimitSide int    // detection resize limit (960)
	DetLimitType string // "max" (default) or "min"
	Det          detect.Options
	Cls          classify.Options
	Rec          recognize.Options
	DropScore    float64 // lines below this confidence are dropped (0.5)
	// LineWholeImage reads the whole image as the line in line mode, as
	// before the text's extent was found first (see Engine.Run).
	LineWholeImage bool
}

// Engine holds the loaded models, each owned by its stage. It is safe for
// concurrent use; callers bound concurrency themselves.
type Engine struct {
	cfg      Config
	sessions []*onnx.Session // closed by Close
	det      *detect.Detector
	cls      *classify.Classifier
	rec      *recognize.Recognizer
	models   []api.ModelInfo
}

// Load verifies every model file against the pinned manifest and loads it.
// onnx.Init must have been called.
func Load(cfg Config) (*Engine, error) {
	if cfg.DetLimitSide <= 0 {
		cfg.DetLimitSide = 960
	}
	if cfg.DetLimitType == "" {
		cfg.DetLimitType = "max"
	}
	if _, _, err := preprocess.DetSize(64, 64, cfg.DetLimitSide, cfg.DetLimitType); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if cfg.Det == (detect.Options{}) {
		cfg.Det = detect.DefaultOptions()
	}
	if cfg.DropScore == 0 {
		cfg.DropScore = 0.5
	}
	man, err := models.Load()
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg}
	paths := map[string]string{}
	var errs []error
	for _, role := range []string{models.RoleDet, models.RoleCls, models.RoleRec, models.RoleDict} {
		f, ok := man.ByRole(role)
		if !ok {
			return nil, fmt.Errorf("pipeline: manifest has no %s file", role)
		}
		p := filepath.Join(cfg.ModelsDir, filepath.Base(f.Dest))
		if err := models.VerifyFile(p, f.SHA256); err != nil {
			errs = append(errs, err)
			continue
		}
		paths[role] = p
		e.models = append(e.models, api.ModelInfo{Role: role, Name: filepath.Base(f.Dest), Version: f.ModelVersion, SHA256: f.SHA256})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pipeline: models (run `make models`): %w", err)
	}
	so := cfg.Session
	so.IntraOpThreads = cfg.Threads
	session := func(role string) (*onnx.Session, error) {
		s, err := onnx.NewSession(paths[role], so)
		if err != nil {
			return nil, err
		}
		e.sessions = append(e.sessions, s)
		return s, nil
	}
	fail := func(err error) (*Engine, error) {
		e.Close()
		return nil, err
	}
	det, err := session(models.RoleDet)
	if err != nil {
		return fail(err)
	}
	if e.det, err = detect.New(det, cfg.DetLimitSide, cfg.DetLimitType, cfg.Det); err != nil {
		return fail(fmt.Errorf("pipeline: %w", err))
	}
	cls, err := session(models.RoleCls)
	if err != nil {
		return fail(err)
	}
	e.cls = classify.New(cls, cfg.Cls)
	rec, err := session(models.RoleRec)
	if err != nil {
		return fail(err)
	}
	df, err := os.Open(paths[models.RoleDict])
	if err != nil {
		return fail(fmt.Errorf("pipeline: %w", err))
	}
	dict, err := ctc.LoadDict(df, true)
	df.Close()
	if err != nil {
		return fail(err)
	}
	e.rec = recognize.New(rec, dict, recOptions(cfg.Threads, cfg.Rec))
	return e, nil
}

// recOptions are the recognizer's options for sessions of threads
// intra-op threads: with one thread, a line per run unless o says
// otherwise. A batch pads its lines to the widest and buys parallelism
// inside a run that one thread cannot use; on one thread, reading each
// line alone took 17% less recognition time on make bench-docs' pages,
// with the same text.
func recOptions(threads int, o recognize.Options) recognize.Options {
	if threads == 1 && o.Batch == 0 {
		o.Batch = 1
	}
	return o
}

// Models describes the loaded model files.
func (e *Engine) Models() []api.ModelInfo { return append([]api.ModelInfo(nil), e.models...) }

// Close releases the sessions.
func (e *Engine) Close() {
	for _, s := range e.sessions {
		_ = s.Close()
	}
}

// Options are per-request choices.
type Options struct {
	Mode       Mode
	Classify   *bool              // nil: on in document mode, off in line mode
	Preprocess preprocess.Options // optional normalisation, off by default
	RecBatch   int                // 0: the configured batch size
	// Reserve, if set, is called before the stages whose memory depends on
	// what detection found, with the bytes they will hold (see
	// StageBytes); an error stops the run and is returned as it is. The
	// caller counts the page itself beforehand (PageBytes).
	Reserve func(bytes int64) error
}

// rasterBytes is the size of a w×h raster.Image.
func rasterBytes(w, h int) int64 { return int64(w) * int64(h) * 3 * 4 }

// PageBytes is the most memory Run holds for a w×h image before detection,
// besides the decoded image itself: the float32 raster of the image, and a
// copy for each preprocess step that changes it (grayscale, contrast, and a
// resize to the size the options ask for).
func PageBytes(w, h int, o Options) int64 {
	n := rasterBytes(w, h)
	if o.Preprocess.Grayscale {
		n += rasterBytes(w, h)
	}
	if o.Preprocess.AutoContrast {
		n += rasterBytes(w, h)
	}
	if pw, ph := preprocess.Size(w, h, o.Preprocess); pw != w || ph != h {
		n += rasterBytes(pw, ph)
	}
	return n
}

// reserve calls o.Reserve, if set.
func (o Options) reserve(n int64) error {
	if o.Reserve == nil || n <= 0 {
		return nil
	}
	return o.Reserve(n)
}

// linePadBytes is the padded copy of a w×h page that line mode detects on
// (see lineBox).
func linePadBytes(w, h int) int64 {
	m := max(h/2, 8)
	return rasterBytes(w+2*m, h+2*m)
}

// cropBytes is what the crops of boxes hold, twice when the classifier may
// turn each into a copy.
func cropBytes(boxes []geom.Quad, classify bool) int64 {
	var n int64
	for _, q := range boxes {
		w, h := crop.Size(q)
		n += rasterBytes(w, h)
	}
	if classify {
		n *= 2
	}
	return n
}

// Timings break a run down by stage.
type Timings struct {
	Preprocess, Detect, Crop, Classify, Recognize, Order time.Duration
	// Model is the time spent inside ONNX Runtime, all stages together.
	Model time.Duration
}

// Result is the OCR of one image.
type Result struct {
	Lines []api.Line
	// Angle is the page's orientation as found (document mode with the
	// classifier on): the image as sent is the upright page turned
	// clockwise by 0, 90, 180 or 270 degrees. Lines are read upright and
	// in reading order; their boxes are in the image as sent.
	Angle   int
	Timings Timings
}

// Text joins the lines in reading order with "\n".
func (r *Result) Text() string {
	parts := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		parts[i] = l.Text
	}
	return strings.Join(parts, "\n")
}

// Run reads one decoded image through the stages in the order the package
// documentation lists them, and times each.
func (e *Engine) Run(ctx context.Context, img image.Image, o Options) (*Result, error) {
	return e.RunPage(ctx, raster.FromImage(img), o)
}

// RunPage is Run on an image already converted to a raster (as
// decode.DecodePage returns it); it does not modify src.
func (e *Engine) RunPage(ctx context.Context, src *raster.Image, o Options) (*Result, error) {
	var timer onnx.Timer
	ctx = onnx.WithTimer(ctx, &timer)
	res := &Result{}
	tm := &res.Timings
	last := time.Now()
	lap := func(d *time.Duration) {
		now := time.Now()
		*d, last = now.Sub(last), now
	}

	page := preprocess.Apply(src, o.Preprocess)
	lap(&tm.Preprocess)

	boxes, err := e.detect(ctx, page, o)
	if err != nil {
		return nil, err
	}
	lap(&tm.Detect)

	// Orientation, crop and classification: the page is turned upright
	// when its boxes and lines say so (see orient), and the boxes put in
	// reading order on the upright page. Every page and crop it makes is
	// charged to the request's memory budget first (Options.Reserve).
	up, err := e.orient(ctx, page, boxes, o, tm)
	if err != nil {
		return nil, err
	}
	last = time.Now()

	texts, err := e.recognize(ctx, up.crops, up.turns, o.RecBatch, o.Mode)
	if err != nil {
		return nil, err
	}
	lap(&tm.Recognize)

	res.Angle = up.turn.degrees()
	res.Lines = e.lines(up, page, texts, o.Mode, float64(src.W)/float64(page.W), float64(src.H)/float64(page.H))
	tm.Model = timer.Elapsed()
	return res, nil
}

// detect returns the text boxes of page, or in line mode one box: the
// line's extent (see lineBox).
func (e *Engine) detect(ctx context.Context, page *raster.Image, o Options) ([]geom.Quad, error) {
	if o.Mode == ModeLine {
		q, err := e.lineBox(ctx, page, o)
		if err != nil {
			return nil, err
		}
		return []geom.Quad{q}, nil
	}
	boxes, err := e.det.Detect(ctx, page)
	if err != nil {
		return nil, err
	}
	quads := make([]geom.Quad, len(boxes))
	for i, b := range boxes {
		quads[i] = b.Quad
	}
	return quads, nil
}

// Margins added to the line found in line mode, as fractions of its height
// (see lineBox): measured on the English and mixed line sets, they took
// exact English lines from 54% to 78% with the recognizer's end padding.
const (
	lineEndMargin  = 0.3
	lineSideMargin = 0.2
)

// lineBox finds the extent of the one line of text a line-mode image
// holds: the detector runs on the image with a margin of its background
// colour around it (so that text touching the edges is found too), and the
// line is the smallest rotated rectangle around every box found, so a
// slightly rotated line is straightened by the crop, and widened by
// lineEndMargin and lineSideMargin of its height. The box is kept
// inside the image. Without any box found, with a box spanning at least
// 90% of the width and 60% of the height (a tight crop already), or with
// Config.LineWholeImage, the line is the whole image.
func (e *Engine) lineBox(ctx context.Context, page *raster.Image, o Options) (geom.Quad, error) {
	w, h := float64(page.W), float64(page.H)
	whole := geom.Quad{{X: 0, Y: 0}, {X: w, Y: 0}, {X: w, Y: h}, {X: 0, Y: h}}
	if e.cfg.LineWholeImage {
		return whole, nil
	}
	if err := o.reserve(linePadBytes(page.W, page.H)); err != nil {
		return geom.Quad{}, err
	}
	m := max(page.H/2, 8)
	boxes, err := e.det.Detect(ctx, raster.Pad(page, m))
	if err != nil {
		return geom.Quad{}, err
	}
	var pts []geom.Point
	for _, b := range boxes {
		for _, p := range b.Quad {
			pts = append(pts, geom.Point{X: p.X - float64(m), Y: p.Y - float64(m)})
		}
	}
	if len(pts) == 0 {
		return whole, nil
	}
	// Detection boxes hug the glyphs' bodies: a final period, a comma's
	// tail or a descender can fall outside. Widen the line by lineEndMargin
	// of its height at each end and lineSideMargin above and below.
	rr := geom.MinAreaRect(pts)
	short := math.Min(rr.W, rr.H)
	dl, ds := 2*lineEndMargin*short, 2*lineSideMargin*short
	if rr.W >= rr.H {
		rr.W, rr.H = rr.W+dl, rr.H+ds
	} else {
		rr.W, rr.H = rr.W+ds, rr.H+dl
	}
	q := geom.OrderClockwise(rr.Points())
	for i := range q {
		q[i].X = min(max(q[i].X, 0), w)
		q[i].Y = min(max(q[i].Y, 0), h)
	}
	// A box this close to the whole image means the image is already a
	// tight crop of the line: read all of it, as before, rather than cut
	// into the ascenders and descenders.
	if cw, ch := crop.Size(q); cw < 2 || ch < 2 || (float64(cw) >= 0.9*w && float64(ch) >= 0.6*h) {
		return whole, nil
	}
	return q, nil
}

// crop cuts every box out of page, in document mode with its margins
// (cropQuads); in line mode without a box found, the page is the line.
func (e *Engine) crop(page *raster.Image, boxes []geom.Quad, mode Mode) []*raster.Image {
	if mode == ModeLine && len(boxes) == 1 {
		w, h := float64(page.W), float64(page.H)
		if boxes[0] == (geom.Quad{{X: 0, Y: 0}, {X: w, Y: 0}, {X: w, Y: h}, {X: 0, Y: h}}) {
			return []*raster.Image{page}
		}
	}
	return crop.Quads(page, cropQuads(page, boxes, mode))
}

// cropQuads returns the quads cut out of page for boxes: in document mode
// the boxes widened by widenBoxes; in line mode the line's box, which
// lineBox widened already.
func cropQuads(page *raster.Image, boxes []geom.Quad, mode Mode) []geom.Quad {
	if mode == ModeLine {
		return boxes
	}
	return widenBoxes(boxes, float64(page.W), float64(page.H))
}

// classify returns each crop's angle decision, or nil when the request
// leaves the classifier off (by default in line mode).
func (e *Engine) classify(ctx context.Context, crops []*raster.Image, o Options) ([]classify.Result, error) {
	if !o.classifies() || len(crops) == 0 {
		return nil, nil
	}
	return e.cls.Apply(ctx, crops)
}

// classifies reports whether the classifier runs: by default in document
// mode only.
func (o Options) classifies() bool {
	if o.Classify != nil {
		return *o.Classify
	}
	return o.Mode != ModeLine
}

// recognize reads every crop, upright as the classifier turned it; only in
// line mode with the recognizer's end padding (recognize.Options.EndPad). The
// classifier sees a line squeezed to 192×48 and misjudges very long or
// light-on-dark lines, so a turned line is also read as it was cropped, and
// the turn is kept only when the turned line reads with more confidence.
func (e *Engine) recognize(ctx context.Context, crops []*raster.Image, turns []classify.Result, batch int, mode Mode) ([]ctc.Result, error) {
	rec := e.rec
	if batch > 0 {
		rec = rec.WithBatch(batch)
	}
	if mode != ModeLine {
		// Detection's boxes already reach past the glyphs; padding them
		// lost lone digits of a table's cells on the generated receipts.
		rec = rec.WithEndPad(-1)
	}
	lines := crops
	var turned []int             // crops the classifier turned by 180°
	var unturned []*raster.Image // those crops as they were
	if turns != nil {
		lines = make([]*raster.Image, len(crops))
		for i, t := range turns {
			lines[i] = t.Upright
			if t.Rotated {
				turned = append(turned, i)
				unturned = append(unturned, crops[i])
			}
		}
	}
	texts, err := rec.Recognize(ctx, lines)
	if err != nil {
		return nil, err
	}
	if len(turned) == 0 {
		return texts, nil
	}
	again, err := rec.Recognize(ctx, unturned)
	if err != nil {
		return nil, err
	}
	for k, i := range turned {
		if again[k].Confidence > texts[i].Confidence {
			texts[i] = again[k]
		}
	}
	return texts, nil
}

// lines drops the lines read as empty or (in document mode) below the
// configured confidence, and maps the boxes of the others from the upright
// page back to page as sent, then scales them by sx, sy from the
// preprocessed page back to the source image.
func (e *Engine) lines(up oriented, page *raster.Image, texts []ctc.Result, mode Mode, sx, sy float64) []api.Line {
	var lines []api.Line
	w, h := float64(page.W), float64(page.H)
	for i, r := range texts {
		if r.Text == "" || (mode != ModeLine && r.Confidence < e.cfg.DropScore) {
			continue
		}
		var box [4]api.Point
		for k, p := range up.boxes[i] {
			p = up.turn.fromUpright(p, w, h)
			box[k] = api.Point{int(p.X*sx + 0.5), int(p.Y*sy + 0.5)}
		}
		lines = append(lines, api.Line{Text: r.Text, Confidence: r.Confidence, Box: box})
	}
	return lines
}

// WarmUp runs one synthetic page through every model, so the first real
// request does not pay for ONNX Runtime's lazy initialisation.
func (e *Engine) WarmUp(ctx context.Context) error {
	img := image.NewGray(image.Rect(0, 0, 320, 96))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := 36; y < 60; y++ { // a dark bar reads as a text line
		for x := 40; x < 280; x++ {
			if (x/12)%2 == 0 {
				img.Pix[y*img.Stride+x] = 0
			}
		}
	}
	on := true
	_, err := e.Run(ctx, img, Options{Mode: ModeDocument, Classify: &on})
	if err != nil {
		return fmt.Errorf("pipeline: warm-up: %w", err)
	}
	_, err = e.Run(ctx, img, Options{Mode: ModeLine, Classify: &on})
	if err != nil {
		return fmt.Errorf("pipeline: warm-up: %w", err)
	}
	return nil
}
