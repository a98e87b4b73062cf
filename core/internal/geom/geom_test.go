package geom

import (
	"math"
	"math/rand"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func rectQuad(cx, cy, w, h, deg float64) Quad {
	return Quad(RotatedRect{Center: Point{cx, cy}, W: w, H: h, Angle: deg}.Points())
}

func TestConvexHull(t *testing.T) {
	tests := []struct {
		name string
		in   []Point
		want []Point
	}{
		{"empty", nil, []Point{}},
		{"single", []Point{{1, 2}}, []Point{{1, 2}}},
		{"duplicates", []Point{{1, 2}, {1, 2}}, []Point{{1, 2}}},
		{"collinear", []Point{{0, 0}, {2, 2}, {1, 1}, {3, 3}}, []Point{{0, 0}, {3, 3}}},
		{
			"square with interior and edge points",
			[]Point{{0, 0}, {4, 0}, {4, 4}, {0, 4}, {2, 2}, {2, 0}, {1, 3}, {4, 2}},
			[]Point{{0, 0}, {4, 0}, {4, 4}, {0, 4}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ConvexHull(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("ConvexHull = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("ConvexHull = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestConvexHullContainsAll(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 50; trial++ {
		pts := make([]Point, 3+rng.Intn(60))
		for i := range pts {
			pts[i] = Point{float64(rng.Intn(50)), float64(rng.Intn(50))}
		}
		h := ConvexHull(pts)
		if len(h) < 3 {
			continue
		}
		if SignedArea(h) <= 0 {
			t.Fatalf("hull %v not positively oriented", h)
		}
		for _, p := range pts {
			for i := range h {
				if cross(h[i], h[(i+1)%len(h)], p) < 0 {
					t.Fatalf("point %v outside hull %v", p, h)
				}
			}
		}
	}
}

// bruteMinArea scans directions in fine steps and returns the smallest
// bounding-rectangle area it finds.
func bruteMinArea(pts []Point) float64 {
	best := math.Inf(1)
	for i := 0; i < 90*200; i++ {
		th := float64(i) / 200 * math.Pi / 180
		c, s := math.Cos(th), math.Sin(th)
		minU, maxU, minV, maxV := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for _, p := range pts {
			u, v := p.X*c+p.Y*s, -p.X*s+p.Y*c
			minU, maxU = math.Min(minU, u), math.Max(maxU, u)
			minV, maxV = math.Min(minV, v), math.Max(maxV, v)
		}
		best = math.Min(best, (maxU-minU)*(maxV-minV))
	}
	return best
}

func TestMinAreaRect(t *testing.T) {
	tests := []struct {
		name       string
		cx, cy     float64
		w, h, deg  float64
		wantW      float64
		wantH      float64
		wantAngleM float64 // expected angle modulo 90
	}{
		{"axis aligned", 50, 40, 30, 10, 0, 30, 10, 0},
		{"rotated 15", 100, 80, 60, 20, 15, 60, 20, 15},
		{"rotated 30 tall", 100, 80, 12, 70, 30, 12, 70, 30},
		{"rotated -20", 40, 60, 50, 16, -20, 16, 50, 70},
		{"rotated 45 square", 0, 0, 10, 10, 45, 10, 10, 45},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := rectQuad(tt.cx, tt.cy, tt.w, tt.h, tt.deg)
			// Add interior points; they must not change the result.
			pts := append(q.Points(), Point{tt.cx, tt.cy}, Point{tt.cx + 1, tt.cy})
			r := MinAreaRect(pts)
			if !near(r.Center.X, tt.cx, 1e-6) || !near(r.Center.Y, tt.cy, 1e-6) {
				t.Errorf("center = %v, want (%v,%v)", r.Center, tt.cx, tt.cy)
			}
			if !near(r.W, tt.wantW, 1e-6) || !near(r.H, tt.wantH, 1e-6) {
				t.Errorf("size = %vx%v, want %vx%v", r.W, r.H, tt.wantW, tt.wantH)
			}
			if !near(r.Angle, tt.wantAngleM, 1e-6) && !near(r.Angle+90, tt.wantAngleM, 1e-6) {
				t.Errorf("angle = %v, want %v", r.Angle, tt.wantAngleM)
			}
			if r.Angle < 0 || r.Angle >= 90 {
				t.Errorf("angle %v outside [0,90)", r.Angle)
			}
			// The corners must be the original corners in some order.
			for _, c := range r.Points() {
				found := false
				for _, p := range q {
					if c.Dist(p) < 1e-6 {
						found = true
					}
				}
				if !found {
					t.Errorf("corner %v not one of %v", c, q)
				}
			}
		})
	}
}

func TestMinAreaRectRandomAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for trial := 0; trial < 30; trial++ {
		pts := make([]Point, 3+rng.Intn(30))
		for i := range pts {
			pts[i] = Point{rng.Float64() * 100, rng.Float64() * 40}
		}
		r := MinAreaRect(pts)
		got := r.W * r.H
		want := bruteMinArea(pts)
		// The brute force only samples angles, so it can only be larger.
		if got > want+1e-6 || got < want*(1-2e-3) {
			t.Fatalf("trial %d: area %v, brute force %v", trial, got, want)
		}
		// Every point lies inside the rectangle.
		c := r.Points()
		for _, p := range pts {
			for i := 0; i < 4; i++ {
				if cross(c[i], c[(i+1)%4], p) > 1e-6 && cross(c[i], c[(i+1)%4], r.Center) < 0 ||
					cross(c[i], c[(i+1)%4], p) < -1e-6 && cross(c[i], c[(i+1)%4], r.Center) > 0 {
					t.Fatalf("trial %d: point %v outside %v", trial, p, c)
				}
			}
		}
	}
}

func TestMinAreaRectDegenerate(t *testing.T) {
	tests := []struct {
		name  string
		in    []Point
		wantW float64
		wantH float64
	}{
		{"empty", nil, 0, 0},
		{"point", []Point{{3, 4}}, 0, 0},
		{"segment", []Point{{0, 0}, {3, 4}}, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := MinAreaRect(tt.in)
			if !near(math.Max(r.W, r.H), tt.wantW, 1e-9) || !near(math.Min(r.W, r.H), tt.wantH, 1e-9) {
				t.Errorf("size = %vx%v, want %vx%v", r.W, r.H, tt.wantW, tt.wantH)
			}
		})
	}
}

func TestMiniBox(t *testing.T) {
	tests := []struct {
		name      string
		q         Quad
		wantShort float64
	}{
		{"axis aligned", rectQuad(50, 20, 40, 10, 0), 10},
		{"rotated 10", rectQuad(50, 40, 40, 10, 10), 10},
		{"rotated -10", rectQuad(50, 40, 40, 10, -10), 10},
		{"rotated 80 tall", rectQuad(50, 40, 40, 10, 80), 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Shuffle the corners: the result must not depend on input order.
			in := []Point{tt.q[2], tt.q[0], tt.q[3], tt.q[1]}
			box, short := MiniBox(in)
			if !near(short, tt.wantShort, 1e-6) {
				t.Errorf("short side = %v, want %v", short, tt.wantShort)
			}
			// Paddle's order: box[0], box[3] are the two leftmost points with
			// box[0] above box[3]; box[1], box[2] the rightmost, box[1] above.
			if box[0].X > box[1].X || box[0].X > box[2].X || box[3].X > box[1].X || box[3].X > box[2].X {
				t.Errorf("left/right split wrong: %v", box)
			}
			if box[0].Y > box[3].Y || box[1].Y > box[2].Y {
				t.Errorf("top/bottom wrong: %v", box)
			}
			if SignedArea(box[:]) <= 0 {
				t.Errorf("box %v not clockwise on screen", box)
			}
		})
	}
}

func TestOrderClockwise(t *testing.T) {
	want := Quad{{10, 10}, {50, 12}, {49, 30}, {9, 28}}
	tests := []struct {
		name string
		in   Quad
	}{
		{"already ordered", want},
		{"reversed", Quad{want[3], want[2], want[1], want[0]}},
		{"shuffled", Quad{want[2], want[0], want[3], want[1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OrderClockwise(tt.in); got != want {
				t.Errorf("OrderClockwise(%v) = %v, want %v", tt.in, got, want)
			}
		})
	}
}

func TestAreaPerimeter(t *testing.T) {
	tests := []struct {
		name      string
		poly      []Point
		area, per float64
	}{
		{"rect cw", []Point{{0, 0}, {4, 0}, {4, 3}, {0, 3}}, 12, 14},
		{"rect ccw", []Point{{0, 0}, {0, 3}, {4, 3}, {4, 0}}, 12, 14},
		{"triangle", []Point{{0, 0}, {3, 0}, {0, 4}}, 6, 12},
		{"segment", []Point{{0, 0}, {3, 4}}, 0, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Area(tt.poly); !near(got, tt.area, 1e-12) {
				t.Errorf("Area = %v, want %v", got, tt.area)
			}
			if got := Perimeter(tt.poly); !near(got, tt.per, 1e-12) {
				t.Errorf("Perimeter = %v, want %v", got, tt.per)
			}
		})
	}
}

func TestOffsetAndUnclip(t *testing.T) {
	tests := []struct {
		name  string
		w, h  float64
		ratio float64
	}{
		{"60x20 ratio 1.5", 60, 20, 1.5},
		{"200x32 ratio 1.5", 200, 32, 1.5},
		{"10x10 ratio 2", 10, 10, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := Quad{{0, 0}, {tt.w, 0}, {tt.w, tt.h}, {0, tt.h}}
			d := tt.w * tt.h * tt.ratio / (2 * (tt.w + tt.h))
			want := (tt.w+2*d)*(tt.h+2*d) - (4-math.Pi)*d*d
			for _, round := range []bool{false, true} {
				var got []Point
				if round {
					got = Unclip(q, tt.ratio)
				} else {
					got = Offset(q.Points(), d)
				}
				a := Area(got)
				// Chords cut the arcs (by up to about 0.4 px at these
				// radii) and rounding moves each edge by up to 0.5 px.
				tol := 0.5 * 2 * math.Pi * d
				if round {
					tol += 0.5 * Perimeter(got)
				}
				if math.Abs(a-want) > tol {
					t.Errorf("round=%v: area %v, want about %v", round, a, want)
				}
				r := MinAreaRect(got)
				if !near(r.W*r.H, (tt.w+2*d)*(tt.h+2*d), 2*(tt.w+tt.h+4*d)) {
					t.Errorf("round=%v: bounding rect %vx%v, want about %vx%v", round, r.W, r.H, tt.w+2*d, tt.h+2*d)
				}
				// Every offset vertex is about d away from the rectangle.
				for _, p := range got {
					dx := math.Max(math.Max(-p.X, p.X-tt.w), 0)
					dy := math.Max(math.Max(-p.Y, p.Y-tt.h), 0)
					if dist := math.Hypot(dx, dy); !near(dist, d, 0.8) {
						t.Errorf("round=%v: vertex %v at distance %v, want %v", round, p, dist, d)
					}
				}
			}
		})
	}
}

func TestOffsetOrientationIndependent(t *testing.T) {
	cw := []Point{{0, 0}, {30, 0}, {30, 10}, {0, 10}}
	ccw := []Point{{0, 0}, {0, 10}, {30, 10}, {30, 0}}
	a, b := Area(Offset(cw, 5)), Area(Offset(ccw, 5))
	if !near(a, b, 1e-9) || a <= 300 {
		t.Errorf("areas %v, %v; want equal and > 300", a, b)
	}
	if got := Area(Offset(cw, -2)); !near(got, 26*6, 1e-9) {
		t.Errorf("shrunk area %v, want %v", got, 26*6)
	}
	if got := Offset([]Point{{1, 1}, {1, 1}, {2, 2}}, 3); got != nil {
		t.Errorf("degenerate offset = %v, want nil", got)
	}
}

func TestClip(t *testing.T) {
	q := Quad{{-5, -1}, {120, 3}, {130, 90}, {4, 200}}
	want := Quad{{0, 0}, {99, 3}, {99, 49}, {4, 49}}
	if got := Clip(q, 100, 50); got != want {
		t.Errorf("Clip = %v, want %v", got, want)
	}
}
