package pipeline

import (
	"context"
	"time"

	"github.com/sealocr/sealocr/core/internal/classify"
	"github.com/sealocr/sealocr/core/internal/geom"
	"github.com/sealocr/sealocr/core/internal/order"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// turn is a page's orientation in quarter turns: the image as sent is the
// upright page turned clockwise by 90×turn degrees.
type turn int

// degrees is the turn as the response's angle.
func (t turn) degrees() int { return 90 * int(t%4) }

// upright returns page turned back upright.
func (t turn) upright(page *raster.Image) *raster.Image {
	switch t % 4 {
	case 1:
		return raster.Rotate90CCW(page)
	case 2:
		return raster.Rotate180(page)
	case 3:
		return raster.Rotate180(raster.Rotate90CCW(page))
	}
	return page
}

// toUpright maps a point of the page as sent (w×h) to the upright page.
func (t turn) toUpright(p geom.Point, w, h float64) geom.Point {
	switch t % 4 {
	case 1:
		return geom.Point{X: p.Y, Y: w - p.X}
	case 2:
		return geom.Point{X: w - p.X, Y: h - p.Y}
	case 3:
		return geom.Point{X: h - p.Y, Y: p.X}
	}
	return p
}

// fromUpright maps a point of the upright page back to the page as sent
// (w×h): the inverse of toUpright.
func (t turn) fromUpright(p geom.Point, w, h float64) geom.Point {
	switch t % 4 {
	case 1:
		return geom.Point{X: w - p.Y, Y: p.X}
	case 2:
		return geom.Point{X: w - p.X, Y: h - p.Y}
	case 3:
		return geom.Point{X: p.Y, Y: h - p.X}
	}
	return p
}

// quadsToUpright maps boxes of the page as sent (w×h) onto the upright
// page, corners reordered from the top-left.
func (t turn) quadsToUpright(boxes []geom.Quad, w, h float64) []geom.Quad {
	out := make([]geom.Quad, len(boxes))
	for i, q := range boxes {
		for k, p := range q {
			out[i][k] = t.toUpright(p, w, h)
		}
		out[i] = geom.OrderClockwise(out[i])
	}
	return out
}

// Orientation votes. A page is taken as turned by 90° or 270° when at least
// two of its boxes, and more than twice as many as are wide, are tall (see
// tallRatio); as upside down when a strict majority of its text lines (the
// long ones, w ≥ 2h, when there are at least three) is found upside down
// by the angle classifier.
const (
	tallRatio = 1.5 // the ratio crop.Quad turns a crop at
	longRatio = 2.0
)

// tallVote reports whether boxes look like the lines of a page turned by a
// quarter turn: mostly taller than wide.
func tallVote(boxes []geom.Quad) bool {
	tall, wide := 0, 0
	for _, q := range boxes {
		w := (q[0].Dist(q[1]) + q[3].Dist(q[2])) / 2
		h := (q[0].Dist(q[3]) + q[1].Dist(q[2])) / 2
		switch {
		case h >= tallRatio*w:
			tall++
		case w >= tallRatio*h:
			wide++
		}
	}
	return tall >= 2 && tall > 2*wide
}

// upsideDownVote reports whether a strict majority of the lines the
// classifier judged is upside down, counting only long lines when there
// are at least three: short crops (a digit, a price) are the classifier's
// weakest.
func upsideDownVote(crops []*raster.Image, turns []classify.Result) bool {
	long := 0
	for _, c := range crops {
		if float64(c.W) >= longRatio*float64(c.H) {
			long++
		}
	}
	n, up := 0, 0
	for i, c := range crops {
		if long >= 3 && float64(c.W) < longRatio*float64(c.H) {
			continue
		}
		n++
		if turns[i].Rotated {
			up++
		}
	}
	return n > 0 && 2*up > n
}

// oriented is a page read upright: the page turned back, its boxes in its
// coordinates, their crops and the classifier's decisions, in reading
// order.
type oriented struct {
	turn  turn
	page  *raster.Image
	boxes []geom.Quad
	crops []*raster.Image
	turns []classify.Result // nil when the classifier is off
}

// orient finds the page's orientation from its boxes (tall boxes: a
// quarter turn) and the classifier's vote on its lines (mostly upside
// down: a half turn more), turns the page and its boxes upright, and puts
// the boxes in reading order. The votes need the classifier: with it off
// (or in line mode) the page is read as sent. Detection runs once; the
// boxes are mapped, and only a turned page is cropped and classified again.
func (e *Engine) orient(ctx context.Context, page *raster.Image, boxes []geom.Quad, o Options, tm *Timings) (oriented, error) {
	w, h := float64(page.W), float64(page.H)
	last := time.Now()
	lap := func(d *time.Duration) {
		now := time.Now()
		*d, last = *d+now.Sub(last), now
	}
	res := oriented{page: page, boxes: boxes}
	on := o.Mode != ModeLine && (o.Classify == nil || *o.Classify)
	// turnPage and cropAll charge what they make to the request's memory
	// budget before making it.
	turnPage := func(t turn) (*raster.Image, error) {
		if err := o.reserve(rasterBytes(page.W, page.H)); err != nil {
			return nil, err
		}
		return t.upright(page), nil
	}
	cropAll := func() ([]*raster.Image, error) {
		if err := o.reserve(cropBytes(cropQuads(res.page, res.boxes, o.Mode), o.classifies())); err != nil {
			return nil, err
		}
		return e.crop(res.page, res.boxes, o.Mode), nil
	}
	var err error
	if on && tallVote(boxes) {
		res.turn = 1
		if res.page, err = turnPage(res.turn); err != nil {
			return oriented{}, err
		}
		res.boxes = res.turn.quadsToUpright(boxes, w, h)
	}
	if res.crops, err = cropAll(); err != nil {
		return oriented{}, err
	}
	if res.turns, err = e.classify(ctx, res.crops, o); err != nil {
		return oriented{}, err
	}
	lap(&tm.Classify)
	if on && res.turns != nil && upsideDownVote(res.crops, res.turns) {
		res.turn += 2
	}
	if res.turn != 0 {
		// Read the upright page as if it had been sent so: detection is
		// not invariant under turns (the resize to multiples of 32, the
		// boxes' unclip), and the page turned back is the upright page
		// pixel for pixel, so detecting again gives its boxes exactly.
		if res.page, err = turnPage(res.turn); err != nil {
			return oriented{}, err
		}
		if res.boxes, err = e.detect(ctx, res.page, o); err != nil {
			return oriented{}, err
		}
		lap(&tm.Detect)
		if res.crops, err = cropAll(); err != nil {
			return oriented{}, err
		}
		lap(&tm.Crop)
		if res.turns, err = e.classify(ctx, res.crops, o); err != nil {
			return oriented{}, err
		}
		lap(&tm.Classify)
	}
	perm := order.ReadingOrder(res.boxes)
	res.boxes = permute(res.boxes, perm)
	res.crops = permute(res.crops, perm)
	if res.turns != nil {
		res.turns = permute(res.turns, perm)
	}
	lap(&tm.Order)
	return res, nil
}

// permute returns s reordered: element k is s[perm[k]].
func permute[T any](s []T, perm []int) []T {
	out := make([]T, len(perm))
	for k, i := range perm {
		out[k] = s[i]
	}
	return out
}
