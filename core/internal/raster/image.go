// Package raster holds the image type every OCR stage passes on and the
// raster operations the PaddleOCR reference pipeline performs with OpenCV:
// bilinear resize (cv2.resize INTER_LINEAR), perspective warp
// (cv2.warpPerspective INTER_CUBIC, BORDER_REPLICATE) and quarter and half
// turns (np.rot90, cv2.rotate). Every operation returns a new image and
// leaves its input unchanged.
//
// Images are kept as float32 in the 8-bit range with three interleaved
// channels in BGR order, as OpenCV holds them, so that the normalisation
// constants PaddleOCR applies per channel line up with the same channels.
// Operations that produce pixels from other pixels round and clamp them to
// integers in [0, 255], as OpenCV's uint8 output would.
package raster

import (
	"fmt"
	"image"
	"image/color"
	"slices"
)

// Image is an image of W x H pixels with 3 interleaved float32 channels in
// BGR order (HWC layout), values in the 8-bit range [0, 255]. The channels of
// pixel (x, y) start at Pix[(y*W+x)*3].
type Image struct {
	W, H int
	Pix  []float32
}

// New returns a black image of w x h pixels. Negative sizes are treated as 0.
func New(w, h int) *Image {
	w, h = max(w, 0), max(h, 0)
	return &Image{W: w, H: h, Pix: make([]float32, w*h*3)}
}

// Offset returns the index in Pix of the first channel of pixel (x, y).
func (m *Image) Offset(x, y int) int { return (y*m.W + x) * 3 }

// BGR returns the three channels of pixel (x, y).
func (m *Image) BGR(x, y int) (b, g, r float32) {
	i := m.Offset(x, y)
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

// Validate reports whether m's dimensions and pixel buffer agree.
func (m *Image) Validate() error {
	if m == nil {
		return fmt.Errorf("raster: nil image")
	}
	if m.W <= 0 || m.H <= 0 {
		return fmt.Errorf("raster: empty image %dx%d", m.W, m.H)
	}
	if len(m.Pix) != m.W*m.H*3 {
		return fmt.Errorf("raster: image %dx%d has %d values, want %d", m.W, m.H, len(m.Pix), m.W*m.H*3)
	}
	return nil
}

// ToRGBA converts m to an *image.RGBA (rounded and clamped), for debugging
// and tests.
func (m *Image) ToRGBA() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			b, g, r := m.BGR(x, y)
			out.SetRGBA(x, y, color.RGBA{R: To8(r), G: To8(g), B: To8(b), A: 255})
		}
	}
	return out
}

// To8 rounds v to the nearest integer and clamps it to [0, 255].
func To8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// Sat rounds v to the nearest integer and clamps it to [0, 255], as OpenCV's
// saturate_cast<uchar> does for interpolated values.
func Sat(v float32) float32 { return float32(To8(v)) }

// FromImage converts img to an Image in BGR order. The alpha channel is
// ignored: img is expected to be opaque or already composited onto a
// background. *image.NRGBA, *image.RGBA, *image.YCbCr and *image.Gray are
// converted directly; any other type goes through the color.Color interface.
func FromImage(img image.Image) *Image {
	b := img.Bounds()
	out := New(b.Dx(), b.Dy())
	p := out.Pix
	switch src := img.(type) {
	case *image.NRGBA:
		for y := 0; y < out.H; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < out.W; x++ {
				i := out.Offset(x, y)
				p[i], p[i+1], p[i+2] = float32(row[4*x+2]), float32(row[4*x+1]), float32(row[4*x])
			}
		}
	case *image.RGBA:
		for y := 0; y < out.H; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < out.W; x++ {
				i := out.Offset(x, y)
				p[i], p[i+1], p[i+2] = float32(row[4*x+2]), float32(row[4*x+1]), float32(row[4*x])
			}
		}
	case *image.YCbCr:
		for y := 0; y < out.H; y++ {
			for x := 0; x < out.W; x++ {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bb := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				i := out.Offset(x, y)
				p[i], p[i+1], p[i+2] = float32(bb), float32(g), float32(r)
			}
		}
	case *image.Gray:
		for y := 0; y < out.H; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < out.W; x++ {
				v := float32(row[x])
				i := out.Offset(x, y)
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
	default:
		for y := 0; y < out.H; y++ {
			for x := 0; x < out.W; x++ {
				r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				i := out.Offset(x, y)
				p[i], p[i+1], p[i+2] = float32(bb>>8), float32(g>>8), float32(r>>8)
			}
		}
	}
	return out
}

// Rotate90CCW returns src rotated by 90 degrees counter-clockwise, like
// np.rot90(img): the right-most column becomes the top row.
func Rotate90CCW(src *Image) *Image {
	out := New(src.H, src.W)
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			s := src.Offset(src.W-1-y, x)
			d := out.Offset(x, y)
			copy(out.Pix[d:d+3], src.Pix[s:s+3])
		}
	}
	return out
}

// Rotate180 returns src rotated by 180 degrees, like cv2.rotate with
// ROTATE_180 (the angle classifier's correction).
func Rotate180(src *Image) *Image {
	out := New(src.W, src.H)
	n := src.W * src.H
	for i := 0; i < n; i++ {
		copy(out.Pix[3*i:3*i+3], src.Pix[3*(n-1-i):3*(n-1-i)+3])
	}
	return out
}

// Pad returns src with m pixels added on every side, filled with src's
// background: the per-channel median of its border pixels.
func Pad(src *Image, m int) *Image {
	return PadSides(src, m, m, Background(src))
}

// PadSides returns src with mx columns added left and right and my rows
// above and below, filled with bg (B, G, R).
func PadSides(src *Image, mx, my int, bg [3]float32) *Image {
	mx, my = max(mx, 0), max(my, 0)
	out := New(src.W+2*mx, src.H+2*my)
	for i := 0; i < len(out.Pix); i += 3 {
		copy(out.Pix[i:i+3], bg[:])
	}
	for y := 0; y < src.H; y++ {
		copy(out.Pix[out.Offset(mx, y+my):], src.Pix[src.Offset(0, y):src.Offset(0, y)+3*src.W])
	}
	return out
}

// Background is the per-channel median of src's border pixels (black for an
// empty image).
func Background(src *Image) [3]float32 {
	var bg [3]float32
	if src.W <= 0 || src.H <= 0 {
		return bg
	}
	var vals [3][]float32
	add := func(x, y int) {
		b, g, r := src.BGR(x, y)
		vals[0], vals[1], vals[2] = append(vals[0], b), append(vals[1], g), append(vals[2], r)
	}
	for x := 0; x < src.W; x++ {
		add(x, 0)
		add(x, src.H-1)
	}
	for y := 1; y < src.H-1; y++ {
		add(0, y)
		add(src.W-1, y)
	}
	for c := range vals {
		slices.Sort(vals[c])
		bg[c] = vals[c][len(vals[c])/2]
	}
	return bg
}
