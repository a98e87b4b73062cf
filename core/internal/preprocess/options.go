// Package preprocess prepares images for the models. Its stage, Apply, is
// the optional normalisation of a page before detection (grayscale, auto
// contrast, size limits); DetInput and LineInput build the float tensors the
// PP-OCRv4 detection, angle-classification and recognition models take,
// reproducing PaddleOCR's DetResizeForTest, NormalizeImage and
// resize_norm_img. Nothing here modifies its input.
package preprocess

import (
	"math"

	"github.com/sealocr/sealocr/core/internal/raster"
)

// Options selects optional normalisation of an input image before
// detection. The zero value changes nothing; none of these steps is part of
// the PaddleOCR reference pipeline.
type Options struct {
	// Grayscale replaces every pixel by its luma (0.299 R + 0.587 G +
	// 0.114 B, as cv2.COLOR_BGR2GRAY) in all three channels.
	Grayscale bool
	// AutoContrast stretches the 1st..99th percentile of luma linearly to
	// 0..255, applying the same map to every channel and clamping.
	AutoContrast bool
	// MinSide, if positive, upscales the image so its shorter side is at
	// least MinSide pixels.
	MinSide int
	// MaxSide, if positive, downscales the image so its longer side is at
	// most MaxSide pixels; it wins over MinSide.
	MaxSide int
}

// Apply returns src transformed by o: grayscale, then auto contrast, then
// the size limits (bilinear raster.Resize keeping the aspect ratio, each side
// rounded and at least 1). It returns src itself when o asks for nothing that
// changes it, and never modifies src.
func Apply(src *raster.Image, o Options) *raster.Image {
	out := src
	if o.Grayscale {
		out = grayscale(out)
	}
	if o.AutoContrast {
		out = autoContrast(out)
	}
	if w, h, ok := limitSize(out.W, out.H, o.MinSide, o.MaxSide); ok {
		out = raster.Resize(out, w, h)
	}
	return out
}

// luma returns the BT.601 luma of a BGR pixel, as cv2.COLOR_BGR2GRAY.
func luma(b, g, r float32) float32 { return 0.114*b + 0.587*g + 0.299*r }

// grayscale returns a copy of src with luma in all channels.
func grayscale(src *raster.Image) *raster.Image {
	out := raster.New(src.W, src.H)
	for i := 0; i+2 < len(src.Pix); i += 3 {
		v := raster.Sat(luma(src.Pix[i], src.Pix[i+1], src.Pix[i+2]))
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = v, v, v
	}
	return out
}

// autoContrast returns a copy of src with the 1st..99th luma percentiles
// stretched to 0..255, or src itself if that range is empty.
func autoContrast(src *raster.Image) *raster.Image {
	var hist [256]int
	n := len(src.Pix) / 3
	if n == 0 {
		return src
	}
	for i := 0; i+2 < len(src.Pix); i += 3 {
		hist[raster.To8(luma(src.Pix[i], src.Pix[i+1], src.Pix[i+2]))]++
	}
	lo, hi := percentile(&hist, n, 0.01), percentile(&hist, n, 0.99)
	if hi <= lo {
		return src
	}
	out := raster.New(src.W, src.H)
	scale := 255 / float32(hi-lo)
	for i, v := range src.Pix {
		out.Pix[i] = raster.Sat((v - float32(lo)) * scale)
	}
	return out
}

// percentile returns the smallest value whose cumulative count reaches
// q*n.
func percentile(hist *[256]int, n int, q float64) int {
	target := int(math.Ceil(q * float64(n)))
	cum := 0
	for v, c := range hist {
		cum += c
		if cum >= max(target, 1) {
			return v
		}
	}
	return 255
}

// limitSize returns the size a w x h image is scaled to under minSide and
// maxSide, and whether it differs from w x h.
// Size is the size of a w×h image after Apply with o.
func Size(w, h int, o Options) (int, int) {
	if nw, nh, ok := limitSize(w, h, o.MinSide, o.MaxSide); ok {
		return nw, nh
	}
	return w, h
}

func limitSize(w, h, minSide, maxSide int) (int, int, bool) {
	if w <= 0 || h <= 0 {
		return w, h, false
	}
	scale := 1.0
	if minSide > 0 && min(w, h) < minSide {
		scale = float64(minSide) / float64(min(w, h))
	}
	if maxSide > 0 && float64(max(w, h))*scale > float64(maxSide) {
		scale = float64(maxSide) / float64(max(w, h))
	}
	if scale == 1 {
		return w, h, false
	}
	nw := max(int(math.Round(float64(w)*scale)), 1)
	nh := max(int(math.Round(float64(h)*scale)), 1)
	return nw, nh, nw != w || nh != h
}
