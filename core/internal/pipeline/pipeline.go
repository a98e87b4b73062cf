// Package pipeline assembles the OCR stages: preprocess → detect (DB) → crop
// → classify (0/180°) → recognize (CRNN, batched) → CTC decode → reading
// order. It owns the loaded models and knows nothing of HTTP.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/classify"
	"github.com/sealocr/sealocr/core/internal/ctc"
	"github.com/sealocr/sealocr/core/internal/detect"
	"github.com/sealocr/sealocr/core/internal/geom"
	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/order"
	"github.com/sealocr/sealocr/core/internal/preprocess"
	"github.com/sealocr/sealocr/core/internal/recognize"
	"github.com/sealocr/sealocr/models"
)

// Mode selects how an image is read.
type Mode string

// Modes.
const (
	// ModeDocument detects text lines, classifies their angle and recognises
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

	DetLimitSide int    // detection resize limit (960)
	DetLimitType string // "max" (default) or "min"
	Det          detect.Options
	Cls          classify.Options
	Rec          recognize.Options
	DropScore    float64 // lines below this confidence are dropped (0.5)
}

// Engine holds the loaded models. It is safe for concurrent use; callers
// bound concurrency themselves.
type Engine struct {
	cfg    Config
	det    *onnx.Session
	cls    *onnx.Session
	rec    *onnx.Session
	clsr   *classify.Classifier
	recr   *recognize.Recognizer
	models []api.ModelInfo
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
	so := onnx.Options{IntraOpThreads: cfg.Threads}
	if e.det, err = onnx.NewSession(paths[models.RoleDet], so); err != nil {
		return nil, err
	}
	if e.cls, err = onnx.NewSession(paths[models.RoleCls], so); err != nil {
		e.Close()
		return nil, err
	}
	if e.rec, err = onnx.NewSession(paths[models.RoleRec], so); err != nil {
		e.Close()
		return nil, err
	}
	df, err := os.Open(paths[models.RoleDict])
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	dict, err := ctc.LoadDict(df, true)
	df.Close()
	if err != nil {
		e.Close()
		return nil, err
	}
	e.clsr = classify.New(e.cls, cfg.Cls)
	e.recr = recognize.New(e.rec, dict, cfg.Rec)
	return e, nil
}

// Models describes the loaded model files.
func (e *Engine) Models() []api.ModelInfo { return append([]api.ModelInfo(nil), e.models...) }

// Close releases the sessions.
func (e *Engine) Close() {
	for _, s := range []*onnx.Session{e.det, e.cls, e.rec} {
		_ = s.Close()
	}
}

// Options are per-request choices.
type Options struct {
	Mode       Mode
	Classify   *bool              // nil: on in document mode, off in line mode
	Preprocess preprocess.Options // optional normalisation, off by default
	RecBatch   int                // 0: the configured batch size
}

// Timings break a run down by stage.
type Timings struct {
	Preprocess, Detect, Crop, Classify, Recognize time.Duration
	// Model is the time spent inside ONNX Runtime, all stages together.
	Model time.Duration
}

// Result is the OCR of one image.
type Result struct {
	Lines   []api.Line
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

// Run reads one decoded image.
func (e *Engine) Run(ctx context.Context, img image.Image, o Options) (*Result, error) {
	var timer onnx.Timer
	ctx = onnx.WithTimer(ctx, &timer)
	res := &Result{}
	t0 := time.Now()
	src := preprocess.FromImage(img)
	work := preprocess.Apply(src, o.Preprocess)
	sx := float64(src.W) / float64(work.W)
	sy := float64(src.H) / float64(work.H)
	res.Timings.Preprocess = time.Since(t0)

	var boxes []detect.Box
	if o.Mode == ModeLine {
		w, h := float64(work.W), float64(work.H)
		boxes = []detect.Box{{Quad: geom.Quad{{X: 0, Y: 0}, {X: w, Y: 0}, {X: w, Y: h}, {X: 0, Y: h}}, Score: 1}}
	} else {
		t := time.Now()
		var err error
		boxes, err = e.detect(ctx, work)
		if err != nil {
			return nil, err
		}
		res.Timings.Detect = time.Since(t)
	}

	t := time.Now()
	crops := make([]*preprocess.Image, len(boxes))
	for i, b := range boxes {
		if o.Mode == ModeLine {
			crops[i] = work
		} else {
			crops[i] = preprocess.CropQuad(work, b.Quad)
		}
	}
	res.Timings.Crop = time.Since(t)

	doCls := o.Mode != ModeLine
	if o.Classify != nil {
		doCls = *o.Classify
	}
	var flipped []int                // crops the classifier turned by 180°
	var unturned []*preprocess.Image // their original orientation
	if doCls && len(crops) > 0 {
		t = time.Now()
		orig := append([]*preprocess.Image(nil), crops...)
		cls, err := e.clsr.Apply(ctx, crops)
		if err != nil {
			return nil, err
		}
		for i, c := range cls {
			if c.Rotated {
				flipped = append(flipped, i)
				unturned = append(unturned, orig[i])
			}
		}
		res.Timings.Classify = time.Since(t)
	}

	t = time.Now()
	rec := e.recr
	if o.RecBatch > 0 {
		rec = rec.WithBatch(o.RecBatch)
	}
	texts, err := rec.Recognize(ctx, crops)
	if err != nil {
		return nil, err
	}
	// The classifier sees a line squeezed to 192×48 and misjudges very long
	// or light-on-dark lines. A flip is kept only when the recogniser reads
	// the turned line with more confidence than the line as it was.
	if len(flipped) > 0 {
		again, err := rec.Recognize(ctx, unturned)
		if err != nil {
			return nil, err
		}
		for k, i := range flipped {
			if again[k].Confidence > texts[i].Confidence {
				texts[i] = again[k]
			}
		}
	}
	res.Timings.Recognize = time.Since(t)

	for i, b := range boxes {
		r := texts[i]
		if r.Text == "" || (o.Mode != ModeLine && r.Confidence < e.cfg.DropScore) {
			continue
		}
		var box [4]api.Point
		for k, p := range b.Quad {
			box[k] = api.Point{int(p.X*sx + 0.5), int(p.Y*sy + 0.5)}
		}
		res.Lines = append(res.Lines, api.Line{Text: r.Text, Confidence: r.Confidence, Box: box})
	}
	res.Timings.Model = timer.Elapsed()
	return res, nil
}

// detect runs the detection model and returns boxes in reading order.
func (e *Engine) detect(ctx context.Context, img *preprocess.Image) ([]detect.Box, error) {
	tensor, rw, rh := preprocess.DetInput(img, e.cfg.DetLimitSide, e.cfg.DetLimitType)
	if len(tensor) == 0 {
		return nil, fmt.Errorf("detect: empty detection input for a %dx%d image", img.W, img.H)
	}
	out, shape, err := e.det.Run(ctx, tensor, []int64{1, 3, int64(rh), int64(rw)})
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	if len(shape) != 4 || shape[0] != 1 || shape[1] != 1 {
		return nil, fmt.Errorf("detect: unexpected output shape %v", shape)
	}
	boxes := detect.Postprocess(out, int(shape[3]), int(shape[2]), img.W, img.H, e.cfg.Det)
	quads := make([]geom.Quad, len(boxes))
	for i, b := range boxes {
		quads[i] = b.Quad
	}
	perm := order.ReadingOrder(quads)
	sorted := make([]detect.Box, len(boxes))
	for i, j := range perm {
		sorted[i] = boxes[j]
	}
	return sorted, nil
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
