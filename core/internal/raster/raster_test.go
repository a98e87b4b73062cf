package raster

import (
	"image"
	"image/color"
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// gray builds an image from rows of values, the same value in all channels.
func gray(rows [][]float32) *Image {
	m := New(len(rows[0]), len(rows))
	for y, row := range rows {
		for x, v := range row {
			i := m.Offset(x, y)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2] = v, v, v
		}
	}
	return m
}

// channel returns channel c of m as rows.
func channel(m *Image, c int) [][]float32 {
	out := make([][]float32, m.H)
	for y := range out {
		out[y] = make([]float32, m.W)
		for x := range out[y] {
			out[y][x] = m.Pix[m.Offset(x, y)+c]
		}
	}
	return out
}

func randomImage(rng *rand.Rand, w, h int) *Image {
	m := New(w, h)
	for i := range m.Pix {
		m.Pix[i] = float32(rng.Intn(256))
	}
	return m
}

func equalRows(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for y := range a {
		if len(a[y]) != len(b[y]) {
			return false
		}
		for x := range a[y] {
			if a[y][x] != b[y][x] {
				return false
			}
		}
	}
	return true
}

func TestResize(t *testing.T) {
	// Expected values follow cv2's INTER_LINEAR: source coordinate
	// (d+0.5)*src/dst-0.5, clamped at the edges, then rounded.
	tests := []struct {
		name string
		in   [][]float32
		w, h int
		want [][]float32
	}{
		{"halve row", [][]float32{{0, 10, 20, 30}}, 2, 1, [][]float32{{5, 25}}},
		{"double row", [][]float32{{0, 100}}, 4, 1, [][]float32{{0, 25, 75, 100}}},
		{
			"3x3 to 2x2 linear ramp",
			[][]float32{{0, 10, 20}, {30, 40, 50}, {60, 70, 80}},
			2, 2,
			// samples at 0.25 and 1.75 in both axes of 10x+30y
			[][]float32{{10, 25}, {55, 70}},
		},
		{
			"2x2 to 3x3",
			[][]float32{{0, 90}, {90, 180}},
			3, 3,
			// source coordinates: -1/6 -> 0 (clamped), 0.5, 7/6 -> 1 (clamped)
			[][]float32{{0, 45, 90}, {45, 90, 135}, {90, 135, 180}},
		},
		{
			"rounding of thirds",
			[][]float32{{0, 1, 2, 3, 4, 5}},
			4, 1,
			// coordinates 0.25, 1.75, 3.25, 4.75
			[][]float32{{0, 2, 3, 5}},
		},
		{"identity", [][]float32{{1, 2}, {3, 4}}, 2, 2, [][]float32{{1, 2}, {3, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Resize(gray(tt.in), tt.w, tt.h)
			if got.W != tt.w || got.H != tt.h {
				t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, tt.w, tt.h)
			}
			for c := 0; c < 3; c++ {
				if g := channel(got, c); !equalRows(g, tt.want) {
					t.Errorf("channel %d = %v, want %v", c, g, tt.want)
				}
			}
		})
	}
}

func TestResizeKeepsChannelsApart(t *testing.T) {
	m := New(3, 2)
	for i := 0; i < 6; i++ {
		m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2] = 10, 100, 200
	}
	got := Resize(m, 7, 5)
	for i := 0; i < got.W*got.H; i++ {
		if b, g, r := got.Pix[3*i], got.Pix[3*i+1], got.Pix[3*i+2]; b != 10 || g != 100 || r != 200 {
			t.Fatalf("pixel %d = %v,%v,%v, want 10,100,200", i, b, g, r)
		}
	}
}

func TestRotate(t *testing.T) {
	src := gray([][]float32{{1, 2, 3}, {4, 5, 6}})
	tests := []struct {
		name string
		f    func(*Image) *Image
		want [][]float32
	}{
		// np.rot90([[1,2,3],[4,5,6]]) == [[3,6],[2,5],[1,4]]
		{"90 ccw", Rotate90CCW, [][]float32{{3, 6}, {2, 5}, {1, 4}}},
		{"180", Rotate180, [][]float32{{6, 5, 4}, {3, 2, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := channel(tt.f(src), 1); !equalRows(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPerspectiveTransform(t *testing.T) {
	src := [4]geom.Point{{X: 10, Y: 20}, {X: 90, Y: 25}, {X: 85, Y: 70}, {X: 5, Y: 60}}
	dst := [4]geom.Point{{X: 0, Y: 0}, {X: 100, Y: 0}, {X: 100, Y: 50}, {X: 0, Y: 50}}
	m, ok := PerspectiveTransform(src, dst)
	if !ok {
		t.Fatal("not ok")
	}
	inv, ok := m.Invert()
	if !ok {
		t.Fatal("not invertible")
	}
	for i := range src {
		if p := m.Apply(src[i]); p.Dist(dst[i]) > 1e-9 {
			t.Errorf("m(%v) = %v, want %v", src[i], p, dst[i])
		}
		if p := inv.Apply(dst[i]); p.Dist(src[i]) > 1e-9 {
			t.Errorf("inv(%v) = %v, want %v", dst[i], p, src[i])
		}
	}
	if _, ok := PerspectiveTransform([4]geom.Point{{X: 0, Y: 0}, {X: 1, Y: 1}, {X: 2, Y: 2}, {X: 3, Y: 3}}, dst); ok {
		t.Error("collinear points gave a transform")
	}
}

func TestFromImage(t *testing.T) {
	rect := image.Rect(2, 3, 7, 6) // non-zero origin
	nrgba := image.NewNRGBA(rect)
	rgba := image.NewRGBA(rect)
	gr := image.NewGray(rect)
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
	pal := image.NewPaletted(rect, color.Palette{color.RGBA{1, 2, 3, 255}, color.RGBA{200, 100, 50, 255}})
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			c := color.RGBA{uint8(10 * x), uint8(20 * y), uint8(x + y), 255}
			nrgba.Set(x, y, c)
			rgba.Set(x, y, c)
			gr.Set(x, y, c)
			pal.SetColorIndex(x, y, uint8((x+y)%2))
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			ycc.Y[ycc.YOffset(x, y)] = yy
			ycc.Cb[ycc.COffset(x, y)] = cb
			ycc.Cr[ycc.COffset(x, y)] = cr
		}
	}
	tests := []struct {
		name string
		img  image.Image
		tol  float64
	}{
		{"nrgba", nrgba, 0},
		{"rgba", rgba, 0},
		{"gray", gr, 0},
		{"ycbcr", ycc, 1},
		{"paletted", pal, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := FromImage(tt.img)
			if m.W != rect.Dx() || m.H != rect.Dy() {
				t.Fatalf("size %dx%d", m.W, m.H)
			}
			for y := 0; y < m.H; y++ {
				for x := 0; x < m.W; x++ {
					r, g, b, _ := tt.img.At(rect.Min.X+x, rect.Min.Y+y).RGBA()
					gb, gg, gr := m.BGR(x, y)
					if math.Abs(float64(gb)-float64(b>>8)) > tt.tol || math.Abs(float64(gg)-float64(g>>8)) > tt.tol ||
						math.Abs(float64(gr)-float64(r>>8)) > tt.tol {
						t.Fatalf("(%d,%d) = BGR %v,%v,%v, want %v,%v,%v", x, y, gb, gg, gr, b>>8, g>>8, r>>8)
					}
				}
			}
		})
	}
}

func TestWarpPerspective(t *testing.T) {
	ramp := New(21, 8)
	for y := 0; y < ramp.H; y++ {
		for x := 0; x < ramp.W; x++ {
			i := ramp.Offset(x, y)
			ramp.Pix[i], ramp.Pix[i+1], ramp.Pix[i+2] = float32(10*x), float32(20*y), 7
		}
	}
	tests := []struct {
		name string
		m    Matrix
		w, h int
		want func(x, y int) [3]float32
	}{
		{
			"integer translation", Matrix{1, 0, -3, 0, 1, -2, 0, 0, 1}, 10, 4,
			func(x, y int) [3]float32 { return [3]float32{float32(10 * (x + 3)), float32(20 * (y + 2)), 7} },
		},
		{
			// Bicubic convolution reproduces a linear ramp exactly.
			"half pixel shift", Matrix{1, 0, 0.5, 0, 1, 0, 0, 0, 1}, 18, 8,
			func(x, y int) [3]float32 {
				// Near the left edge the replicated border bends the ramp:
				// at x=1 the taps read 0,0,10,20 with weights
				// -0.09375, 0.59375, 0.59375, -0.09375, giving 4.0625.
				switch x {
				case 0:
					return [3]float32{0, float32(20 * y), 7}
				case 1:
					return [3]float32{4, float32(20 * y), 7}
				}
				return [3]float32{float32(10*x - 5), float32(20 * y), 7}
			},
		},
		{
			"singular", Matrix{}, 3, 2,
			func(x, y int) [3]float32 { return [3]float32{} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := WarpPerspective(ramp, tt.m, tt.w, tt.h)
			if got.W != tt.w || got.H != tt.h {
				t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, tt.w, tt.h)
			}
			// Stay clear of the bottom rows, where the clamped border bends
			// the vertical ramp.
			for y := 0; y < tt.h && y < 6; y++ {
				for x := 0; x < tt.w; x++ {
					b, g, r := got.BGR(x, y)
					if want := tt.want(x, y); b != want[0] || g != want[1] || r != want[2] {
						t.Fatalf("(%d,%d) = %v,%v,%v, want %v", x, y, b, g, r, want)
					}
				}
			}
		})
	}
}

func BenchmarkResize(b *testing.B) {
	src := randomImage(rand.New(rand.NewSource(1)), 1920, 1080)
	b.ResetTimer()
	for b.Loop() {
		Resize(src, 960, 544)
	}
}

func TestPad(t *testing.T) {
	// A 4x3 image: border 200 except one dark border pixel, interior 0.
	src := New(4, 3)
	for i := range src.Pix {
		src.Pix[i] = 200
	}
	o := src.Offset(1, 1)
	src.Pix[o], src.Pix[o+1], src.Pix[o+2] = 0, 0, 0
	o = src.Offset(0, 0)
	src.Pix[o] = 10
	before := append([]float32(nil), src.Pix...)
	if bg := Background(src); bg != [3]float32{200, 200, 200} {
		t.Fatalf("background %v, want the border's median 200", bg)
	}
	out := Pad(src, 2)
	if out.W != 8 || out.H != 7 {
		t.Fatalf("size %dx%d, want 8x7", out.W, out.H)
	}
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			b, g, r := out.BGR(x, y)
			want := [3]float32{200, 200, 200}
			if x >= 2 && x < 6 && y >= 2 && y < 5 {
				want[0], want[1], want[2] = src.BGR(x-2, y-2)
			}
			if [3]float32{b, g, r} != want {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, [3]float32{b, g, r}, want)
			}
		}
	}
	if !slices.Equal(src.Pix, before) {
		t.Fatal("Pad modified its input")
	}
	if out := PadSides(src, 1, 0, [3]float32{1, 2, 3}); out.W != 6 || out.H != 3 {
		t.Fatalf("PadSides size %dx%d, want 6x3", out.W, out.H)
	} else if b, g, r := out.BGR(5, 2); b != 1 || g != 2 || r != 3 {
		t.Fatalf("PadSides fill %v %v %v", b, g, r)
	}
}
