// Package detect finds text boxes on a page with a DB (Differentiable
// Binarization) text detector. A Detector owns the model session, as
// classify.Classifier and recognize.Recognizer own theirs: it builds the
// model input (preprocess.DetInput), runs the model and turns its
// probability map into boxes with Postprocess, which reproduces PaddleOCR's
// DBPostProcess.boxes_from_bitmap with score_mode "fast" followed by
// TextDetector.filter_tag_det_res.
package detect

import (
	"math"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// Options tunes Postprocess. The names follow PaddleOCR's det_db_* flags.
type Options struct {
	// Thresh binarises the map: a pixel is text if its probability is
	// greater than Thresh.
	Thresh float64
	// BoxThresh drops a region whose mean probability inside its box is
	// below BoxThresh.
	BoxThresh float64
	// UnclipRatio sets how far a box is grown: by area*ratio/perimeter.
	UnclipRatio float64
	// MaxCandidates caps the regions examined; 0 or less means no cap.
	MaxCandidates int
	// MinSize drops boxes whose shorter side is below MinSize pixels of the
	// map before growing (MinSize+2 after).
	MinSize int
	// UseDilation dilates the binary map with a 2x2 square first.
	UseDilation bool
}

// DefaultOptions returns the PaddleOCR PP-OCRv4 defaults: Thresh 0.3,
// BoxThresh 0.6, UnclipRatio 1.5, MaxCandidates 1000, MinSize 3, no
// dilation.
func DefaultOptions() Options {
	return Options{
		Thresh:        0.3,
		BoxThresh:     0.6,
		UnclipRatio:   1.5,
		MaxCandidates: 1000,
		MinSize:       3,
	}
}

// Box is a detected text box in source-image pixels.
type Box struct {
	// Quad holds integer vertices ordered top-left, top-right,
	// bottom-right, bottom-left (geom.OrderClockwise), inside the image.
	Quad geom.Quad
	// Score is the mean probability inside the box before it was grown.
	Score float64
}

// Postprocess finds text boxes in prob, a w x h row-major probability map
// computed for an image of srcW x srcH pixels. The steps are PaddleOCR's:
//
//  1. binarise (prob > Thresh), optionally dilate with a 2x2 square;
//  2. take every 8-connected foreground region (the outer contours
//     cv2.findContours would trace), at most MaxCandidates of them, in
//     cv2's list order (the reverse of raster order); the contours of holes,
//     which cv2's RETR_LIST also lists, are not examined (see below);
//  3. fit the minimum-area rectangle (geom.MiniBox) to each and drop it if
//     its shorter side is below MinSize;
//  4. score it by the mean probability over the rectangle as cv2.fillPoly
//     rasterises it with truncated integer vertices, and drop it below
//     BoxThresh;
//  5. grow it with geom.Unclip, fit the rectangle again and drop it if its
//     shorter side is below MinSize+2;
//  6. scale it to the source (rounding halves to even, clamped to
//     [0, srcW] x [0, srcH]), order its corners (geom.OrderClockwise),
//     truncate them into [0, srcW-1] x [0, srcH-1], and drop it if the
//     truncated length of its top or left edge is 3 pixels or less.
//
// The one known difference: for a region with a hole PaddleOCR also scores
// the hole's contour and can emit a second, smaller box inside the first;
// such boxes duplicate text already covered and are not produced here, and
// holes do not count towards MaxCandidates.
//
// Boxes come in that order; sort them for reading with package order. An
// invalid size (including a map of 2^31 pixels or more), or a prob shorter
// than w*h, gives no boxes. Memory is O(w*h) and nothing recurses; time is
// O(w*h) plus the bounding-box areas of the (at most MaxCandidates)
// rectangles scored.
func Postprocess(prob []float32, w, h int, srcW, srcH int, o Options) []Box {
	if w <= 0 || h <= 0 || srcW <= 0 || srcH <= 0 || w > math.MaxInt32/h || len(prob) < w*h {
		return nil
	}
	prob = prob[:w*h]
	mask := make([]uint8, w*h)
	thresh := float32(o.Thresh)
	for i, v := range prob {
		if v > thresh {
			mask[i] = 1
		}
	}
	if o.UseDilation {
		mask = dilate2x2(mask, w, h)
	}

	type candidate struct {
		index int
		quad  geom.Quad
	}
	var cands []candidate
	count := 0
	forEachRegion(mask, w, h, func(extremes []geom.Point) {
		if len(extremes) < 3 {
			// A single row of pixels: its rectangle has no height.
			count++
			return
		}
		q, short := geom.MiniBox(extremes)
		if short >= float64(o.MinSize) {
			cands = append(cands, candidate{index: count, quad: q})
		}
		count++
	})
	first := 0
	if o.MaxCandidates > 0 {
		first = count - o.MaxCandidates
	}

	var boxes []Box
	sc := scorer{prob: prob, w: w, h: h}
	for i := len(cands) - 1; i >= 0 && cands[i].index >= first; i-- {
		score := sc.score(cands[i].quad)
		if o.BoxThresh > score {
			continue
		}
		grown := geom.Unclip(cands[i].quad, o.UnclipRatio)
		if len(grown) == 0 {
			continue
		}
		box, short := geom.MiniBox(grown)
		if short < float64(o.MinSize)+2 {
			continue
		}
		for j := range box {
			box[j].X = clampF(math.RoundToEven(box[j].X/float64(w)*float64(srcW)), 0, float64(srcW))
			box[j].Y = clampF(math.RoundToEven(box[j].Y/float64(h)*float64(srcH)), 0, float64(srcH))
		}
		q := geom.OrderClockwise(box)
		for j := range q {
			q[j].X = math.Trunc(clampF(q[j].X, 0, float64(srcW-1)))
			q[j].Y = math.Trunc(clampF(q[j].Y, 0, float64(srcH-1)))
		}
		if int(q[0].Dist(q[1])) <= 3 || int(q[0].Dist(q[3])) <= 3 {
			continue
		}
		boxes = append(boxes, Box{Quad: q, Score: score})
	}
	return boxes
}

func clampF(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

// dilate2x2 returns mask dilated like cv2.dilate with a 2x2 kernel of ones
// and the default anchor: a pixel is set if it or its left, upper or
// upper-left neighbour is.
func dilate2x2(mask []uint8, w, h int) []uint8 {
	out := make([]uint8, len(mask))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			v := mask[i]
			if x > 0 {
				v |= mask[i-1]
			}
			if y > 0 {
				v |= mask[i-w]
				if x > 0 {
					v |= mask[i-w-1]
				}
			}
			out[i] = v
		}
	}
	return out
}

// forEachRegion finds the 8-connected regions of non-zero pixels in mask
// (which it overwrites) in raster order of their first pixel and calls fn
// with the leftmost and rightmost pixel of each row of the region; those
// points have the same convex hull as the region and as its outer contour.
// fn must not keep the slice.
func forEachRegion(mask []uint8, w, h int, fn func(extremes []geom.Point)) {
	const (
		unseen = 1
		seen   = 2
	)
	rowMin := make([]int32, h)
	rowMax := make([]int32, h)
	for i := range rowMin {
		rowMin[i], rowMax[i] = int32(w), -1
	}
	var stack []int32
	var pts []geom.Point
	for start := range mask {
		if mask[start] != unseen {
			continue
		}
		mask[start] = seen
		stack = append(stack[:0], int32(start))
		yMin, yMax := start/w, start/w
		for len(stack) > 0 {
			p := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			x, y := int32(p%w), p/w
			rowMin[y], rowMax[y] = min(rowMin[y], x), max(rowMax[y], x)
			yMin, yMax = min(yMin, y), max(yMax, y)
			for dy := -1; dy <= 1; dy++ {
				ny := y + dy
				if ny < 0 || ny >= h {
					continue
				}
				for dx := int32(-1); dx <= 1; dx++ {
					nx := x + dx
					if nx < 0 || int(nx) >= w {
						continue
					}
					if n := ny*w + int(nx); mask[n] == unseen {
						mask[n] = seen
						stack = append(stack, int32(n))
					}
				}
			}
		}
		pts = pts[:0]
		for y := yMin; y <= yMax; y++ {
			if rowMax[y] < 0 {
				continue
			}
			pts = append(pts, geom.Point{X: float64(rowMin[y]), Y: float64(y)})
			if rowMax[y] != rowMin[y] {
				pts = append(pts, geom.Point{X: float64(rowMax[y]), Y: float64(y)})
			}
			rowMin[y], rowMax[y] = int32(w), -1
		}
		fn(pts)
	}
}
