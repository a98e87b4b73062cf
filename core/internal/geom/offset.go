package geom

import "math"

// ArcTolerance is the largest distance, in pixels, by which the chords of a
// rounded corner produced by Offset may fall inside the true arc. It is
// pyclipper's default.
const ArcTolerance = 0.25

// Offset grows the closed polygon poly outwards by delta (or shrinks it when
// delta is negative) with round joins, following the Clipper library's
// ClipperOffset as pyclipper runs it with JT_ROUND and ET_CLOSEDPOLYGON: each
// edge is pushed out along its normal and every convex corner is filled with
// an arc of chords no further than ArcTolerance from the true circle. The
// final union Clipper performs is not needed for convex input and is not
// done, so a self-intersecting result of a non-convex input is returned as
// is. A negative delta shrinks a convex polygon exactly (mitred corners)
// until it collapses. Repeated consecutive vertices are ignored; fewer than three distinct
// vertices give nil.
func Offset(poly []Point, delta float64) []Point {
	return offset(poly, delta, false)
}

// Unclip expands the text kernel q the way PaddleOCR's DBPostProcess.unclip
// does: the distance is Area(q)*ratio/Perimeter(q), computed on the exact
// vertices, and the offset (see Offset) is applied to the vertices truncated
// towards zero, with the result rounded to integers (half away from zero), as
// pyclipper's integer coordinates do. It returns nil for a degenerate quad.
func Unclip(q Quad, ratio float64) []Point {
	pts := q.Points()
	per := Perimeter(pts)
	if per == 0 {
		return nil
	}
	d := Area(pts) * ratio / per
	for i := range pts {
		pts[i] = Point{math.Trunc(pts[i].X), math.Trunc(pts[i].Y)}
	}
	return offset(pts, d, true)
}

// offset implements Offset; with round set, output vertices are rounded half
// away from zero like Clipper's integer points.
func offset(poly []Point, delta float64, round bool) []Point {
	// Strip repeated points, including a closing repeat of the first.
	src := make([]Point, 0, len(poly))
	hi := len(poly) - 1
	for hi > 0 && poly[0] == poly[hi] {
		hi--
	}
	for i := 0; i <= hi; i++ {
		if len(src) == 0 || src[len(src)-1] != poly[i] {
			src = append(src, poly[i])
		}
	}
	if len(src) < 3 {
		return nil
	}
	// Orient so that the normals (dy, -dx) point outwards.
	if SignedArea(src) < 0 {
		for i, j := 0, len(src)-1; i < j; i, j = i+1, j-1 {
			src[i], src[j] = src[j], src[i]
		}
	}
	if math.Abs(delta) < 1e-20 {
		return src
	}
	rnd := func(p Point) Point {
		if round {
			return Point{math.Round(p.X), math.Round(p.Y)}
		}
		return p
	}

	y := ArcTolerance
	if y > math.Abs(delta)*ArcTolerance {
		y = math.Abs(delta) * ArcTolerance
	}
	steps := math.Pi / math.Acos(1-y/math.Abs(delta))
	if steps > math.Abs(delta)*math.Pi {
		steps = math.Abs(delta) * math.Pi
	}
	sinStep := math.Sin(2 * math.Pi / steps)
	cosStep := math.Cos(2 * math.Pi / steps)
	stepsPerRad := steps / (2 * math.Pi)
	if delta < 0 {
		sinStep = -sinStep
	}

	n := len(src)
	normals := make([]Point, n)
	for j := 0; j < n; j++ {
		normals[j] = unitNormal(src[j], src[(j+1)%n])
	}

	out := make([]Point, 0, 4*n)
	k := n - 1
	for j := 0; j < n; j++ {
		nk, nj := normals[k], normals[j]
		sinA := nk.X*nj.Y - nj.X*nk.Y
		cosA := nk.X*nj.X + nk.Y*nj.Y
		p := src[j]
		switch {
		case math.Abs(sinA*delta) < 1 && cosA > 0:
			// Nearly straight: one point is enough.
			out = append(out, rnd(p.Add(nk.Scale(delta))))
		case sinA*delta < 0 && delta < 0 && cosA > -0.99:
			// Shrinking past a convex corner: the two inner edges meet at
			// the mitre point. (Clipper emits a loop through the vertex
			// here and removes it in its final union.)
			out = append(out, rnd(p.Add(nk.Add(nj).Scale(delta/(1+cosA)))))
		case sinA*delta < 0:
			// Concave corner: go back through the vertex, as Clipper does.
			out = append(out, rnd(p.Add(nk.Scale(delta))), p, rnd(p.Add(nj.Scale(delta))))
		default:
			if sinA > 1 {
				sinA = 1
			} else if sinA < -1 {
				sinA = -1
			}
			a := math.Atan2(sinA, cosA)
			m := int(math.Round(stepsPerRad * math.Abs(a)))
			if m < 1 {
				m = 1
			}
			x, yy := nk.X, nk.Y
			for i := 0; i < m; i++ {
				out = append(out, rnd(Point{p.X + x*delta, p.Y + yy*delta}))
				x, yy = x*cosStep-sinStep*yy, x*sinStep+yy*cosStep
			}
			out = append(out, rnd(p.Add(nj.Scale(delta))))
		}
		k = j
	}
	return out
}

// unitNormal returns Clipper's unit normal (dy, -dx) of the edge a->b.
func unitNormal(a, b Point) Point {
	dx, dy := b.X-a.X, b.Y-a.Y
	if dx == 0 && dy == 0 {
		return Point{}
	}
	f := 1 / math.Hypot(dx, dy)
	return Point{dy * f, -dx * f}
}
