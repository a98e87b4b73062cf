package pipeline

import (
	"math"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// Margins added to each detected box before it is cropped in document
// mode, as fractions of its short side (see widenBoxes). The DB detector's
// boxes hug the glyphs' bodies: a final period or comma, a thin first
// letter and the ascenders of a small Latin line fall on or past their
// edge, and the recognizer drops them. Measured on generated English lines
// read in document mode (seed 7): exact lines with spaces kept from 70% to
// 90%, English invoices from 90.2% to 96.2% of rows, mixed receipts CER
// with spaces kept 0.35% → 0.25%.
const (
	boxEndMargin  = 0.3
	boxSideMargin = 0.1
)

// widenBoxes returns the quads document mode crops for boxes: each box
// lengthened along its long side by boxEndMargin of its short side at both
// ends and by boxSideMargin across, kept inside the w×h page. An end
// stops halfway to the nearest box that lies beyond it on the same line
// (overlapping it across), so two cells of a table row never reach into
// each other. The boxes themselves (the response's, the orientation vote's
// and reading order's) stay as detected.
func widenBoxes(boxes []geom.Quad, w, h float64) []geom.Quad {
	out := make([]geom.Quad, len(boxes))
	for i, q := range boxes {
		top, left := q[1].Sub(q[0]), q[3].Sub(q[0])
		lt, ll := math.Hypot(top.X, top.Y), math.Hypot(left.X, left.Y)
		if lt < 1 || ll < 1 {
			out[i] = q
			continue
		}
		// u runs along the line, v across it, from corner o; the line
		// runs down a box that crop.Quad turns (see tallRatio).
		o, u, v, long, short := q[0], top.Scale(1/lt), left.Scale(1/ll), lt, ll
		vertical := ll >= tallRatio*lt
		if vertical {
			u, v, long, short = v, u, ll, lt
		}
		if long < longRatio*short {
			// A lone digit or short code of a table's cells: padded
			// with background, the recognizer loses it more often than
			// not (the generated receipts' quantity column).
			out[i] = q
			continue
		}
		before, after := boxEndMargin*short, boxEndMargin*short
		for j, p := range boxes {
			if j == i {
				continue
			}
			a0, a1, b0, b1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
			for _, c := range p {
				d := c.Sub(o)
				a, b := d.X*u.X+d.Y*u.Y, d.X*v.X+d.Y*v.Y
				a0, a1, b0, b1 = min(a0, a), max(a1, a), min(b0, b), max(b1, b)
			}
			if b1 <= 0 || b0 >= short {
				continue // not on this line
			}
			if a0 >= long {
				after = min(after, (a0-long)/2)
			} else if a1 <= 0 {
				before = min(before, -a1/2)
			}
		}
		side := boxSideMargin * short
		du0, du1, dv := u.Scale(before), u.Scale(after), v.Scale(side)
		start, end := o.Sub(du0).Sub(dv), o.Add(u.Scale(long)).Add(du1).Sub(dv)
		across := v.Scale(short + 2*side)
		r := geom.Quad{start, end, end.Add(across), start.Add(across)}
		if vertical {
			// The long side is q[0]→q[3]: map the corners back so that
			// the quad keeps the box's own orientation.
			r = geom.Quad{r[0], r[3], r[2], r[1]}
		}
		for k := range r {
			r[k].X = min(max(r[k].X, 0), w)
			r[k].Y = min(max(r[k].Y, 0), h)
		}
		out[i] = r
	}
	return out
}
