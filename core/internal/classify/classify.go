// Package classify runs the text-line angle classifier: for each cropped line
// it decides between 0° and 180° and gives the line upright, as PaddleOCR's
// TextClassifier does. A Classifier owns its model session, as
// detect.Detector and recognize.Recognizer own theirs.
package classify

import (
	"context"
	"fmt"
	"sort"

	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/preprocess"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// Options tune the classifier; zero values take PaddleOCR's defaults.
type Options struct {
	Height, Width int     // input size (48×192)
	Batch         int     // lines per run (6)
	Thresh        float64 // minimum score to rotate (0.9)
}

func (o Options) withDefaults() Options {
	if o.Height <= 0 {
		o.Height = 48
	}
	if o.Width <= 0 {
		o.Width = 192
	}
	if o.Batch <= 0 {
		o.Batch = 6
	}
	if o.Thresh <= 0 {
		o.Thresh = 0.9
	}
	return o
}

// Classifier runs the angle model. It is safe for concurrent use.
type Classifier struct {
	s *onnx.Session
	o Options
}

// New returns a classifier over a loaded session.
func New(s *onnx.Session, o Options) *Classifier {
	return &Classifier{s: s, o: o.withDefaults()}
}

// Result is the decision for one line.
type Result struct {
	// Upright is the line to read: the crop turned by 180° when Rotated,
	// else the crop itself.
	Upright *raster.Image
	Rotated bool    // the line was found upside down
	Score   float64 // probability of the chosen label
}

// Apply classifies every crop and returns one result per crop, in the order
// given; a crop found upside down gets a turned copy as its Upright image.
// Neither crops nor the images in it are modified. Lines are batched in
// order of aspect ratio.
func (c *Classifier) Apply(ctx context.Context, crops []*raster.Image) ([]Result, error) {
	res := make([]Result, len(crops))
	idx := make([]int, len(crops))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return ratio(crops[idx[a]]) < ratio(crops[idx[b]])
	})
	h, w := c.o.Height, c.o.Width
	per := 3 * h * w
	buf := make([]float32, c.o.Batch*per)
	for start := 0; start < len(idx); start += c.o.Batch {
		end := min(start+c.o.Batch, len(idx))
		n := end - start
		in := buf[:n*per]
		clear(in)
		for k := 0; k < n; k++ {
			preprocess.LineInput(in[k*per:(k+1)*per], crops[idx[start+k]], h, w)
		}
		out, shape, err := c.s.Run(ctx, in, []int64{int64(n), 3, int64(h), int64(w)})
		if err != nil {
			return nil, fmt.Errorf("classify: %w", err)
		}
		if len(shape) != 2 || int(shape[0]) != n || shape[1] != 2 {
			return nil, fmt.Errorf("classify: unexpected output shape %v", shape)
		}
		for k := 0; k < n; k++ {
			p0, p180 := out[2*k], out[2*k+1]
			i := idx[start+k]
			if p180 > p0 && float64(p180) > c.o.Thresh {
				res[i] = Result{Upright: raster.Rotate180(crops[i]), Rotated: true, Score: float64(p180)}
			} else {
				res[i] = Result{Upright: crops[i], Score: float64(max(p0, p180))}
			}
		}
	}
	return res, nil
}

func ratio(m *raster.Image) float64 { return float64(m.W) / float64(max(m.H, 1)) }
