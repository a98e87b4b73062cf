package preprocess

import (
	"math"
	"math/rand"
	"testing"

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
			src := raster.New(tt.w, tt.h)
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
	if tensor, _, _ := DetInput(raster.New(0, 0), 960, "max"); tensor != nil {
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
			src := raster.New(tt.w, tt.h)
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

func TestApply(t *testing.T) {
	src := raster.New(40, 20)
	for i := 0; i < 40*20; i++ {
		v := float32(100 + i%51) // luma 100..150
		src.Pix[3*i], src.Pix[3*i+1], src.Pix[3*i+2] = v, v, v
	}
	src.Pix[0] = 0 // B of the first pixel differs: grayscale must fix it
	tests := []struct {
		name  string
		o     Options
		w, h  int
		check func(t *testing.T, m *raster.Image)
	}{
		{"nothing", Options{}, 40, 20, func(t *testing.T, m *raster.Image) {
			if m != src {
				t.Error("zero options copied the image")
			}
		}},
		{"grayscale", Options{Grayscale: true}, 40, 20, func(t *testing.T, m *raster.Image) {
			for i := 0; i < m.W*m.H; i++ {
				if m.Pix[3*i] != m.Pix[3*i+1] || m.Pix[3*i+1] != m.Pix[3*i+2] {
					t.Fatalf("pixel %d not gray", i)
				}
			}
			if want := raster.Sat(luma(0, 100, 100)); m.Pix[0] != want {
				t.Errorf("pixel 0 = %v, want %v", m.Pix[0], want)
			}
		}},
		{"auto contrast", Options{AutoContrast: true}, 40, 20, func(t *testing.T, m *raster.Image) {
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

func BenchmarkDetInput(b *testing.B) {
	src := randomImage(rand.New(rand.NewSource(1)), 1920, 1080)
	for b.Loop() {
		DetInput(src, 960, "max")
	}
}
