// Package decode turns request bytes into an upright, opaque RGB image: it
// sniffs the format from the bytes (never from the client's label), checks the
// pixel count with image.DecodeConfig before allocating anything, applies the
// EXIF orientation of JPEG photos, and composites transparency onto a
// background that keeps the text visible.
package decode

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif"  // register GIF
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG

	"github.com/sealocr/sealocr/core/internal/raster"

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
		return image.Config{}, "", ErrNotImage
	}
	return cfg, format, nil
}

// Header is what Inspect learns from an image's header, before anything is
// decoded.
type Header struct {
	Width, Height int
	Format        string
	// DecodeBytes is the most memory Decode holds for this image at once:
	// the decoder's own image, the opaque 8-bit NRGBA copy Decode returns
	// (none when the decoder's image already is one), and the turned copy
	// of a JPEG whose EXIF orientation asks for it. Every copy is counted
	// as live: the garbage collector frees the earlier ones at its own pace.
	DecodeBytes int64
	// PageExtraBytes is what DecodePage holds besides the page raster
	// (raster.Image, 12 bytes per pixel) at its peak: DecodeBytes, or for
	// a 16-bit PNG decoded straight into the page, its alpha plane.
	PageExtraBytes int64
}

// Inspect reads the header of data and checks it against the limits
// (ErrTooManyPixels when it exceeds them), without decoding any pixel.
func Inspect(data []byte, lim Limits) (Header, error) {
	cfg, format, err := Config(data)
	if err != nil {
		return Header{}, err
	}
	h, err := checkConfig(cfg, format, lim)
	if err != nil {
		return h, err
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	src := bytesPerPixel(cfg.ColorModel)
	nrgba := int64(4)
	if cfg.ColorModel == color.NRGBAModel {
		nrgba = 0 // flatten works in place
	}
	if ph, ok := readPNGHeader(data); ok && format == "png" && ph.narrowPNG() {
		// decodePNG16 writes the NRGBA result directly; decodePNG16Page
		// writes the page, with an alpha plane when there may be
		// transparency (tRNS, found only by reading the chunks, counted).
		h.DecodeBytes, h.PageExtraBytes = 4*px, px
		return h, nil
	}
	h.DecodeBytes = px * (src + nrgba)
	if format == "jpeg" && jpegOrientation(data) > 1 {
		h.DecodeBytes += 4 * px
	}
	h.PageExtraBytes = h.DecodeBytes
	return h, nil
}

// bytesPerPixel is the size per pixel of the image a decoder returns for
// color model m (YCbCr counted as 4:4:4, its largest).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8 // unknown: the widest the standard image types use
}

// Decode decodes data within the limits and returns an opaque NRGBA image,
// upright per EXIF, and the detected format. A 16-bit PNG is decoded
// scanline by scanline straight into the 8-bit result (see Inspect for what
// each format holds).
func Decode(data []byte, lim Limits) (*image.NRGBA, string, error) {
	h, err := Inspect(data, lim)
	if err != nil {
		return nil, h.Format, err
	}
	format := h.Format
	var img image.Image
	if ph, ok := readPNGHeader(data); ok && format == "png" && ph.narrowPNG() {
		if img, err = decodePNG16(data, ph); err != nil {
			return nil, format, ErrNotImage
		}
	} else if img, _, err = image.Decode(bytes.NewReader(data)); err != nil {
		return nil, format, ErrNotImage
	}
	// A GIF's first frame may be smaller than its logical screen; nothing
	// may be larger than the header declared and the limits allowed.
	b := img.Bounds()
	if b.Dx() > h.Width || b.Dy() > h.Height || b.Empty() {
		return nil, format, ErrNotImage
	}
	out := flatten(img)
	if format == "jpeg" {
		out = orient(out, jpegOrientation(data))
	}
	return out, format, nil
}

// DecodePage decodes data within the limits into the pipeline's page: the
// pixels of raster.FromImage(Decode(data)). A 16-bit PNG goes straight
// into the page, scanline by scanline; any other image through Decode, so
// its 8-bit image and the page exist together for a moment (see Header).
func DecodePage(data []byte, lim Limits) (*raster.Image, string, error) {
	h, err := Inspect(data, lim)
	if err != nil {
		return nil, h.Format, err
	}
	if ph, ok := readPNGHeader(data); ok && h.Format == "png" && ph.narrowPNG() {
		page, err := decodePNG16Page(data, ph)
		if err != nil {
			return nil, h.Format, ErrNotImage
		}
		return page, h.Format, nil
	}
	img, format, err := Decode(data, lim)
	if err != nil {
		return nil, format, err
	}
	return raster.FromImage(img), format, nil
}

// flatten converts any image to opaque NRGBA. Transparent pixels are
// composited onto white, unless the visible content is itself light (white
// text on a transparent page), in which case black keeps it legible.
//
// An *image.NRGBA at the origin is changed in place; any other image is
// copied into a new one.
func flatten(img image.Image) *image.NRGBA {
	b := img.Bounds()
	src, ok := img.(*image.NRGBA)
	if !ok || b.Min != (image.Point{}) || src.Stride != 4*b.Dx() {
		src = image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	}
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
