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
	"slices"
	"sort"
	"strings"

	"github.com/sealocr/sealocr/core/internal/ctc"
	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/preprocess"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// Options tune the recognizer; zero values take the defaults in brackets.
type Options struct {
	Height   int // input height (48)
	MaxWidth int // cap on the batch width, bounding memory per run (3200)
	Batch    int // lines per run (6); 1 disables batching

	// PaddleWidths batches as PaddleOCR does: every line of a batch is
	// padded to the widest of the batch and to at least BaseWidth. Off by
	// default: each line is read at its own width (see Recognize).
	PaddleWidths bool
	BaseWidth    int // PaddleWidths only: minimum batch width (320)
	// WidthSpread bounds how much wider than the narrowest line of a batch
	// its widest may be, as a fraction (0.15); lines beyond start a new
	// batch. Not with PaddleWidths.
	WidthSpread float64

	// InkGap inserts a space between two characters where the line image
	// has no ink over more than this fraction of the height of its ink
	// (0.3; negative: never). PP-OCRv4 drops most spaces between words on
	// the tight crops detection makes; see inkSpaces.
	InkGap float64

	// EndPad adds this fraction of a line's height of its background
	// colour at both ends before it is read (0.3; negative: none): on a
	// crop ending right at its last glyph the model drops a final period
	// or comma.
	EndPad float64
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
	if o.WidthSpread <= 0 {
		o.WidthSpread = 0.15
	}
	if o.InkGap == 0 {
		o.InkGap = 0.3
	}
	if o.EndPad == 0 {
		o.EndPad = 0.3
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

// WithEndPad returns a copy that pads lines by pad of their height at both
// ends (negative: none); see Options.EndPad.
func (r *Recognizer) WithEndPad(pad float64) *Recognizer {
	c := *r
	c.o.EndPad = pad
	return &c
}

// letterO returns r with a 0 read as the letter O where the model found
// both likely and the 0 ends a run of Latin letters ("P0-73688" →
// "PO-73688"; not inside a code such as a BIC's "3P0HB", nor before a
// digit): PP-OCRv4's Chinese model reads a capital O after a letter as a
// zero more often than not. The O must have had at least letterORatio of
// the 0's probability at one of the 0's steps.
func (r *Recognizer) letterO(res ctc.Result, probs []float32, classes int) ctc.Result {
	zero, okZ := r.dict.Index("0")
	oh, okO := r.dict.Index("O")
	if !okZ || !okO {
		return res
	}
	var out []ctc.Char
	for i, c := range res.Chars {
		if c.Text != "0" || i == 0 || !asciiLetter(res.Chars[i-1].Text) ||
			(i+1 < len(res.Chars) && (digit(res.Chars[i+1].Text) || asciiLetter(res.Chars[i+1].Text))) {
			continue
		}
		likely := false
		for t := c.First; t <= c.Last && (t+1)*classes <= len(probs); t++ {
			row := probs[t*classes : (t+1)*classes]
			if row[oh] >= letterORatio*row[zero] {
				likely = true
				break
			}
		}
		if !likely {
			continue
		}
		if out == nil {
			out = slices.Clone(res.Chars)
		}
		out[i].Text = "O"
	}
	if out == nil {
		return res
	}
	var b strings.Builder
	for _, c := range out {
		b.WriteString(c.Text)
	}
	return ctc.Result{Text: b.String(), Confidence: res.Confidence, Chars: out, Steps: res.Steps}
}

// letterORatio: see letterO.
const letterORatio = 0.05

// asciiLetter reports whether s is one ASCII letter.
func asciiLetter(s string) bool {
	return len(s) == 1 && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}

// Recognize returns one result per crop, in the order given. It does not
// modify crops.
//
// Each line gets EndPad of its background at both ends first.
// Lines are sorted by aspect ratio and read in batches of up to Batch. By
// default each line is resized to the model height at its own width (no
// minimum width) and a batch holds only lines whose widths differ by at most
// WidthSpread, so the padding of a line, and so its result, depends on its
// neighbours only through a few columns of background. With PaddleWidths,
// every batch is padded to its widest line and to at least BaseWidth, as
// PaddleOCR does.
func (r *Recognizer) Recognize(ctx context.Context, crops []*raster.Image) ([]ctc.Result, error) {
	res := make([]ctc.Result, len(crops))
	lines := crops
	if r.o.EndPad > 0 {
		lines = make([]*raster.Image, len(crops))
		for i, c := range crops {
			lines[i] = raster.PadSides(c, int(r.o.EndPad*float64(c.H)+0.5), 0, raster.Background(c))
		}
	}
	idx := make([]int, len(lines))
	for i := range idx {
		idx[i] = i
	}
	ratio := func(i int) float64 { return float64(lines[i].W) / float64(max(lines[i].H, 1)) }
	sort.SliceStable(idx, func(a, b int) bool { return ratio(idx[a]) < ratio(idx[b]) })
	h := r.o.Height
	// width is the model-input width line i is read at.
	width := func(i int) int {
		return min(max(preprocess.LineWidth(lines[i].W, lines[i].H, h, r.o.MaxWidth), h), r.o.MaxWidth)
	}
	var buf []float32
	for start := 0; start < len(idx); {
		end := start + 1
		var w int
		if r.o.PaddleWidths {
			end = min(start+r.o.Batch, len(idx))
			maxRatio := float64(r.o.BaseWidth) / float64(h)
			for _, i := range idx[start:end] {
				maxRatio = math.Max(maxRatio, ratio(i))
			}
			w = min(int(float64(h)*maxRatio), r.o.MaxWidth)
		} else {
			limit := float64(width(idx[start])) * (1 + r.o.WidthSpread)
			for end < len(idx) && end-start < r.o.Batch && float64(width(idx[end])) <= limit {
				end++
			}
			w = width(idx[end-1])
		}
		n := end - start
		per := 3 * h * w
		if cap(buf) < n*per {
			buf = make([]float32, n*per)
		}
		in := buf[:n*per]
		clear(in)
		for k, i := range idx[start:end] {
			preprocess.LineInput(in[k*per:(k+1)*per], lines[i], h, w)
		}
		out, shape, err := r.s.Run(ctx, in, []int64{int64(n), 3, int64(h), int64(w)})
		if err != nil {
			return nil, fmt.Errorf("recognize: %w", err)
		}
		dec, err := r.dict.DecodeBatch(out, shape)
		if err != nil {
			return nil, fmt.Errorf("recognize: %w", err)
		}
		steps, classes := int(shape[1]), int(shape[2])
		for k, i := range idx[start:end] {
			dec[k] = r.letterO(dec[k], out[k*steps*classes:(k+1)*steps*classes], classes)
			res[i] = latinDigits(inkSpaces(lines[i], latinPunct(dec[k]), preprocess.LineWidth(lines[i].W, lines[i].H, h, w), w, r.o.InkGap))
		}
		start = end
	}
	return res, nil
}
