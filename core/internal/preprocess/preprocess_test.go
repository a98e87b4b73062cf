package preprocess

import (
	"image"
	"image/color"
	"math"
	"math/rand"
	"testing"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// gray builds an image from rows of values, the same value in all channels.
func gray(rows [][]float32) *Image {
	m := New(len(rows[0]), len(rows))
	for y, row := range rows {
		for x, v := range row {
			i := m.offset(x, y)
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
			out[y][x] = m.Pix[m.offset(x, y)+c]
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

// subImage returns the plain crop of m at [x0, x0+w) x [y0, y0+h).
func subImage(m *Image, x0, y0, w, h int) *Image {
	out := New(w, h)
	for y := 0; y < h; y++ {
		copy(out.Pix[out.offset(0, y):out.offset(w, y)], m.Pix[m.offset(x0, y0+y):m.offset(x0+w, y0+y)])
	}
	return out
}

func TestCropQuad(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	src := randomImage(rng, 80, 60)
	quad := func(x0, y0, x1, y1 float64) geom.Quad {
		return geom.Quad{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
	}
	tests := []struct {
		name   string
		q      geom.Quad
		want   *Image
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
				want = Rotate90CCW(want)
			}
			got := CropQuad(src, tt.q)
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

func TestCropQuadRotatedBox(t *testing.T) {
	// A horizontal ramp image cropped along a rotated box: the crop's
	// columns must follow the box direction.
	src := New(200, 200)
	for y := 0; y < 200; y++ {
		for x := 0; x < 200; x++ {
			i := src.offset(x, y)
			src.Pix[i], src.Pix[i+1], src.Pix[i+2] = float32(x), float32(y), 0
		}
	}
	r := geom.RotatedRect{Center: geom.Point{X: 100, Y: 100}, W: 80.5, H: 20.5, Angle: 30}
	pts := r.Points()
	q, _ := geom.MiniBox(pts[:])
	got := CropQuad(src, q)
	if got.W != 80 || got.H != 20 {
		t.Fatalf("size %dx%d, want 80x20", got.W, got.H)
	}
	inv, ok := PerspectiveTransform([4]geom.Point{{X: 0, Y: 0}, {X: 80, Y: 0}, {X: 80, Y: 20}, {X: 0, Y: 20}}, q)
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

func TestDetSize(t *testing.T) {
	// Expected sizes computed with PaddleOCR's resize_image_type0 in Python.
	tests := []struct {
		w, h, limit int
		typ         string
		rw, rh      int
	}{
		{1000, 1400, 960, "max", 672, 960},
		{1400, 1000, 960, "max", 960, 672},
		{1000, 500, 736, "min", 1472, 736},
		{2000, 1000, 736, "min", 1984, 992},
		{100, 50, 960, "max", 96, 64},
		{80, 16, 960, "max", 64, 32}, // 2.5 and 0.5 round to even
		{3000, 1, 960, "max", 960, 32},
		{333, 777, 960, "min", 960, 2240},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			rw, rh, err := DetSize(tt.w, tt.h, tt.limit, tt.typ)
			if err != nil || rw != tt.rw || rh != tt.rh {
				t.Errorf("DetSize(%d,%d,%d,%s) = %d,%d,%v, want %d,%d", tt.w, tt.h, tt.limit, tt.typ, rw, rh, err, tt.rw, tt.rh)
			}
		})
	}
	if _, _, err := DetSize(10, 10, 960, "resize_long"); err == nil {
		t.Error("unknown limit type accepted")
	}
}

func TestDetInput(t *testing.T) {
	tests := []struct {
		name   string
		w, h   int
		rw, rh int
		probe  [2]int // a pixel of the resized image
		bgr    [3]float32
		padded bool
	}{
		{"constant colour", 64, 96, 64, 96, [2]int{10, 20}, [3]float32{255, 0, 128}, false},
		{"tiny image padded", 10, 10, 32, 32, [2]int{20, 20}, [3]float32{255, 0, 128}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := New(tt.w, tt.h)
			for i := 0; i < tt.w*tt.h; i++ {
				copy(src.Pix[3*i:], tt.bgr[:])
			}
			tensor, rw, rh := DetInput(src, 960, "max")
			if rw != tt.rw || rh != tt.rh || len(tensor) != 3*rw*rh {
				t.Fatalf("got %dx%d (%d values), want %dx%d", rw, rh, len(tensor), tt.rw, tt.rh)
			}
			mean := [3]float64{0.485, 0.456, 0.406}
			std := [3]float64{0.229, 0.224, 0.225}
			for c := 0; c < 3; c++ {
				v := float64(tt.bgr[c])
				if tt.padded {
					v = 0
				}
				want := (v/255 - mean[c]) / std[c]
				got := tensor[c*rw*rh+tt.probe[1]*rw+tt.probe[0]]
				if math.Abs(float64(got)-want) > 1e-5 {
					t.Errorf("channel %d = %v, want %v", c, got, want)
				}
			}
		})
	}
	if tensor, _, _ := DetInput(New(0, 0), 960, "max"); tensor != nil {
		t.Error("empty image gave a tensor")
	}
}

func TestLineInput(t *testing.T) {
	tests := []struct {
		name       string
		w, h       int
		dstH, dstW int
		wantW      int
	}{
		{"short line padded", 100, 50, 48, 320, 96},
		{"ceil of width", 101, 50, 48, 320, 97}, // ceil(48*2.02) = 97
		{"long line squeezed", 1000, 20, 48, 320, 320},
		{"classifier", 60, 30, 48, 192, 96},
		{"tall crop", 10, 100, 48, 192, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := New(tt.w, tt.h)
			for i := 0; i < tt.w*tt.h; i++ {
				src.Pix[3*i], src.Pix[3*i+1], src.Pix[3*i+2] = 0, 255, 51
			}
			if got := LineWidth(tt.w, tt.h, tt.dstH, tt.dstW); got != tt.wantW {
				t.Fatalf("LineWidth = %d, want %d", got, tt.wantW)
			}
			dst := make([]float32, 3*tt.dstH*tt.dstW)
			for i := range dst {
				dst[i] = 7 // must be overwritten
			}
			LineInput(dst, src, tt.dstH, tt.dstW)
			want := [3]float32{-1, 1, -0.6}
			plane := tt.dstH * tt.dstW
			for c := 0; c < 3; c++ {
				for y := 0; y < tt.dstH; y++ {
					for x := 0; x < tt.dstW; x++ {
						got := dst[c*plane+y*tt.dstW+x]
						w := want[c]
						if x >= tt.wantW {
							w = 0
						}
						if math.Abs(float64(got-w)) > 1e-6 {
							t.Fatalf("c=%d y=%d x=%d: %v, want %v", c, y, x, got, w)
						}
					}
				}
			}
		})
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

func TestApply(t *testing.T) {
	src := New(40, 20)
	for i := 0; i < 40*20; i++ {
		v := float32(100 + i%51) // luma 100..150
		src.Pix[3*i], src.Pix[3*i+1], src.Pix[3*i+2] = v, v, v
	}
	src.Pix[0] = 0 // B of the first pixel differs: grayscale must fix it
	tests := []struct {
		name  string
		o     Options
		w, h  int
		check func(t *testing.T, m *Image)
	}{
		{"nothing", Options{}, 40, 20, func(t *testing.T, m *Image) {
			if m != src {
				t.Error("zero options copied the image")
			}
		}},
		{"grayscale", Options{Grayscale: true}, 40, 20, func(t *testing.T, m *Image) {
			for i := 0; i < m.W*m.H; i++ {
				if m.Pix[3*i] != m.Pix[3*i+1] || m.Pix[3*i+1] != m.Pix[3*i+2] {
					t.Fatalf("pixel %d not gray", i)
				}
			}
			if want := sat(luma(0, 100, 100)); m.Pix[0] != want {
				t.Errorf("pixel 0 = %v, want %v", m.Pix[0], want)
			}
		}},
		{"auto contrast", Options{AutoContrast: true}, 40, 20, func(t *testing.T, m *Image) {
			lo, hi := float32(255), float32(0)
			for _, v := range m.Pix[3:] {
				lo, hi = min(lo, v), max(hi, v)
			}
			if lo != 0 || hi != 255 {
				t.Errorf("range %v..%v, want 0..255", lo, hi)
			}
		}},
		{"min side", Options{MinSide: 50}, 100, 50, nil},
		{"max side", Options{MaxSide: 30}, 30, 15, nil},
		{"max wins over min", Options{MinSide: 100, MaxSide: 60}, 60, 30, nil},
		{"within limits", Options{MinSide: 10, MaxSide: 100}, 40, 20, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Apply(src, tt.o)
			if m.W != tt.w || m.H != tt.h {
				t.Fatalf("size %dx%d, want %dx%d", m.W, m.H, tt.w, tt.h)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
			if src.Pix[0] != 0 || src.Pix[3] != 101 {
				t.Error("source modified")
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

func BenchmarkCropQuad(b *testing.B) {
	src := randomImage(rand.New(rand.NewSource(1)), 1920, 1080)
	r := geom.RotatedRect{Center: geom.Point{X: 900, Y: 500}, W: 600, H: 48, Angle: 5}
	pts := r.Points()
	q, _ := geom.MiniBox(pts[:])
	b.ResetTimer()
	for b.Loop() {
		CropQuad(src, q)
	}
}

func BenchmarkDetInput(b *testing.B) {
	src := randomImage(rand.New(rand.NewSource(1)), 1920, 1080)
	for b.Loop() {
		DetInput(src, 960, "max")
	}
}

func TestWarpPerspective(t *testing.T) {
	ramp := New(21, 8)
	for y := 0; y < ramp.H; y++ {
		for x := 0; x < ramp.W; x++ {
			i := ramp.offset(x, y)
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

func TestCropQuadEdgeCases(t *testing.T) {
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
			got := CropQuad(src, tt.q)
			if got.W != tt.w || got.H != tt.h || len(got.Pix) != tt.w*tt.h*3 {
				t.Fatalf("size %dx%d (%d values), want %dx%d", got.W, got.H, len(got.Pix), tt.w, tt.h)
			}
		})
	}
}
