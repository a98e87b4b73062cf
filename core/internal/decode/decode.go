// Package decode turns request bytes into an upright, opaque RGB image: it
// sniffs the format from the bytes (never from the client's label), checks the
// pixel count with image.DecodeConfig before allocating anything, applies the
// EXIF orientation of JPEG photos, and composites transparency onto a
// background that keeps the text visible.
package decode

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif"  // register GIF
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG

	_ "golang.org/x/image/bmp"  // register BMP
	_ "golang.org/x/image/tiff" // register TIFF
	_ "golang.org/x/image/webp" // register WebP
)

// Sentinel errors; the HTTP layer maps each to a fixed client message.
var (
	// ErrNotImage: the bytes are not an image in a supported format, or are
	// truncated or corrupt.
	ErrNotImage = errors.New("decode: not a supported image")
	// ErrTooManyPixels: the header declares more pixels than the limit (or a
	// side longer than the limit); nothing was decoded.
	ErrTooManyPixels = errors.New("decode: image exceeds the pixel limit")
)

// Limits bound what Decode accepts.
type Limits struct {
	MaxPixels int64 // width × height; 0 means DefaultMaxPixels
	MaxSide   int   // longest side; 0 means DefaultMaxSide
}

// Defaults for Limits.
const (
	DefaultMaxPixels = 40_000_000
	DefaultMaxSide   = 20_000
)

// MediaTypes maps accepted Content-Type values to format names.
var MediaTypes = map[string]string{
	"image/png":      "png",
	"image/jpeg":     "jpeg",
	"image/jpg":      "jpeg",
	"image/gif":      "gif",
	"image/bmp":      "bmp",
	"image/x-ms-bmp": "bmp",
	"image/tiff":     "tiff",
	"image/webp":     "webp",
}

// Config reads only the header: format and size.
func Config(data []byte) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return image.Config{}, "", fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	return cfg, format, nil
}

// Decode decodes data within the limits and returns an opaque NRGBA image,
// upright per EXIF, and the detected format.
func Decode(data []byte, lim Limits) (*image.NRGBA, string, error) {
	if lim.MaxPixels <= 0 {
		lim.MaxPixels = DefaultMaxPixels
	}
	if lim.MaxSide <= 0 {
		lim.MaxSide = DefaultMaxSide
	}
	cfg, format, err := Config(data)
	if err != nil {
		return nil, "", err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, format, fmt.Errorf("%w: empty image", ErrNotImage)
	}
	if cfg.Width > lim.MaxSide || cfg.Height > lim.MaxSide ||
		int64(cfg.Width)*int64(cfg.Height) > lim.MaxPixels {
		return nil, format, fmt.Errorf("%w: %dx%d", ErrTooManyPixels, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, format, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	// A GIF's first frame may be smaller than its logical screen; nothing
	// may be larger than the header declared and the limits allowed.
	b := img.Bounds()
	if b.Dx() > cfg.Width || b.Dy() > cfg.Height || b.Empty() {
		return nil, format, fmt.Errorf("%w: decoded size differs from header", ErrNotImage)
	}
	out := flatten(img)
	if format == "jpeg" {
		out = orient(out, jpegOrientation(data))
	}
	return out, format, nil
}

// flatten converts any image to opaque NRGBA. Transparent pixels are
// composited onto white, unless the visible content is itself light (white
// text on a transparent page), in which case black keeps it legible.
func flatten(img image.Image) *image.NRGBA {
	b := img.Bounds()
	src := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	if opaque(img) {
		return src
	}
	// Alpha-weighted mean luminance of what is visible.
	var lum, wsum float64
	p := src.Pix
	for i := 0; i+3 < len(p); i += 4 {
		a := float64(p[i+3]) / 255
		if a == 0 {
			continue
		}
		lum += a * (0.299*float64(p[i]) + 0.587*float64(p[i+1]) + 0.114*float64(p[i+2]))
		wsum += a
	}
	bg := uint8(255)
	if wsum > 0 && lum/wsum > 160 {
		bg = 0
	}
	for i := 0; i+3 < len(p); i += 4 {
		a := uint32(p[i+3])
		for c := 0; c < 3; c++ {
			p[i+c] = uint8((uint32(p[i+c])*a + uint32(bg)*(255-a) + 127) / 255)
		}
		p[i+3] = 255
	}
	return src
}

func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	switch img.ColorModel() {
	case color.GrayModel, color.Gray16Model, color.YCbCrModel, color.CMYKModel:
		return true
	}
	return false
}
