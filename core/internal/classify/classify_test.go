package classify_test

import (
	"context"
	"slices"
	"testing"

	"github.com/sealocr/sealocr/core/internal/classify"
	"github.com/sealocr/sealocr/core/internal/enginetest"
	"github.com/sealocr/sealocr/core/internal/raster"
	"github.com/sealocr/sealocr/models"
)

// TestApply turns the upside-down line of the shared set upright, leaves the
// upright one as it is, and modifies neither the caller's slice nor its
// images.
func TestApply(t *testing.T) {
	c := classify.New(enginetest.Session(t, models.RoleCls), classify.Options{})
	upside := enginetest.Raster(t, "rapidocr/lines/text_cls_rot180.jpg")
	upright := enginetest.Raster(t, "rapidocr/lines/text_rec.jpg")
	crops := []*raster.Image{upside, upright}
	given := slices.Clone(crops)
	pix := [][]float32{slices.Clone(upside.Pix), slices.Clone(upright.Pix)}

	res, err := c.Apply(context.Background(), crops)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d results for 2 crops", len(res))
	}
	if !res[0].Rotated || res[0].Upright == upside {
		t.Errorf("upside-down line: rotated %v, upright is the crop itself: %v", res[0].Rotated, res[0].Upright == upside)
	} else if want := raster.Rotate180(upside); !slices.Equal(res[0].Upright.Pix, want.Pix) {
		t.Error("upside-down line: upright image is not the crop turned by 180°")
	}
	if res[1].Rotated || res[1].Upright != upright {
		t.Errorf("upright line: rotated %v, upright is the crop itself: %v", res[1].Rotated, res[1].Upright == upright)
	}
	for i, r := range res {
		if r.Score < 0.5 || r.Score > 1 {
			t.Errorf("crop %d: score %v outside [0.5, 1]", i, r.Score)
		}
	}
	if !slices.Equal(crops, given) {
		t.Error("Apply replaced images in the caller's slice")
	}
	for i, m := range given {
		if !slices.Equal(m.Pix, pix[i]) {
			t.Errorf("Apply modified the pixels of crop %d", i)
		}
	}
}
