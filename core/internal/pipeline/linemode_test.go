package pipeline_test

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/enginetest"
	"github.com/sealocr/sealocr/core/internal/pipeline"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// rotate returns src turned by deg degrees about its centre, on a canvas of
// the same size (corners replicate the border, as a scanner's background).
func rotate(src *raster.Image, deg float64) *raster.Image {
	a := deg * math.Pi / 180
	c, s := math.Cos(a), math.Sin(a)
	cx, cy := float64(src.W)/2, float64(src.H)/2
	m := raster.Matrix{c, -s, cx - c*cx + s*cy, s, c, cy - s*cx - c*cy, 0, 0, 1}
	return raster.WarpPerspective(src, m, src.W, src.H)
}

// lowContrast maps every value v to 150 + v*0.35: dark grey ink on light grey.
func lowContrast(src *raster.Image) *raster.Image {
	out := &raster.Image{W: src.W, H: src.H, Pix: make([]float32, len(src.Pix))}
	for i, v := range src.Pix {
		out.Pix[i] = float32(math.Round(float64(150 + v*0.35)))
	}
	return out
}

// TestLineModeFindsTheLine reads one tight line crop in line mode after
// giving it what a photographed or scanned single line has: wide margins,
// a slight rotation, low contrast. Line mode finds the text before reading
// it, so each variant reads as the tight crop does.
func TestLineModeFindsTheLine(t *testing.T) {
	e := enginetest.Engine(t)
	const rel, want = "rapidocr/lines/test_without_det.jpg", "在中国作家协会第三届儿童文学"
	data, err := os.ReadFile(enginetest.Testdata(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := decode.Decode(data, decode.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tight := raster.FromImage(img)
	white := [3]float32{255, 255, 255}
	wide := raster.PadSides(tight, 3*tight.H, 2*tight.H, white)
	variants := []struct {
		name string
		img  *raster.Image
	}{
		{"tight", tight},
		{"wide margins", wide},
		{"wide margins, +3°", rotate(wide, 3)},
		{"wide margins, -2.5°", rotate(wide, -2.5)},
		{"wide margins, low contrast", lowContrast(wide)},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			res, err := e.Run(context.Background(), v.img.ToRGBA(), pipeline.Options{Mode: pipeline.ModeLine})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Lines) != 1 || res.Lines[0].Text != want {
				t.Fatalf("got %q, want %q", res.Text(), want)
			}
			// The box is the line's, inside the image.
			for _, p := range res.Lines[0].Box {
				if p[0] < 0 || p[1] < 0 || p[0] > v.img.W || p[1] > v.img.H {
					t.Fatalf("box %v outside the %dx%d image", res.Lines[0].Box, v.img.W, v.img.H)
				}
			}
		})
	}
}
