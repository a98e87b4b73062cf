// Package recognize runs the CRNN-family text recognizer (convolutional
// features, a sequence model, a CTC head) over cropped text lines, in batches
// of lines sorted by aspect ratio so that padding stays small, and decodes
// its output with CTC (package ctc). A Recognizer owns its model session, as
// detect.Detector and classify.Classifier own theirs.
package recognize

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/sealocr/sealocr/core/internal/ctc"
	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/preprocess"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// Options tune the recognizer; zero values take PaddleOCR's PP-OCRv4
// defaults.
type Options struct {
	Height    int // input height (48)
	BaseWidth int // minimum batch width (320)
	MaxWidth  int // cap on the batch width, bounding memory per run (3200)
	Batch     int // lines per run (6); 1 disables batching
}

func (o Options) withDefaults() Options {
	if o.Height <= 0 {
		o.Height = 48
	}
	if o.BaseWidth <= 0 {
		o.BaseWidth = 320
	}
	if o.MaxWidth <= 0 {
		o.MaxWidth = 3200
	}
	if o.Batch <= 0 {
		o.Batch = 6
	}
	return o
}

// Recognizer runs the recognition model and decodes its output with its
// dictionary. It is safe for concurrent use.
type Recognizer struct {
	s    *onnx.Session
	dict *ctc.Dict
	o    Options
}

// New returns a recognizer over a loaded session.
func New(s *onnx.Session, dict *ctc.Dict, o Options) *Recognizer {
	return &Recognizer{s: s, dict: dict, o: o.withDefaults()}
}

// WithBatch returns a copy that runs batch lines at a time.
func (r *Recognizer) WithBatch(batch int) *Recognizer {
	c := *r
	c.o.Batch = max(batch, 1)
	return &c
}

// Recognize returns one result per crop, in the order given. It does not
// modify crops.
func (r *Recognizer) Recognize(ctx context.Context, crops []*raster.Image) ([]ctc.Result, error) {
	res := make([]ctc.Result, len(crops))
	idx := make([]int, len(crops))
	for i := range idx {
		idx[i] = i
	}
	ratio := func(i int) float64 { return float64(crops[i].W) / float64(max(crops[i].H, 1)) }
	sort.SliceStable(idx, func(a, b int) bool { return ratio(idx[a]) < ratio(idx[b]) })
	h := r.o.Height
	var buf []float32
	for start := 0; start < len(idx); start += r.o.Batch {
		end := min(start+r.o.Batch, len(idx))
		n := end - start
		maxRatio := float64(r.o.BaseWidth) / float64(h)
		for _, i := range idx[start:end] {
			maxRatio = math.Max(maxRatio, ratio(i))
		}
		w := min(int(float64(h)*maxRatio), r.o.MaxWidth)
		per := 3 * h * w
		if cap(buf) < n*per {
			buf = make([]float32, n*per)
		}
		in := buf[:n*per]
		clear(in)
		for k, i := range idx[start:end] {
			preprocess.LineInput(in[k*per:(k+1)*per], crops[i], h, w)
		}
		out, shape, err := r.s.Run(ctx, in, []int64{int64(n), 3, int64(h), int64(w)})
		if err != nil {
			return nil, fmt.Errorf("recognize: %w", err)
		}
		dec, err := r.dict.DecodeBatch(out, shape)
		if err != nil {
			return nil, fmt.Errorf("recognize: %w", err)
		}
		for k, i := range idx[start:end] {
			res[i] = dec[k]
		}
	}
	return res, nil
}
