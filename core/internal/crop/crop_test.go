package crop

import (
	"math"
	"math/rand"
	"testing"

	"github.com/sealocr/sealocr/core/internal/geom"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// randomImage returns a w x h image of random 8-bit values.
func randomImage(rng *rand.Rand, w, h int) *raster.Image {
	m := raster.New(w, h)
	for i := range m.Pix {
		m.Pix[i] = float32(rng.Intn(256))
	}
	return m
}

// subImage returns the plain crop of m at [x0, x0+w) x [y0, y0+h).
func subImage(m *raster.Image, x0, y0, w, h int) *raster.Image {
	out := raster.New(w, h)
	for y := 0; y < h; y++ {
		copy(out.Pix[out.Offset(0, y):out.Offset(w, y)], m.Pix[m.Offset(x0, y0+y):m.Offset(x0+w, y0+y)])
	}
	return out
}

func TestQuad(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	src := randomImage(rng, 80, 60)
	quad := func(x0, y0, x1, y1 float64) geom.Quad {
		return geom.Quad{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
	}
	tests := []struct {
		name   string
		q      geom.Quad
		want   *raster.Image
		rotate bool
	}{
		{"axis aligned wide", quad(10, 5, 40, 25), subImage(src, 10, 5, 30, 20), false},
		{"axis aligned at origin", quad(0, 0, 80, 60), src, false},
		{"tall 1.4 not rotated", quad(20, 10, 30, 24), subImage(src, 20, 10, 10, 14), false},
		{"tall 1.5 rotated", quad(20, 10, 30, 25), subImage(src, 20, 10, 10, 15), true},
		{"tall 3 rotated", quad(50, 0, 60, 30), subImage(src, 50, 0, 10, 30), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if tt.rotate {
				want = raster.Rotate90CCW(want)
			}
			got := Quad(src, tt.q)
			if got.W != want.W || got.H != want.H {
				t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, want.W, want.H)
			}
			for i := range got.Pix {
				if got.Pix[i] != want.Pix[i] {
					t.Fatalf("value %d = %v, want %v", i, got.Pix[i], want.Pix[i])
				}
			}
		})
	}
}

func TestQuadRotatedBox(t *testing.T) {
	// A horizontal ramp image cropped along a rotated box: the crop's
	// columns must follow the box direction.
	src := raster.New(200, 200)
	for y := 0; y < 200; y++ {
		for x := 0; x < 200; x++ {
			i := src.Offset(x, y)
			src.Pix[i], src.Pix[i+1], src.Pix[i+2] = float32(x), float32(y), 0
		}
	}
	r := geom.RotatedRect{Center: geom.Point{X: 100, Y: 100}, W: 80.5, H: 20.5, Angle: 30}
	pts := r.Points()
	q, _ := geom.MiniBox(pts[:])
	got := Quad(src, q)
	if got.W != 80 || got.H != 20 {
		t.Fatalf("size %dx%d, want 80x20", got.W, got.H)
	}
	inv, ok := raster.PerspectiveTransform([4]geom.Point{{X: 0, Y: 0}, {X: 80, Y: 0}, {X: 80, Y: 20}, {X: 0, Y: 20}}, q)
	if !ok {
		t.Fatal("no transform")
	}
	for _, p := range []geom.Point{{X: 0, Y: 0}, {X: 40, Y: 10}, {X: 79, Y: 19}, {X: 10, Y: 15}} {
		s := inv.Apply(p)
		b, g, _ := got.BGR(int(p.X), int(p.Y))
		if math.Abs(float64(b)-s.X) > 1 || math.Abs(float64(g)-s.Y) > 1 {
			t.Errorf("crop(%v) = (%v,%v), want about (%.1f,%.1f)", p, b, g, s.X, s.Y)
		}
	}
}

func TestQuadEdgeCases(t *testing.T) {
	src := randomImage(rand.New(rand.NewSource(9)), 20, 10)
	tests := []struct {
		name string
		q    geom.Quad
		w, h int
	}{
		{"all corners equal", geom.Quad{{X: 3, Y: 3}, {X: 3, Y: 3}, {X: 3, Y: 3}, {X: 3, Y: 3}}, 1, 1},
		{"collinear", geom.Quad{{X: 0, Y: 0}, {X: 10, Y: 0}, {X: 20, Y: 0}, {X: 5, Y: 0}}, 15, 10},
		{"outside the image", geom.Quad{{X: -50, Y: -50}, {X: 100, Y: -50}, {X: 100, Y: -20}, {X: -50, Y: -20}}, 150, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Quad(src, tt.q)
			if got.W != tt.w || got.H != tt.h || len(got.Pix) != tt.w*tt.h*3 {
				t.Fatalf("size %dx%d (%d values), want %dx%d", got.W, got.H, len(got.Pix), tt.w, tt.h)
			}
		})
	}
}

func BenchmarkQuad(b *testing.B) {
	src := randomImage(rand.New(rand.NewSource(1)), 1920, 1080)
	r := geom.RotatedRect{Center: geom.Point{X: 900, Y: 500}, W: 600, H: 48, Angle: 5}
	pts := r.Points()
	q, _ := geom.MiniBox(pts[:])
	b.ResetTimer()
	for b.Loop() {
		Quad(src, q)
	}
}
