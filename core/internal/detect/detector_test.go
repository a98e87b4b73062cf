package detect_test

import (
	"context"
	"slices"
	"testing"

	"github.com/sealocr/sealocr/core/internal/detect"
	"github.com/sealocr/sealocr/core/internal/enginetest"
	"github.com/sealocr/sealocr/models"
)

// TestDetector finds the lines of a four-line paragraph inside the page and
// leaves the page as it was.
func TestDetector(t *testing.T) {
	s := enginetest.Session(t, models.RoleDet)
	if _, err := detect.New(s, 960, "longest", detect.DefaultOptions()); err == nil {
		t.Error("unknown limit type accepted")
	}
	d, err := detect.New(s, 960, "max", detect.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	page := enginetest.Raster(t, "cnocr/pages/multi-line_en_black.png")
	pix := slices.Clone(page.Pix)
	boxes, err := d.Detect(context.Background(), page)
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) < 4 {
		t.Errorf("%d boxes on a page of 4 lines", len(boxes))
	}
	for _, b := range boxes {
		for _, p := range b.Quad {
			if p.X < 0 || p.Y < 0 || p.X >= float64(page.W) || p.Y >= float64(page.H) {
				t.Errorf("box %v leaves the %dx%d page", b.Quad, page.W, page.H)
			}
		}
		if b.Score < detect.DefaultOptions().BoxThresh {
			t.Errorf("box %v scored %v, below the threshold", b.Quad, b.Score)
		}
	}
	if !slices.Equal(page.Pix, pix) {
		t.Error("Detect modified the page")
	}
}
