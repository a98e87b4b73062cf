// Package order sorts detected text boxes into reading order: rows from top
// to bottom, boxes within a row from left to right.
//
// PaddleOCR's sorted_boxes sorts by the top-left corner's (y, x) and then
// lets a box move before its predecessor when their top-left y differ by
// less than 10 pixels and it lies further left. That fixed threshold breaks
// on large or small text and on skewed lines; ReadingOrder keeps the idea but
// measures everything against the text height.
package order

import (
	"math"
	"sort"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// tallRatio is the height/width ratio from which a box is taken as vertical
// text, the same threshold at which its crop is turned for recognition.
const tallRatio = 1.5

// line describes one box for row grouping.
type line struct {
	index int
	refY  float64 // vertical position of the box's (first) text line
	thick float64 // height of that text line
	left  float64 // leftmost x
}

// describe measures q. Its text-line height is the mean length of its left
// and right edges, which does not grow when the box is rotated, and its
// reference y is its centre. A tall box (at least tallRatio times taller
// than wide) is vertical text: its line height is its width and its
// reference y is half a width below its top, so it is read where its first
// character stands.
func describe(i int, q geom.Quad) line {
	w := (q[0].Dist(q[1]) + q[3].Dist(q[2])) / 2
	h := (q[0].Dist(q[3]) + q[1].Dist(q[2])) / 2
	bmin, _ := q.Bounds()
	l := line{index: i, left: bmin.X, refY: q.Center().Y, thick: h}
	if h >= tallRatio*w {
		l.thick = w
		l.refY = bmin.Y + w/2
	}
	if !(l.thick > 0) { // degenerate or NaN
		l.thick = 0
	}
	return l
}

// ReadingOrder returns the permutation of quads that reads them: perm[k] is
// the index in quads of the k-th box to read.
//
// The rule: each box gets a text-line height and a reference y (see above).
// Boxes are taken in order of reference y; a box joins the current row if
// its reference y is within half the smaller line height of the previous
// box in that row (so a slightly skewed row, drifting gradually, stays one
// row), otherwise it starts a new row. Rows are read top to bottom and the
// boxes of a row by their leftmost x; ties fall back to reference y and then
// input order, so the result is deterministic.
func ReadingOrder(quads []geom.Quad) []int {
	lines := make([]line, len(quads))
	for i, q := range quads {
		lines[i] = describe(i, q)
	}
	sort.SliceStable(lines, func(a, b int) bool {
		if lines[a].refY != lines[b].refY {
			return lines[a].refY < lines[b].refY
		}
		return lines[a].left < lines[b].left
	})
	perm := make([]int, 0, len(quads))
	for start := 0; start < len(lines); {
		end := start + 1
		for end < len(lines) {
			prev, cur := lines[end-1], lines[end]
			if math.Abs(cur.refY-prev.refY) > 0.5*math.Min(prev.thick, cur.thick) {
				break
			}
			end++
		}
		row := lines[start:end]
		sort.SliceStable(row, func(a, b int) bool { return row[a].left < row[b].left })
		for _, l := range row {
			perm = append(perm, l.index)
		}
		start = end
	}
	return perm
}

// Sort returns quads in reading order (see ReadingOrder) as a new slice.
func Sort(quads []geom.Quad) []geom.Quad {
	out := make([]geom.Quad, len(quads))
	for k, i := range ReadingOrder(quads) {
		out[k] = quads[i]
	}
	return out
}
