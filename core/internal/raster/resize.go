package raster

import "math"

// linearTaps holds, for each destination coordinate, the first source index,
// the second (clamped to the edge) and the weight of the second.
type linearTaps struct {
	i0, i1 []int
	a      []float32
}

// linearWeights computes cv2.resize INTER_LINEAR taps for one axis: the
// source coordinate of destination index d is (d+0.5)*src/dst-0.5 (pixel
// centres aligned), evaluated in float32 as OpenCV does, and clamped at both
// edges.
func linearWeights(srcN, dstN int) linearTaps {
	t := linearTaps{i0: make([]int, dstN), i1: make([]int, dstN), a: make([]float32, dstN)}
	scale := 1 / (float64(dstN) / float64(srcN))
	for d := 0; d < dstN; d++ {
		f := float32((float64(d)+0.5)*scale - 0.5)
		s := int(math.Floor(float64(f)))
		f -= float32(s)
		if s < 0 {
			s, f = 0, 0
		}
		if s >= srcN-1 {
			s, f = srcN-1, 0
		}
		t.i0[d] = s
		t.i1[d] = min(s+1, srcN-1)
		t.a[d] = f
	}
	return t
}

// Resize returns src scaled to w x h with bilinear interpolation, matching
// cv2.resize(src, (w, h)) with the default INTER_LINEAR: pixel centres are
// aligned, edges are replicated and there is no anti-aliasing filter when
// shrinking. Results are rounded to integers as OpenCV's uint8 output is
// (OpenCV's 11-bit fixed-point weights can make it differ by one level).
// A size below 1 is raised to 1; an empty src gives a black image.
func Resize(src *Image, w, h int) *Image {
	w, h = max(w, 1), max(h, 1)
	out := New(w, h)
	if src.W <= 0 || src.H <= 0 {
		return out
	}
	if w == src.W && h == src.H {
		copy(out.Pix, src.Pix)
		return out
	}
	xt := linearWeights(src.W, w)
	yt := linearWeights(src.H, h)
	// Horizontally interpolated rows, cached as OpenCV does.
	rowA := make([]float32, w*3)
	rowB := make([]float32, w*3)
	lastA, lastB := -1, -1
	hinterp := func(dst []float32, sy int) {
		srow := src.Pix[sy*src.W*3 : (sy+1)*src.W*3]
		for x := 0; x < w; x++ {
			i0, i1, a := xt.i0[x]*3, xt.i1[x]*3, xt.a[x]
			b := 1 - a
			dst[3*x] = srow[i0]*b + srow[i1]*a
			dst[3*x+1] = srow[i0+1]*b + srow[i1+1]*a
			dst[3*x+2] = srow[i0+2]*b + srow[i1+2]*a
		}
	}
	for y := 0; y < h; y++ {
		y0, y1, a := yt.i0[y], yt.i1[y], yt.a[y]
		switch {
		case y0 == lastA && y1 == lastB:
		case y0 == lastB:
			rowA, rowB = rowB, rowA
			lastA = y0
			hinterp(rowB, y1)
			lastB = y1
		default:
			hinterp(rowA, y0)
			hinterp(rowB, y1)
			lastA, lastB = y0, y1
		}
		b := 1 - a
		drow := out.Pix[y*w*3 : (y+1)*w*3]
		for i := range drow {
			drow[i] = Sat(rowA[i]*b + rowB[i]*a)
		}
	}
	return out
}
