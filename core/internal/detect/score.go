package detect

import (
	"math"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// scorer computes PaddleOCR's box_score_fast over a probability map, reusing
// its mask buffer between boxes.
type scorer struct {
	prob []float32
	w, h int
	mask []uint8
}

// score returns the mean of prob over the pixels of q's integer bounding box
// (clamped to the map) that cv2.fillPoly would paint for q with its vertices,
// relative to that box, truncated to integers: the scanline interior plus
// the 8-connected outline. It returns 0 if no pixel is painted.
func (s *scorer) score(q geom.Quad) float64 {
	bmin, bmax := q.Bounds()
	xmin := clampI(int(math.Floor(bmin.X)), 0, s.w-1)
	xmax := clampI(int(math.Ceil(bmax.X)), 0, s.w-1)
	ymin := clampI(int(math.Floor(bmin.Y)), 0, s.h-1)
	ymax := clampI(int(math.Ceil(bmax.Y)), 0, s.h-1)
	mw, mh := xmax-xmin+1, ymax-ymin+1
	if cap(s.mask) < mw*mh {
		s.mask = make([]uint8, mw*mh)
	}
	mask := s.mask[:mw*mh]
	clear(mask)

	var v [4][2]int
	for i, p := range q {
		v[i] = [2]int{int(p.X - float64(xmin)), int(p.Y - float64(ymin))}
	}
	fillPolygon(mask, mw, mh, v[:])
	for i := range v {
		drawLine(mask, mw, mh, v[i], v[(i+1)%len(v)])
	}

	var sum float64
	n := 0
	for y := 0; y < mh; y++ {
		row := s.prob[(ymin+y)*s.w+xmin:]
		mrow := mask[y*mw : (y+1)*mw]
		for x, m := range mrow {
			if m != 0 {
				sum += float64(row[x])
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func clampI(v, lo, hi int) int { return min(max(v, lo), hi) }

// fillPolygon sets the pixels of the w x h mask whose centres lie inside the
// polygon v (even-odd rule, each edge covering the half-open span of rows
// from its upper to its lower end), clipped to the mask.
func fillPolygon(mask []uint8, w, h int, v [][2]int) {
	ylo, yhi := v[0][1], v[0][1]
	for _, p := range v {
		ylo, yhi = min(ylo, p[1]), max(yhi, p[1])
	}
	ylo, yhi = max(ylo, 0), min(yhi, h-1)
	xs := make([]float64, 0, len(v))
	for y := ylo; y <= yhi; y++ {
		xs = xs[:0]
		for i := range v {
			a, b := v[i], v[(i+1)%len(v)]
			if a[1] == b[1] {
				continue
			}
			if a[1] > b[1] {
				a, b = b, a
			}
			if y < a[1] || y >= b[1] {
				continue
			}
			xs = append(xs, float64(a[0])+float64(y-a[1])*float64(b[0]-a[0])/float64(b[1]-a[1]))
		}
		// Insertion sort: at most a handful of crossings.
		for i := 1; i < len(xs); i++ {
			for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
				xs[j], xs[j-1] = xs[j-1], xs[j]
			}
		}
		for i := 0; i+1 < len(xs); i += 2 {
			x0 := max(int(math.Ceil(xs[i])), 0)
			x1 := min(int(math.Floor(xs[i+1])), w-1)
			row := mask[y*w:]
			for x := x0; x <= x1; x++ {
				row[x] = 1
			}
		}
	}
}

// drawLine sets the pixels of an 8-connected Bresenham line from a to b
// (both ends included), clipped to the w x h mask.
func drawLine(mask []uint8, w, h int, a, b [2]int) {
	x0, y0, x1, y1 := a[0], a[1], b[0], b[1]
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	err := dx + dy
	for {
		if x0 >= 0 && x0 < w && y0 >= 0 && y0 < h {
			mask[y0*w+x0] = 1
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
