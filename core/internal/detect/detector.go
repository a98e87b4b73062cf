package detect

import (
	"context"
	"fmt"

	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/preprocess"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// Detector runs the detection model. It is safe for concurrent use.
type Detector struct {
	s         *onnx.Session
	limitSide int
	limitType string
	o         Options
}

// New returns a detector over a loaded session. Pages are resized with
// limitSide and limitType as preprocess.DetSize describes (PaddleOCR's
// det_limit_side_len and det_limit_type); an invalid pair is an error.
func New(s *onnx.Session, limitSide int, limitType string, o Options) (*Detector, error) {
	if _, _, err := preprocess.DetSize(64, 64, limitSide, limitType); err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	return &Detector{s: s, limitSide: limitSide, limitType: limitType, o: o}, nil
}

// Detect returns the text boxes of img in Postprocess's order, in img's
// pixels. It does not modify img.
func (d *Detector) Detect(ctx context.Context, img *raster.Image) ([]Box, error) {
	tensor, rw, rh := preprocess.DetInput(img, d.limitSide, d.limitType)
	if len(tensor) == 0 {
		return nil, fmt.Errorf("detect: empty detection input for a %dx%d image", img.W, img.H)
	}
	out, shape, err := d.s.Run(ctx, tensor, []int64{1, 3, int64(rh), int64(rw)})
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	if len(shape) != 4 || shape[0] != 1 || shape[1] != 1 {
		return nil, fmt.Errorf("detect: unexpected output shape %v", shape)
	}
	return Postprocess(out, int(shape[3]), int(shape[2]), img.W, img.H, d.o), nil
}
