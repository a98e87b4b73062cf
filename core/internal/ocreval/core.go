package ocreval

import (
	"context"
	"fmt"
	"image"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/enginetest"
	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/pipeline"
)

// This file is the only place the harness touches the pipeline's API: a
// rename there is a fix here.

// Core is the core's OCR pipeline as the harness drives it: the models the
// tests use (enginetest.Paths: $SEALOCR_MODELS, $SEALOCR_ORT_LIB, else the
// cache), loaded as the core binary loads them by default.
type Core struct{ e *pipeline.Engine }

// LoadCore loads the models. threads is ONNX Runtime's intra-op threads per
// session (0: its default, as the core binary's default configuration).
func LoadCore(threads int) (*Core, error) {
	dir, lib := enginetest.Paths()
	if err := onnx.Init(lib); err != nil {
		return nil, fmt.Errorf("ocreval: onnx runtime (run `make models`): %w", err)
	}
	e, err := pipeline.Load(pipeline.Config{ModelsDir: dir, Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("ocreval: %w", err)
	}
	if err := e.WarmUp(context.Background()); err != nil {
		e.Close()
		return nil, err
	}
	return &Core{e}, nil
}

// Read decodes one encoded image and reads it in document mode, or in
// line mode (`mode=line`) when line is set, with the request defaults.
func (c *Core) Read(ctx context.Context, data []byte, line bool) ([]Pred, error) {
	img, _, err := decode.Decode(data, decode.Limits{})
	if err != nil {
		return nil, err
	}
	preds, _, err := c.ReadImage(ctx, img, line)
	return preds, err
}

// ReadImage reads a decoded image as Read does, and returns the page's
// orientation as found (the response's angle) too.
func (c *Core) ReadImage(ctx context.Context, img image.Image, line bool) ([]Pred, int, error) {
	o := pipeline.Options{Mode: pipeline.ModeDocument}
	if line {
		o.Mode = pipeline.ModeLine
	}
	res, err := c.e.Run(ctx, img, o)
	if err != nil {
		return nil, 0, err
	}
	preds := make([]Pred, len(res.Lines))
	for i, l := range res.Lines {
		preds[i].Text = l.Text
		for k, p := range l.Box {
			preds[i].Box[k] = [2]float64{float64(p[0]), float64(p[1])}
		}
	}
	return preds, res.Angle, nil
}

// Close releases the models.
func (c *Core) Close() { c.e.Close() }
