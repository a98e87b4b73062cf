package decode

import (
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"io"

	"golang.org/x/image/tiff"

	"github.com/sealocr/sealocr/core/internal/raster"
)

// ErrTooManyPages: a multi-page TIFF has more pages (IFDs) than the limit;
// nothing was decoded.
var ErrTooManyPages = errors.New("decode: more pages than the limit")

// TIFFPage is one page (image file directory) of a TIFF.
type TIFFPage struct {
	ifd uint32 // offset of the page's IFD in the file
	// DPI is the page's resolution in pixels per inch from its
	// XResolution and ResolutionUnit tags, or 0 when it has none.
	DPI float64
}

// TIFFPages lists the pages of a TIFF by walking the chain of image file
// directories (golang.org/x/image/tiff decodes only the first one). It
// reads only the directories' entry tables: a chain that loops, points
// outside the file or is longer than maxPages is refused
// (ErrNotImage, ErrTooManyPages) before anything is decoded.
func TIFFPages(data []byte, maxPages int) ([]TIFFPage, error) {
	if len(data) < 8 {
		return nil, ErrNotImage
	}
	bo := tiffByteOrder(data)
	if bo == nil {
		return nil, ErrNotImage // BigTIFF (43) is not supported by the decoder either
	}
	var pages []TIFFPage
	seen := map[uint32]bool{}
	off := bo.Uint32(data[4:8])
	for off != 0 {
		if seen[off] || off < 8 || uint64(off)+2 > uint64(len(data)) {
			return nil, ErrNotImage
		}
		seen[off] = true
		if len(pages) == maxPages {
			return nil, ErrTooManyPages
		}
		n := uint64(bo.Uint16(data[off:]))
		end := uint64(off) + 2 + 12*n
		if n == 0 || end+4 > uint64(len(data)) {
			return nil, ErrNotImage
		}
		p := TIFFPage{ifd: off}
		var xres float64
		unit := uint16(2) // inch, the TIFF default
		for i := uint64(0); i < n; i++ {
			e := data[uint64(off)+2+12*i:]
			tag, typ, cnt := bo.Uint16(e), bo.Uint16(e[2:]), bo.Uint32(e[4:])
			switch {
			case tag == 282 && typ == 5 && cnt == 1: // XResolution, RATIONAL at an offset
				at := uint64(bo.Uint32(e[8:]))
				if at+8 <= uint64(len(data)) {
					if d := bo.Uint32(data[at+4:]); d != 0 {
						xres = float64(bo.Uint32(data[at:])) / float64(d)
					}
				}
			case tag == 296 && typ == 3 && cnt == 1: // ResolutionUnit, SHORT
				unit = bo.Uint16(e[8:])
			}
		}
		switch unit {
		case 2:
			p.DPI = xres
		case 3:
			p.DPI = xres * 2.54
		}
		if p.DPI < 0 || p.DPI > 1e5 {
			p.DPI = 0
		}
		pages = append(pages, p)
		off = bo.Uint32(data[end:])
	}
	if len(pages) == 0 {
		return nil, ErrNotImage
	}
	return pages, nil
}

// tiffPageReader reads a TIFF as if page p were its first: the header's
// offset of the first directory is replaced, the rest is data as it is.
// The decoder reads through ReaderAt, so no copy of the file is made.
type tiffPageReader struct {
	data []byte
	hdr  [8]byte
	pos  int64
}

func newTIFFPageReader(data []byte, p TIFFPage) *tiffPageReader {
	r := &tiffPageReader{data: data}
	copy(r.hdr[:], data[:8])
	if string(data[:2]) == "II" {
		binary.LittleEndian.PutUint32(r.hdr[4:], p.ifd)
	} else {
		binary.BigEndian.PutUint32(r.hdr[4:], p.ifd)
	}
	return r
}

func (r *tiffPageReader) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	n := copy(b, r.data[off:])
	if off < 8 {
		copy(b, r.hdr[off:])
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (r *tiffPageReader) Read(b []byte) (int, error) {
	n, err := r.ReadAt(b, r.pos)
	r.pos += int64(n)
	return n, err
}

// InspectTIFFPage is Inspect for page p of a TIFF (from TIFFPages).
func InspectTIFFPage(data []byte, p TIFFPage, lim Limits) (Header, error) {
	cfg, err := tiff.DecodeConfig(newTIFFPageReader(data, p))
	if err != nil {
		return Header{}, ErrNotImage
	}
	h, err := checkConfig(cfg, "tiff", lim)
	if err != nil {
		return h, err
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	nrgba := int64(4)
	if cfg.ColorModel == color.NRGBAModel {
		nrgba = 0
	}
	h.DecodeBytes = px * (bytesPerPixel(cfg.ColorModel) + nrgba)
	h.PageExtraBytes = h.DecodeBytes
	return h, nil
}

// DecodeTIFFPage decodes page p of a TIFF (from TIFFPages) within the
// limits into the pipeline's page, as DecodePage does for the first page:
// no EXIF orientation (a TIFF's Orientation tag is not applied, as for a
// single-page TIFF), 16-bit samples narrowed to 8 bits, transparency
// flattened.
func DecodeTIFFPage(data []byte, p TIFFPage, lim Limits) (*raster.Image, error) {
	h, err := InspectTIFFPage(data, p, lim)
	if err != nil {
		return nil, err
	}
	img, err := tiff.Decode(newTIFFPageReader(data, p))
	if err != nil {
		return nil, ErrNotImage
	}
	b := img.Bounds()
	if b.Dx() > h.Width || b.Dy() > h.Height || b.Empty() {
		return nil, ErrNotImage
	}
	return raster.FromImage(flatten(img)), nil
}

// checkConfig checks a header's size against the limits.
func checkConfig(cfg image.Config, format string, lim Limits) (Header, error) {
	if lim.MaxPixels <= 0 {
		lim.MaxPixels = DefaultMaxPixels
	}
	if lim.MaxSide <= 0 {
		lim.MaxSide = DefaultMaxSide
	}
	h := Header{Width: cfg.Width, Height: cfg.Height, Format: format}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return h, ErrNotImage
	}
	if cfg.Width > lim.MaxSide || cfg.Height > lim.MaxSide ||
		int64(cfg.Width)*int64(cfg.Height) > lim.MaxPixels {
		return h, ErrTooManyPixels
	}
	return h, nil
}

// tiffByteOrder is the byte order a TIFF header (a TIFF file, or the TIFF
// structure inside EXIF) declares, or nil when b does not start with one
// ("II" or "MM" and the number 42).
func tiffByteOrder(b []byte) binary.ByteOrder {
	if len(b) < 4 {
		return nil
	}
	switch string(b[:4]) {
	case "II*\x00":
		return binary.LittleEndian
	case "MM\x00*":
		return binary.BigEndian
	}
	return nil
}
