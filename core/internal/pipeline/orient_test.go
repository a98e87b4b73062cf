package pipeline

import (
	"testing"

	"github.com/sealocr/sealocr/core/internal/geom"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// TestTurnMapsPixels: for each turn, the pixel at a point of the page as
// sent lands where toUpright maps that point on the page turn.upright
// makes, and fromUpright maps it back.
func TestTurnMapsPixels(t *testing.T) {
	const w, h = 7, 4
	page := raster.New(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := page.Offset(x, y)
			page.Pix[o], page.Pix[o+1] = float32(x), float32(y)
		}
	}
	for tn := turn(0); tn < 4; tn++ {
		up := tn.upright(page)
		if tn%2 == 1 && (up.W != h || up.H != w) || tn%2 == 0 && (up.W != w || up.H != h) {
			t.Fatalf("turn %d: upright page %dx%d", tn, up.W, up.H)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				// The pixel's centre.
				c := geom.Point{X: float64(x) + 0.5, Y: float64(y) + 0.5}
				u := tn.toUpright(c, w, h)
				o := up.Offset(int(u.X), int(u.Y))
				if up.Pix[o] != float32(x) || up.Pix[o+1] != float32(y) {
					t.Fatalf("turn %d: pixel (%d,%d) mapped to (%v,%v) holds (%v,%v)", tn, x, y, u.X, u.Y, up.Pix[o], up.Pix[o+1])
				}
				if b := tn.fromUpright(u, w, h); b != c {
					t.Fatalf("turn %d: (%v,%v) maps back to (%v,%v)", tn, c.X, c.Y, b.X, b.Y)
				}
			}
		}
		if d := tn.degrees(); d != 90*int(tn) {
			t.Errorf("turn %d: %d degrees", tn, d)
		}
	}
}

func TestVotes(t *testing.T) {
	box := func(w, h float64) geom.Quad { return geom.Quad{{X: 0, Y: 0}, {X: w, Y: 0}, {X: w, Y: h}, {X: 0, Y: h}} }
	tall, wide, square := box(20, 200), box(200, 20), box(20, 20)
	for _, tc := range []struct {
		name  string
		boxes []geom.Quad
		want  bool
	}{
		{"turned page", []geom.Quad{tall, tall, tall, wide, square}, true},
		{"upright page", []geom.Quad{wide, wide, wide, tall, square}, false},
		{"one tall box", []geom.Quad{tall, square}, false},
		{"as many tall as twice the wide", []geom.Quad{tall, tall, wide}, false},
	} {
		if got := tallVote(tc.boxes); got != tc.want {
			t.Errorf("%s: tallVote = %v", tc.name, got)
		}
	}
}
