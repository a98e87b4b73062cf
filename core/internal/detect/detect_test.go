package detect

import (
	"math"
	"math/rand"
	"testing"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// probMap is a synthetic w x h probability map.
type probMap struct {
	w, h int
	p    []float32
}

func newMap(w, h int, background float32) *probMap {
	m := &probMap{w: w, h: h, p: make([]float32, w*h)}
	for i := range m.p {
		m.p[i] = background
	}
	return m
}

// fillRect sets v on the pixels whose centres lie in the rotated rectangle r.
func (m *probMap) fillRect(r geom.RotatedRect, v float32) {
	rad := r.Angle * math.Pi / 180
	c, s := math.Cos(rad), math.Sin(rad)
	for y := 0; y < m.h; y++ {
		for x := 0; x < m.w; x++ {
			dx, dy := float64(x)-r.Center.X, float64(y)-r.Center.Y
			u, w := dx*c+dy*s, -dx*s+dy*c
			if math.Abs(u) <= r.W/2 && math.Abs(w) <= r.H/2 {
				m.p[y*m.w+x] = v
			}
		}
	}
}

// expectedBox is the source-space box DB post-processing should give for a
// solid rectangle r drawn with fillRect: the minimum-area rectangle of the
// lattice points inside r, grown by area*ratio/perimeter on every side and
// scaled by sx, sy.
func expectedBox(r geom.RotatedRect, ratio, sx, sy float64) geom.Quad {
	rad := r.Angle * math.Pi / 180
	c, s := math.Cos(rad), math.Sin(rad)
	var pts []geom.Point
	reach := r.W + r.H
	for y := math.Floor(r.Center.Y - reach); y <= r.Center.Y+reach; y++ {
		for x := math.Floor(r.Center.X - reach); x <= r.Center.X+reach; x++ {
			dx, dy := x-r.Center.X, y-r.Center.Y
			if math.Abs(dx*c+dy*s) <= r.W/2 && math.Abs(-dx*s+dy*c) <= r.H/2 {
				pts = append(pts, geom.Point{X: x, Y: y})
			}
		}
	}
	k := geom.MinAreaRect(pts)
	d := k.W * k.H * ratio / (2 * (k.W + k.H))
	k.W += 2 * d
	k.H += 2 * d
	var q geom.Quad
	for i, p := range k.Points() {
		q[i] = geom.Point{X: p.X * sx, Y: p.Y * sy}
	}
	return geom.OrderClockwise(q)
}

func TestPostprocess(t *testing.T) {
	line := func(cx, cy, w, h, deg float64) geom.RotatedRect {
		return geom.RotatedRect{Center: geom.Point{X: cx, Y: cy}, W: w, H: h, Angle: deg}
	}
	tests := []struct {
		name   string
		w, h   int
		srcW   int
		srcH   int
		rects  []geom.RotatedRect
		values []float32
		opts   func(*Options)
		want   []geom.RotatedRect // expected in map space; nil means no boxes
		tol    float64            // per-vertex tolerance in source pixels
	}{
		{
			name: "rotated rectangle", w: 320, h: 160, srcW: 640, srcH: 320,
			rects: []geom.RotatedRect{line(160, 80, 120, 24, 10)}, values: []float32{0.9},
			want: []geom.RotatedRect{line(160, 80, 120, 24, 10)}, tol: 4, // vertex truncation before Unclip moves up to 1 map px
		},
		{
			name: "axis aligned, non-uniform scale", w: 256, h: 128, srcW: 1000, srcH: 300,
			rects: []geom.RotatedRect{line(100, 60, 150, 20, 0)}, values: []float32{0.8},
			want: []geom.RotatedRect{line(100, 60, 150, 20, 0)}, tol: 4,
		},
		{
			name: "low score region dropped", w: 200, h: 100, srcW: 200, srcH: 100,
			rects: []geom.RotatedRect{line(100, 50, 120, 20, 0)}, values: []float32{0.35},
		},
		{
			name: "tiny region dropped", w: 100, h: 100, srcW: 100, srcH: 100,
			rects: []geom.RotatedRect{line(50, 50, 2, 2, 0)}, values: []float32{0.95},
		},
		{
			name: "two lines", w: 320, h: 160, srcW: 320, srcH: 160,
			rects:  []geom.RotatedRect{line(150, 40, 200, 20, 0), line(140, 110, 180, 20, 0)},
			values: []float32{0.9, 0.9},
			// cv2.findContours lists the lower region first.
			want: []geom.RotatedRect{line(140, 110, 180, 20, 0), line(150, 40, 200, 20, 0)}, tol: 1,
		},
		{
			name: "max candidates keeps the last in raster order", w: 200, h: 200, srcW: 200, srcH: 200,
			rects:  []geom.RotatedRect{line(100, 30, 100, 16, 0), line(100, 90, 100, 16, 0), line(100, 150, 100, 16, 0)},
			values: []float32{0.9, 0.9, 0.9},
			opts:   func(o *Options) { o.MaxCandidates = 2 },
			want:   []geom.RotatedRect{line(100, 150, 100, 16, 0), line(100, 90, 100, 16, 0)}, tol: 1,
		},
		{
			name: "box thresh lowered keeps the faint region", w: 200, h: 100, srcW: 200, srcH: 100,
			rects: []geom.RotatedRect{line(100, 50, 120, 20, 0)}, values: []float32{0.35},
			opts: func(o *Options) { o.BoxThresh = 0.3 },
			want: []geom.RotatedRect{line(100, 50, 120, 20, 0)}, tol: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMap(tt.w, tt.h, 0.02)
			for i, r := range tt.rects {
				m.fillRect(r, tt.values[i])
			}
			o := DefaultOptions()
			if tt.opts != nil {
				tt.opts(&o)
			}
			got := Postprocess(m.p, tt.w, tt.h, tt.srcW, tt.srcH, o)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d boxes %v, want %d", len(got), got, len(tt.want))
			}
			sx, sy := float64(tt.srcW)/float64(tt.w), float64(tt.srcH)/float64(tt.h)
			for i, r := range tt.want {
				want := expectedBox(r, o.UnclipRatio, sx, sy)
				for j := range want {
					if d := got[i].Quad[j].Dist(want[j]); d > tt.tol {
						t.Errorf("box %d vertex %d = %v, want %v (off by %.1f)", i, j, got[i].Quad[j], want[j], d)
					}
					if p := got[i].Quad[j]; p.X != math.Trunc(p.X) || p.Y != math.Trunc(p.Y) {
						t.Errorf("box %d vertex %d = %v not integral", i, j, p)
					}
				}
				if got[i].Score < 0.75 && tt.values[0] > 0.5 {
					t.Errorf("box %d score %v, want about %v", i, got[i].Score, tt.values[0])
				}
			}
		})
	}
}

func TestPostprocessClipsToImage(t *testing.T) {
	m := newMap(100, 50, 0)
	// Touches the left and top edges; the grown box would leave the image.
	m.fillRect(geom.RotatedRect{Center: geom.Point{X: 20, Y: 6}, W: 50, H: 14}, 0.9)
	got := Postprocess(m.p, 100, 50, 200, 100, DefaultOptions())
	if len(got) != 1 {
		t.Fatalf("got %d boxes, want 1", len(got))
	}
	for _, p := range got[0].Quad {
		if p.X < 0 || p.X > 199 || p.Y < 0 || p.Y > 99 {
			t.Errorf("vertex %v outside the image", p)
		}
	}
	if q := got[0].Quad; q[0].X != 0 || q[0].Y != 0 {
		t.Errorf("top-left %v, want clipped to (0,0)", q[0])
	}
}

func TestPostprocessDilation(t *testing.T) {
	// Text drawn as vertical strokes one pixel wide with one-pixel gaps:
	// each stroke is too thin on its own; dilation joins them.
	m := newMap(120, 60, 0)
	for y := 20; y < 40; y++ {
		for x := 20; x < 100; x += 2 {
			m.p[y*m.w+x] = 0.9
		}
	}
	// The gaps pull the box mean down; only the connectivity is tested.
	o := DefaultOptions()
	o.BoxThresh = 0.4
	tests := []struct {
		name     string
		dilation bool
		want     int
	}{
		{"without dilation", false, 0},
		{"with dilation", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o.UseDilation = tt.dilation
			if got := Postprocess(m.p, m.w, m.h, m.w, m.h, o); len(got) != tt.want {
				t.Errorf("got %d boxes %v, want %d", len(got), got, tt.want)
			}
		})
	}
}

func TestPostprocessInvalid(t *testing.T) {
	tests := []struct {
		name       string
		prob       []float32
		w, h       int
		srcW, srcH int
	}{
		{"short map", make([]float32, 10), 4, 4, 4, 4},
		{"zero size", nil, 0, 0, 4, 4},
		{"zero source", make([]float32, 16), 4, 4, 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Postprocess(tt.prob, tt.w, tt.h, tt.srcW, tt.srcH, DefaultOptions()); got != nil {
				t.Errorf("got %v, want nil", got)
			}
		})
	}
}

func TestPostprocessHugeRegion(t *testing.T) {
	// One region covering the whole map: an explicit stack, not recursion.
	const n = 1500
	m := newMap(n, n, 0.9)
	got := Postprocess(m.p, n, n, n, n, DefaultOptions())
	if len(got) != 1 {
		t.Fatalf("got %d boxes, want 1", len(got))
	}
	want := geom.Quad{{X: 0, Y: 0}, {X: n - 1, Y: 0}, {X: n - 1, Y: n - 1}, {X: 0, Y: n - 1}}
	if got[0].Quad != want {
		t.Errorf("box %v, want %v", got[0].Quad, want)
	}
}

func TestBoxScore(t *testing.T) {
	// A 10x10 map whose value is 1 in the left half and 0 in the right.
	p := make([]float32, 100)
	for y := 0; y < 10; y++ {
		for x := 0; x < 5; x++ {
			p[y*10+x] = 1
		}
	}
	tests := []struct {
		name string
		q    geom.Quad
		want float64
	}{
		{"left half", geom.Quad{{X: 0, Y: 0}, {X: 4, Y: 0}, {X: 4, Y: 9}, {X: 0, Y: 9}}, 1},
		{"right half", geom.Quad{{X: 5, Y: 0}, {X: 9, Y: 0}, {X: 9, Y: 9}, {X: 5, Y: 9}}, 0},
		// Columns 2..7 inclusive: three of six are 1.
		{"straddling", geom.Quad{{X: 2, Y: 2}, {X: 7, Y: 2}, {X: 7, Y: 6}, {X: 2, Y: 6}}, 0.5},
		// Fractional vertices are truncated after shifting to the box origin.
		{"fractional", geom.Quad{{X: 2.7, Y: 2.2}, {X: 7.9, Y: 2.2}, {X: 7.9, Y: 6.5}, {X: 2.7, Y: 6.5}}, 0.5},
		{"outside clamps", geom.Quad{{X: -5, Y: -5}, {X: 4, Y: -5}, {X: 4, Y: 20}, {X: -5, Y: 20}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scorer{prob: p, w: 10, h: 10}
			if got := s.score(tt.q); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("score = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFillPolygonDiamond(t *testing.T) {
	// A diamond with vertices at distance 2 from (2,2) paints the 13
	// lattice points with |dx|+|dy| <= 2, as cv2.fillPoly does.
	mask := make([]uint8, 25)
	v := [][2]int{{2, 0}, {4, 2}, {2, 4}, {0, 2}}
	fillPolygon(mask, 5, 5, v)
	for i := range v {
		drawLine(mask, 5, 5, v[i], v[(i+1)%4])
	}
	n := 0
	for y := 0; y < 5; y++ {
		for x := 0; x < 5; x++ {
			in := abs(x-2)+abs(y-2) <= 2
			if (mask[y*5+x] != 0) != in {
				t.Errorf("pixel (%d,%d) painted=%v, want %v", x, y, mask[y*5+x] != 0, in)
			}
			if mask[y*5+x] != 0 {
				n++
			}
		}
	}
	if n != 13 {
		t.Errorf("%d pixels painted, want 13", n)
	}
}

func BenchmarkPostprocess(b *testing.B) {
	const w, h = 960, 736
	m := newMap(w, h, 0.01)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 30; i++ {
		m.fillRect(geom.RotatedRect{
			Center: geom.Point{X: 100 + rng.Float64()*760, Y: 12 + float64(i)*24},
			W:      60 + rng.Float64()*300, H: 12, Angle: rng.Float64()*6 - 3,
		}, 0.9)
	}
	// Speckle noise: many tiny regions.
	for i := 0; i < 2000; i++ {
		m.p[rng.Intn(w*h)] = 0.5
	}
	b.ResetTimer()
	for b.Loop() {
		Postprocess(m.p, w, h, 1920, 1472, DefaultOptions())
	}
}

func TestPostprocessRandomMapsStayInBounds(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	sizes := [][2]int{{1, 1}, {1, 40}, {40, 1}, {33, 17}, {128, 96}}
	for _, sz := range sizes {
		w, h := sz[0], sz[1]
		t.Run("", func(t *testing.T) {
			for trial := 0; trial < 5; trial++ {
				m := newMap(w, h, 0)
				// Blobs plus noise.
				for i := range m.p {
					m.p[i] = rng.Float32() * 0.4
				}
				for k := 0; k < 6; k++ {
					m.fillRect(geom.RotatedRect{
						Center: geom.Point{X: rng.Float64() * float64(w), Y: rng.Float64() * float64(h)},
						W:      rng.Float64() * 60, H: rng.Float64() * 20, Angle: rng.Float64() * 180,
					}, 0.7+0.3*rng.Float32())
				}
				srcW, srcH := 1+rng.Intn(500), 1+rng.Intn(500)
				o := DefaultOptions()
				o.UseDilation = trial%2 == 0
				for _, b := range Postprocess(m.p, w, h, srcW, srcH, o) {
					for _, p := range b.Quad {
						if p.X < 0 || p.X > float64(srcW-1) || p.Y < 0 || p.Y > float64(srcH-1) {
							t.Fatalf("vertex %v outside %dx%d", p, srcW, srcH)
						}
					}
					if b.Score < o.BoxThresh || b.Score > 1 {
						t.Fatalf("score %v", b.Score)
					}
				}
			}
		})
	}
}
