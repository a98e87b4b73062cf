package raster

import (
	"math"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// Matrix is a 3x3 projective transform in row-major order, mapping (x, y) to
// ((m0 x + m1 y + m2) / w, (m3 x + m4 y + m5) / w) with w = m6 x + m7 y + m8.
type Matrix [9]float64

// Apply maps p through m. A point mapped to infinity gives NaN or Inf
// coordinates.
func (m Matrix) Apply(p geom.Point) geom.Point {
	w := m[6]*p.X + m[7]*p.Y + m[8]
	return geom.Point{
		X: (m[0]*p.X + m[1]*p.Y + m[2]) / w,
		Y: (m[3]*p.X + m[4]*p.Y + m[5]) / w,
	}
}

// PerspectiveTransform returns the projective transform mapping each src[i]
// to dst[i], like cv2.getPerspectiveTransform (the 8x8 linear system with
// m8 = 1, solved by Gaussian elimination with partial pivoting). ok is false
// when the points are degenerate (three of them collinear).
func PerspectiveTransform(src, dst [4]geom.Point) (m Matrix, ok bool) {
	var a [8][9]float64 // augmented matrix
	for i := 0; i < 4; i++ {
		sx, sy, dx, dy := src[i].X, src[i].Y, dst[i].X, dst[i].Y
		a[i] = [9]float64{sx, sy, 1, 0, 0, 0, -sx * dx, -sy * dx, dx}
		a[i+4] = [9]float64{0, 0, 0, sx, sy, 1, -sx * dy, -sy * dy, dy}
	}
	// Scale-aware singularity threshold.
	var norm float64
	for i := range a {
		for j := 0; j < 8; j++ {
			norm = math.Max(norm, math.Abs(a[i][j]))
		}
	}
	eps := norm * 1e-12
	for c := 0; c < 8; c++ {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) <= eps {
			return Matrix{}, false
		}
		a[c], a[p] = a[p], a[c]
		for r := c + 1; r < 8; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k < 9; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	var x [8]float64
	for c := 7; c >= 0; c-- {
		s := a[c][8]
		for k := c + 1; k < 8; k++ {
			s -= a[c][k] * x[k]
		}
		x[c] = s / a[c][c]
	}
	return Matrix{x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], 1}, true
}

// Invert returns the inverse of m; ok is false if m is singular.
func (m Matrix) Invert() (Matrix, bool) {
	det := m[0]*(m[4]*m[8]-m[5]*m[7]) - m[1]*(m[3]*m[8]-m[5]*m[6]) + m[2]*(m[3]*m[7]-m[4]*m[6])
	if det == 0 || math.IsNaN(det) || math.IsInf(det, 0) {
		return Matrix{}, false
	}
	inv := Matrix{
		m[4]*m[8] - m[5]*m[7], m[2]*m[7] - m[1]*m[8], m[1]*m[5] - m[2]*m[4],
		m[5]*m[6] - m[3]*m[8], m[0]*m[8] - m[2]*m[6], m[2]*m[3] - m[0]*m[5],
		m[3]*m[7] - m[4]*m[6], m[1]*m[6] - m[0]*m[7], m[0]*m[4] - m[1]*m[3],
	}
	for i := range inv {
		inv[i] /= det
	}
	return inv, true
}

// Sub-pixel resolution of OpenCV's remap tables (INTER_BITS = 5).
const (
	interBits    = 5
	interTabSize = 1 << interBits
)

// cubicTable returns cv2's bicubic weights (A = -0.75) for each of the
// interTabSize sub-pixel offsets.
func cubicTable() (t [interTabSize][4]float32) {
	const a = -0.75
	for i := range t {
		x := float64(i) / interTabSize
		c0 := ((a*(x+1)-5*a)*(x+1)+8*a)*(x+1) - 4*a
		c1 := ((a+2)*x-(a+3))*x*x + 1
		c2 := ((a+2)*(1-x)-(a+3))*(1-x)*(1-x) + 1
		t[i] = [4]float32{float32(c0), float32(c1), float32(c2), float32(1 - c0 - c1 - c2)}
	}
	return t
}

// WarpPerspective returns src transformed by m into a w x h image, like
// cv2.warpPerspective(src, m, (w, h), flags=INTER_CUBIC,
// borderMode=BORDER_REPLICATE): m maps source to destination coordinates
// and is inverted, and each destination pixel samples src as WarpInverse
// does. A singular m gives a black image.
func WarpPerspective(src *Image, m Matrix, w, h int) *Image {
	inv, ok := m.Invert()
	if !ok {
		return New(w, h)
	}
	return WarpInverse(src, inv, w, h)
}

// WarpInverse returns a w x h image whose pixel (x, y) is src sampled at
// inv(x, y), inv mapping destination to source coordinates (OpenCV's
// WARP_INVERSE_MAP). It reproduces INTER_CUBIC with BORDER_REPLICATE: source
// coordinates are quantised to 1/32 pixel as OpenCV's remap tables are, then
// 4x4 bicubic interpolation (A = -0.75) reads pixels with coordinates
// clamped to the image, and the result is rounded to integers.
func WarpInverse(src *Image, inv Matrix, w, h int) *Image {
	out := New(w, h)
	if src.W <= 0 || src.H <= 0 {
		return out
	}
	cubic := cubicTable()
	var xs, ys [4]int
	for y := 0; y < out.H; y++ {
		fy := float64(y)
		for x := 0; x < out.W; x++ {
			fx := float64(x)
			wd := inv[6]*fx + inv[7]*fy + inv[8]
			if wd != 0 {
				wd = interTabSize / wd
			}
			X := clampInt(math.RoundToEven((inv[0]*fx + inv[1]*fy + inv[2]) * wd))
			Y := clampInt(math.RoundToEven((inv[3]*fx + inv[4]*fy + inv[5]) * wd))
			sx, sy := X>>interBits, Y>>interBits
			cx := &cubic[X&(interTabSize-1)]
			cy := &cubic[Y&(interTabSize-1)]
			for k := 0; k < 4; k++ {
				xs[k] = min(max(sx-1+k, 0), src.W-1) * 3
				ys[k] = min(max(sy-1+k, 0), src.H-1) * src.W * 3
			}
			var b, g, r float32
			for j := 0; j < 4; j++ {
				var rb, rg, rr float32
				for k := 0; k < 4; k++ {
					p := src.Pix[ys[j]+xs[k]:]
					rb += p[0] * cx[k]
					rg += p[1] * cx[k]
					rr += p[2] * cx[k]
				}
				b += rb * cy[j]
				g += rg * cy[j]
				r += rr * cy[j]
			}
			d := out.Offset(x, y)
			out.Pix[d], out.Pix[d+1], out.Pix[d+2] = Sat(b), Sat(g), Sat(r)
		}
	}
	return out
}

// clampInt converts v to int saturating at the int32 range, like OpenCV's
// saturate_cast<int>.
func clampInt(v float64) int {
	switch {
	case math.IsNaN(v):
		return 0
	case v > math.MaxInt32:
		return math.MaxInt32
	case v < math.MinInt32:
		return math.MinInt32
	}
	return int(v)
}
