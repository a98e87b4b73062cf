package render

import (
	"math"
	"unicode"

	"github.com/sealocr/sealocr/core/api"
)

// vec is a point or a direction in pixels of the image as sent (y down).
type vec struct{ x, y float64 }

func (a vec) add(b vec) vec            { return vec{a.x + b.x, a.y + b.y} }
func (a vec) sub(b vec) vec            { return vec{a.x - b.x, a.y - b.y} }
func (a vec) scale(k float64) vec      { return vec{a.x * k, a.y * k} }
func (a vec) len() float64             { return math.Hypot(a.x, a.y) }
func (a vec) cross(b vec) float64      { return a.x*b.y - a.y*b.x }
func pt(p api.Point) vec               { return vec{float64(p[0]), float64(p[1])} }
func lerp(a, b vec, t float64) vec     { return a.add(b.sub(a).scale(t)) }
func clampf(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// geometry is a line's box as a text run: where the run starts on the
// bottom edge, the reading direction, its length and its height (pixels).
// A box's corners come clockwise from the top-left corner of the text, so
// on a turned page the reading direction turns with them.
type geometry struct {
	bottomLeft vec
	dir        vec     // unit vector along the text, left to right
	up         vec     // unit vector from the bottom of the text to its top
	width      float64 // along dir
	height     float64 // along up
	corners    [4]vec
}

// lineGeometry returns the geometry of box, or false for a box without
// area.
func lineGeometry(box [4]api.Point) (geometry, bool) {
	var c [4]vec
	for i, p := range box {
		c[i] = pt(p)
	}
	// Mean of the top and bottom edges; mean of the left and right edges.
	along := c[1].sub(c[0]).add(c[2].sub(c[3])).scale(0.5)
	rise := c[0].sub(c[3]).add(c[1].sub(c[2])).scale(0.5)
	w := along.len()
	if w < 1 {
		return geometry{}, false
	}
	dir := along.scale(1 / w)
	h := math.Abs(dir.cross(rise))
	if h < 1 {
		return geometry{}, false
	}
	// up is dir turned a quarter towards the top edge (y points down).
	up := vec{dir.y, -dir.x}
	if up.x*rise.x+up.y*rise.y < 0 {
		up = up.scale(-1)
	}
	return geometry{bottomLeft: c[3], dir: dir, up: up, width: w, height: h, corners: c}, true
}

// span returns the corners (top-left, top-right, bottom-right,
// bottom-left) of the part of the run from character i to character j
// (exclusive) of n, each character taking the same share of the width.
func (g geometry) span(i, j, n int) [4]vec {
	t0, t1 := float64(i)/float64(n), float64(j)/float64(n)
	tl := lerp(g.corners[0], g.corners[1], t0)
	tr := lerp(g.corners[0], g.corners[1], t1)
	bl := lerp(g.corners[3], g.corners[2], t0)
	br := lerp(g.corners[3], g.corners[2], t1)
	return [4]vec{tl, tr, br, bl}
}

// word is one space-separated part of a line: runes [start, end) of the
// cleaned line.
type word struct {
	text       string
	start, end int
}

// cleanText returns a line's text as it is written to a text layer: every
// control character and every kind of white space becomes one space,
// runs of spaces become one, and the ends are trimmed.
func cleanText(s string) []rune {
	var out []rune
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = len(out) > 0
			continue
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = append(out, r)
	}
	return out
}

// words splits a cleaned line at its spaces.
func words(rs []rune) []word {
	var ws []word
	start := 0
	for i := 0; i <= len(rs); i++ {
		if i == len(rs) || rs[i] == ' ' {
			if i > start {
				ws = append(ws, word{string(rs[start:i]), start, i})
			}
			start = i + 1
		}
	}
	return ws
}
