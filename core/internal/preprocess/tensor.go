package preprocess

import (
	"fmt"
	"math"

	"github.com/sealocr/sealocr/core/internal/raster"
)

// DetSize returns the size DetInput resizes a w x h image to, following
// PaddleOCR's DetResizeForTest (resize type 0): with limitType "max" a longer
// side above limitSide is brought down to limitSide, with "min" a shorter side
// below limitSide is brought up to it, keeping the aspect ratio; each side is
// then truncated to an integer and rounded to the nearest multiple of 32
// (Python's round, halves to even), at least 32. Any other limitType is an
// error, as is a non-positive size or limit.
func DetSize(w, h, limitSide int, limitType string) (rw, rh int, err error) {
	if w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("preprocess: det resize of empty image %dx%d", w, h)
	}
	if limitSide <= 0 {
		return 0, 0, fmt.Errorf("preprocess: det limit side %d must be positive", limitSide)
	}
	ratio := 1.0
	limit := float64(limitSide)
	switch limitType {
	case "max":
		if max(h, w) > limitSide {
			if h > w {
				ratio = limit / float64(h)
			} else {
				ratio = limit / float64(w)
			}
		}
	case "min":
		if min(h, w) < limitSide {
			if h < w {
				ratio = limit / float64(h)
			} else {
				ratio = limit / float64(w)
			}
		}
	default:
		return 0, 0, fmt.Errorf("preprocess: det limit type %q, want \"max\" or \"min\"", limitType)
	}
	rh = int(float64(h) * ratio)
	rw = int(float64(w) * ratio)
	rh = max(int(math.RoundToEven(float64(rh)/32))*32, 32)
	rw = max(int(math.RoundToEven(float64(rw)/32))*32, 32)
	return rw, rh, nil
}

// DetInput builds the detector input for src: DetResizeForTest (see DetSize;
// like PaddleOCR, an image whose width plus height is below 64 is first
// padded with black on the right and bottom to at least 32 x 32), then
// NormalizeImage ((v/255 - mean) / std with mean (0.485, 0.456, 0.406) and
// std (0.229, 0.224, 0.225) applied to channels B, G, R in that order, in
// float32) and ToCHWImage. The tensor is NCHW for a batch of one,
// 3*resizedH*resizedW values. Boxes found on the resulting map are scaled
// back with the original src size, as PaddleOCR does.
//
// An invalid src (see raster.Image.Validate) or limit (see DetSize) gives a nil
// tensor and zero sizes; validate the limit once with DetSize beforehand.
func DetInput(src *raster.Image, limitSide int, limitType string) (tensor []float32, resizedW, resizedH int) {
	if src.Validate() != nil {
		return nil, 0, 0
	}
	img := src
	if src.W+src.H < 64 {
		img = padTo(src, max(src.W, 32), max(src.H, 32))
	}
	rw, rh, err := DetSize(img.W, img.H, limitSide, limitType)
	if err != nil {
		return nil, 0, 0
	}
	// PaddleOCR's NormalizeImage constants, for channels B, G, R in order.
	detMean := [3]float32{0.485, 0.456, 0.406}
	detStd := [3]float32{0.229, 0.224, 0.225}
	r := raster.Resize(img, rw, rh)
	plane := rw * rh
	tensor = make([]float32, 3*plane)
	scale := float32(1.0 / 255.0)
	for c := 0; c < 3; c++ {
		dst := tensor[c*plane : (c+1)*plane]
		m, s := detMean[c], detStd[c]
		for i := range dst {
			dst[i] = (r.Pix[3*i+c]*scale - m) / s
		}
	}
	return tensor, rw, rh
}

// padTo returns src on a black canvas of w x h pixels, anchored top-left.
func padTo(src *raster.Image, w, h int) *raster.Image {
	out := raster.New(w, h)
	for y := 0; y < src.H; y++ {
		copy(out.Pix[out.Offset(0, y):], src.Pix[src.Offset(0, y):src.Offset(0, y)+src.W*3])
	}
	return out
}

// LineWidth returns the width LineInput resizes a w x h crop to for a model
// input of dstH x dstW: min(dstW, ceil(dstH * (w/h))), as PaddleOCR's
// resize_norm_img computes it, at least 1.
func LineWidth(w, h, dstH, dstW int) int {
	if w <= 0 || h <= 0 {
		return 1
	}
	ratio := float64(w) / float64(h)
	rw := math.Ceil(float64(dstH) * ratio)
	if rw > float64(dstW) {
		return max(dstW, 1)
	}
	return max(int(rw), 1)
}

// LineInput writes the classifier or recognizer input for the text-line crop
// img into dst (3*dstH*dstW values, CHW), reproducing PaddleOCR's
// resize_norm_img: img is resized (bilinear, see raster.Resize) to LineWidth x dstH,
// each value becomes (v/255 - 0.5) / 0.5, and the columns right of the
// resized width are set to 0. Channels stay in B, G, R order. It panics if
// dst is shorter than 3*dstH*dstW or a size is not positive.
func LineInput(dst []float32, img *raster.Image, dstH, dstW int) {
	if dstH <= 0 || dstW <= 0 {
		panic(fmt.Sprintf("preprocess: LineInput size %dx%d", dstW, dstH))
	}
	plane := dstH * dstW
	if len(dst) < 3*plane {
		panic(fmt.Sprintf("preprocess: LineInput dst has %d values, want %d", len(dst), 3*plane))
	}
	rw := LineWidth(img.W, img.H, dstH, dstW)
	r := raster.Resize(img, rw, dstH)
	for c := 0; c < 3; c++ {
		p := dst[c*plane : (c+1)*plane]
		for y := 0; y < dstH; y++ {
			row := p[y*dstW : (y+1)*dstW]
			src := r.Pix[y*rw*3:]
			for x := 0; x < rw; x++ {
				row[x] = (src[3*x+c]/255 - 0.5) / 0.5
			}
			clear(row[rw:])
		}
	}
}
