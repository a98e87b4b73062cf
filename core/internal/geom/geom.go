// Package geom provides the planar geometry used around text detection: convex
// hulls, minimum-area rectangles, quadrilateral ordering and polygon offsetting.
//
// Coordinates are image coordinates: x grows to the right and y grows downwards.
// Where PaddleOCR (and the OpenCV and pyclipper calls it makes) defines a
// behaviour, the functions here reproduce it, and each says where it differs.
package geom

import (
	"math"
	"sort"
)

// Point is a point in image coordinates.
type Point struct {
	X, Y float64
}

// Add returns p+q.
func (p Point) Add(q Point) Point { return Point{p.X + q.X, p.Y + q.Y} }

// Sub returns p-q.
func (p Point) Sub(q Point) Point { return Point{p.X - q.X, p.Y - q.Y} }

// Scale returns p multiplied by s.
func (p Point) Scale(s float64) Point { return Point{p.X * s, p.Y * s} }

// Dist returns the Euclidean distance between p and q.
func (p Point) Dist(q Point) float64 { return math.Hypot(p.X-q.X, p.Y-q.Y) }

// cross returns the z component of (a-o) x (b-o).
func cross(o, a, b Point) float64 {
	return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X)
}

// Quad is a quadrilateral whose vertices are, by convention, clockwise on
// screen starting from the top-left: top-left, top-right, bottom-right,
// bottom-left.
type Quad [4]Point

// Points returns the vertices of q as a new slice.
func (q Quad) Points() []Point {
	return []Point{q[0], q[1], q[2], q[3]}
}

// Width returns the longer of the top (q[0]-q[1]) and bottom (q[2]-q[3]) edges.
func (q Quad) Width() float64 { return math.Max(q[0].Dist(q[1]), q[2].Dist(q[3])) }

// Height returns the longer of the left (q[0]-q[3]) and right (q[1]-q[2]) edges.
func (q Quad) Height() float64 { return math.Max(q[0].Dist(q[3]), q[1].Dist(q[2])) }

// Center returns the mean of the four vertices.
func (q Quad) Center() Point {
	return Point{(q[0].X + q[1].X + q[2].X + q[3].X) / 4, (q[0].Y + q[1].Y + q[2].Y + q[3].Y) / 4}
}

// Bounds returns the axis-aligned bounding box of q as its minimum and maximum corners.
func (q Quad) Bounds() (lo, hi Point) {
	lo, hi = q[0], q[0]
	for _, p := range q[1:] {
		lo.X, lo.Y = math.Min(lo.X, p.X), math.Min(lo.Y, p.Y)
		hi.X, hi.Y = math.Max(hi.X, p.X), math.Max(hi.Y, p.Y)
	}
	return lo, hi
}

// SignedArea returns the shoelace area of the closed polygon poly. It is
// positive when the vertices run clockwise on screen (y pointing down), which
// is counter-clockwise in the usual mathematical orientation.
func SignedArea(poly []Point) float64 {
	n := len(poly)
	if n < 3 {
		return 0
	}
	var a float64
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		a += poly[j].X*poly[i].Y - poly[i].X*poly[j].Y
	}
	return a / 2
}

// Area returns the absolute area of the closed polygon poly, like shapely's
// Polygon.area for a simple polygon.
func Area(poly []Point) float64 { return math.Abs(SignedArea(poly)) }

// Perimeter returns the length of the closed polygon poly, including the edge
// from the last vertex back to the first, like shapely's Polygon.length.
func Perimeter(poly []Point) float64 {
	n := len(poly)
	if n < 2 {
		return 0
	}
	var l float64
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		l += poly[j].Dist(poly[i])
	}
	return l
}

// ConvexHull returns the convex hull of points without collinear or repeated
// vertices. The hull starts at the point with the smallest x (then smallest y)
// and runs clockwise on screen, so its SignedArea is positive. Fewer than
// three distinct points are returned as they are (deduplicated, sorted).
// The input is not modified.
func ConvexHull(points []Point) []Point {
	pts := make([]Point, len(points))
	copy(pts, points)
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].X != pts[j].X {
			return pts[i].X < pts[j].X
		}
		return pts[i].Y < pts[j].Y
	})
	// Deduplicate.
	u := pts[:0]
	for i, p := range pts {
		if i == 0 || p != u[len(u)-1] {
			u = append(u, p)
		}
	}
	pts = u
	if len(pts) < 3 {
		return pts
	}
	// Andrew's monotone chain.
	hull := make([]Point, 0, 2*len(pts))
	for _, p := range pts {
		for len(hull) >= 2 && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	lower := len(hull) + 1
	for i := len(pts) - 2; i >= 0; i-- {
		p := pts[i]
		for len(hull) >= lower && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	hull = hull[:len(hull)-1]
	if len(hull) < 3 {
		// All points collinear: the chain collapses to the two extremes.
		return []Point{pts[0], pts[len(pts)-1]}
	}
	return hull
}

// RotatedRect is a rectangle of size W x H centred on Center whose W side
// points along Angle degrees from the x axis (clockwise on screen, as in
// OpenCV's RotatedRect).
type RotatedRect struct {
	Center Point
	W, H   float64
	Angle  float64
}

// Points returns the corners of r in the order cv2.boxPoints uses: the corner
// at -W/2 along the width direction and +H/2 along the height direction
// first, then the other corners following the rectangle.
func (r RotatedRect) Points() [4]Point {
	rad := r.Angle * math.Pi / 180
	a := math.Sin(rad) * 0.5
	b := math.Cos(rad) * 0.5
	var p [4]Point
	p[0] = Point{r.Center.X - a*r.H - b*r.W, r.Center.Y + b*r.H - a*r.W}
	p[1] = Point{r.Center.X + a*r.H - b*r.W, r.Center.Y - b*r.H - a*r.W}
	p[2] = Point{2*r.Center.X - p[0].X, 2*r.Center.Y - p[0].Y}
	p[3] = Point{2*r.Center.X - p[1].X, 2*r.Center.Y - p[1].Y}
	return p
}

// MinAreaRect returns the rectangle of minimum area enclosing points, like
// cv2.minAreaRect. It checks every edge direction of the convex hull (the
// minimum-area rectangle has a side collinear with a hull edge). Angle is
// normalised to [0, 90). An empty input gives the zero RotatedRect, a single
// point a rectangle of size 0 x 0, collinear points a rectangle of height 0.
func MinAreaRect(points []Point) RotatedRect {
	hull := ConvexHull(points)
	switch len(hull) {
	case 0:
		return RotatedRect{}
	case 1:
		return RotatedRect{Center: hull[0]}
	case 2:
		d := hull[1].Sub(hull[0])
		return normaliseRect(RotatedRect{
			Center: hull[0].Add(hull[1]).Scale(0.5),
			W:      math.Hypot(d.X, d.Y),
			Angle:  math.Atan2(d.Y, d.X) * 180 / math.Pi,
		})
	}
	n := len(hull)
	best := RotatedRect{}
	bestArea := math.Inf(1)
	for i := 0; i < n; i++ {
		o := hull[i]
		e := hull[(i+1)%n].Sub(o)
		l := math.Hypot(e.X, e.Y)
		if l == 0 {
			continue
		}
		ux, uy := e.X/l, e.Y/l
		minU, maxU := math.Inf(1), math.Inf(-1)
		minV, maxV := math.Inf(1), math.Inf(-1)
		for _, p := range hull {
			dx, dy := p.X-o.X, p.Y-o.Y
			pu := dx*ux + dy*uy
			pv := -dx*uy + dy*ux
			minU, maxU = math.Min(minU, pu), math.Max(maxU, pu)
			minV, maxV = math.Min(minV, pv), math.Max(maxV, pv)
		}
		area := (maxU - minU) * (maxV - minV)
		if area < bestArea {
			bestArea = area
			cu, cv := (minU+maxU)/2, (minV+maxV)/2
			best = RotatedRect{
				Center: Point{o.X + cu*ux - cv*uy, o.Y + cu*uy + cv*ux},
				W:      maxU - minU,
				H:      maxV - minV,
				Angle:  math.Atan2(uy, ux) * 180 / math.Pi,
			}
		}
	}
	return normaliseRect(best)
}

// normaliseRect brings r.Angle into [0, 90) by quarter turns, swapping the
// sides at each turn, so that the rectangle is unchanged.
func normaliseRect(r RotatedRect) RotatedRect {
	for r.Angle < 0 {
		r.Angle += 90
		r.W, r.H = r.H, r.W
	}
	for r.Angle >= 90 {
		r.Angle -= 90
		r.W, r.H = r.H, r.W
	}
	return r
}

// MiniBox returns the minimum-area rectangle around points as a Quad, and the
// length of its shorter side, reproducing PaddleOCR's get_mini_boxes: the
// corners (cv2.boxPoints order) are stably sorted by x; of the two leftmost
// the one with the larger y is the bottom-left, of the two rightmost the one
// with the larger y is the bottom-right.
func MiniBox(points []Point) (Quad, float64) {
	r := MinAreaRect(points)
	p := r.Points()
	sort.SliceStable(p[:], func(i, j int) bool { return p[i].X < p[j].X })
	i1, i4 := 1, 0
	if p[1].Y > p[0].Y {
		i1, i4 = 0, 1
	}
	i2, i3 := 3, 2
	if p[3].Y > p[2].Y {
		i2, i3 = 2, 3
	}
	return Quad{p[i1], p[i2], p[i3], p[i4]}, math.Min(r.W, r.H)
}

// OrderClockwise reorders the vertices of q as top-left, top-right,
// bottom-right, bottom-left, reproducing PaddleOCR's order_points_clockwise:
// the top-left has the smallest x+y, the bottom-right the largest; of the
// other two, the top-right has the smallest y-x and the bottom-left the
// largest. Ties go to the earlier vertex, as numpy's argmin/argmax do.
func OrderClockwise(q Quad) Quad {
	iMin, iMax := 0, 0
	for i := 1; i < 4; i++ {
		s := q[i].X + q[i].Y
		if s < q[iMin].X+q[iMin].Y {
			iMin = i
		}
		if s > q[iMax].X+q[iMax].Y {
			iMax = i
		}
	}
	rest := make([]Point, 0, 3)
	for i := 0; i < 4; i++ {
		if i != iMin && i != iMax {
			rest = append(rest, q[i])
		}
	}
	dMin, dMax := 0, 0
	for i := 1; i < len(rest); i++ {
		d := rest[i].Y - rest[i].X
		if d < rest[dMin].Y-rest[dMin].X {
			dMin = i
		}
		if d > rest[dMax].Y-rest[dMax].X {
			dMax = i
		}
	}
	return Quad{q[iMin], rest[dMin], q[iMax], rest[dMax]}
}

// Clip clamps every vertex of q into [0, w-1] x [0, h-1].
func Clip(q Quad, w, h int) Quad {
	maxX, maxY := float64(w-1), float64(h-1)
	for i := range q {
		q[i].X = math.Min(math.Max(q[i].X, 0), maxX)
		q[i].Y = math.Min(math.Max(q[i].Y, 0), maxY)
	}
	return q
}
