package decode

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"io"

	"github.com/sealocr/sealocr/core/internal/raster"
)

// pngHeader is what decode needs from a PNG's IHDR chunk.
type pngHeader struct {
	width, height int
	depth         int  // bits per sample
	colorType     int  // 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
	interlaced    bool // Adam7
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// readPNGHeader parses the IHDR chunk of data, which must begin with the
// PNG signature.
func readPNGHeader(data []byte) (pngHeader, bool) {
	// signature, length, "IHDR", 13 bytes of data
	if len(data) < 8+8+13 || !bytes.HasPrefix(data, pngSignature) || string(data[12:16]) != "IHDR" ||
		binary.BigEndian.Uint32(data[8:12]) != 13 {
		return pngHeader{}, false
	}
	d := data[16:29]
	return pngHeader{
		width:      int(binary.BigEndian.Uint32(d[0:4])),
		height:     int(binary.BigEndian.Uint32(d[4:8])),
		depth:      int(d[8]),
		colorType:  int(d[9]),
		interlaced: d[12] != 0,
	}, true
}

// narrowPNG reports whether decodePNG16 decodes the PNG of header h:
// 16 bits per sample, gray, RGB, gray+alpha or RGBA, interlaced or not.
func (h pngHeader) narrowPNG() bool {
	return h.depth == 16 && h.width > 0 && h.height > 0 &&
		(h.colorType == 0 || h.colorType == 2 || h.colorType == 4 || h.colorType == 6)
}

// adam7Pass is one pass of Adam7 interlacing: the pixels at x0 + i*dx,
// y0 + j*dy.
type adam7Pass struct{ x0, y0, dx, dy int }

// adam7 are the seven passes (PNG specification, section 8.2).
var adam7 = [7]adam7Pass{
	{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2},
}

// errPNG is any fault decodePNG16 finds; Decode reports it as ErrNotImage
// without detail (the bytes are the client's).
var errPNG = errors.New("png: malformed")

// png16 is a parsed 16-bit PNG: its header, its zlib stream and its tRNS
// colour key (nil without one).
type png16 struct {
	h    pngHeader
	bpp  int // bytes per pixel
	idat io.Reader
	trns []byte
}

// hasAlpha reports whether any pixel may be transparent.
func (p *png16) hasAlpha() bool { return p.h.colorType == 4 || p.h.colorType == 6 || p.trns != nil }

// parsePNG16 checks every chunk of data (CRC, order of tRNS) and collects
// the IDAT chunks, without copying them.
func parsePNG16(data []byte, h pngHeader) (*png16, error) {
	p := &png16{h: h, bpp: 2 * map[int]int{0: 1, 2: 3, 4: 2, 6: 4}[h.colorType]}
	var idat []io.Reader
	rest := data[len(pngSignature):]
	for seenEnd := false; !seenEnd; {
		if len(rest) < 12 {
			return nil, errPNG
		}
		n := binary.BigEndian.Uint32(rest[:4])
		if n > 0x7fffffff || uint64(n)+12 > uint64(len(rest)) {
			return nil, errPNG
		}
		typ, body := rest[4:8], rest[8:8+n]
		if crc32.ChecksumIEEE(rest[4:8+n]) != binary.BigEndian.Uint32(rest[8+n:12+n]) {
			return nil, errPNG
		}
		switch string(typ) {
		case "IDAT":
			idat = append(idat, bytes.NewReader(body))
		case "tRNS":
			if len(idat) > 0 || (h.colorType != 0 && h.colorType != 2) || int(n) != p.bpp {
				return nil, errPNG
			}
			p.trns = body
		case "IEND":
			seenEnd = true
		}
		rest = rest[12+n:]
	}
	if len(idat) == 0 {
		return nil, errPNG
	}
	p.idat = io.MultiReader(idat...)
	return p, nil
}

// rows inflates and unfilters the scanlines one at a time (pass by pass
// when interlaced), calling fn with each pixel's position and its R, G, B
// and A high bytes. It refuses too little or too much
// pixel data and checks the zlib checksum, like image/png.
func (p *png16) rows(fn func(x, y int, r, g, b, a uint8)) error {
	zr, err := zlib.NewReader(p.idat)
	if err != nil {
		return errPNG
	}
	defer zr.Close()
	passes := []adam7Pass{{0, 0, 1, 1}} // not interlaced: one pass over every pixel
	if p.h.interlaced {
		passes = adam7[:]
	}
	bpp, trns := p.bpp, p.trns
	for _, ps := range passes {
		// The pass's reduced image; an empty one has no scanlines at all.
		pw := (p.h.width - ps.x0 + ps.dx - 1) / ps.dx
		ph := (p.h.height - ps.y0 + ps.dy - 1) / ps.dy
		if pw <= 0 || ph <= 0 {
			continue
		}
		cur, prev := make([]byte, 1+bpp*pw), make([]byte, 1+bpp*pw)
		for y := 0; y < ph; y++ {
			if _, err := io.ReadFull(zr, cur); err != nil {
				return errPNG
			}
			if !unfilter(cur[0], cur[1:], prev[1:], bpp) {
				return errPNG
			}
			s := cur[1:]
			oy := ps.y0 + y*ps.dy
			for x := 0; x < pw; x++ {
				px, ox := s[x*bpp:x*bpp+bpp], ps.x0+x*ps.dx
				switch p.h.colorType {
				case 0:
					a := uint8(0xff)
					if trns != nil && px[0] == trns[0] && px[1] == trns[1] {
						a = 0
					}
					fn(ox, oy, px[0], px[0], px[0], a)
				case 2:
					a := uint8(0xff)
					if trns != nil && bytes.Equal(px, trns) {
						a = 0
					}
					fn(ox, oy, px[0], px[2], px[4], a)
				case 4:
					fn(ox, oy, px[0], px[0], px[0], px[2])
				case 6:
					fn(ox, oy, px[0], px[2], px[4], px[6])
				}
			}
			cur, prev = prev, cur
		}
	}
	// The stream must end here, and reading to its end checks the zlib
	// checksum.
	if n, err := zr.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		return errPNG
	}
	return nil
}

// decodePNG16 decodes a 16-bit PNG (interlaced or not) straight into an 8-bit
// NRGBA image, one scanline at a time, keeping each sample's high byte (as
// image/png's NRGBA64 converted to NRGBA would, for opaque pixels). Go's
// image/png would first build the whole image at 8 bytes per pixel; this
// holds two scanlines besides the result.
func decodePNG16(data []byte, h pngHeader) (*image.NRGBA, error) {
	p, err := parsePNG16(data, h)
	if err != nil {
		return nil, err
	}
	out := image.NewNRGBA(image.Rect(0, 0, h.width, h.height))
	err = p.rows(func(x, y int, r, g, b, a uint8) {
		i := y*out.Stride + 4*x
		out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = r, g, b, a
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodePNG16Page decodes a 16-bit PNG (interlaced or not) straight into the
// pipeline's float32 page, composited as flatten composites: the same
// pixels as raster.FromImage(Decode(data)), without the 8-bit image in
// between. A PNG that may hold transparency also needs one byte per pixel
// of alpha until it is composited.
func decodePNG16Page(data []byte, h pngHeader) (*raster.Image, error) {
	p, err := parsePNG16(data, h)
	if err != nil {
		return nil, err
	}
	page := raster.New(h.width, h.height)
	var alpha []uint8
	if p.hasAlpha() {
		alpha = make([]uint8, h.width*h.height)
	}
	err = p.rows(func(x, y int, r, g, b, a uint8) {
		i := y*h.width + x
		page.Pix[3*i], page.Pix[3*i+1], page.Pix[3*i+2] = float32(b), float32(g), float32(r)
		if alpha != nil {
			alpha[i] = a
		}
	})
	if err != nil {
		return nil, err
	}
	if alpha == nil {
		return page, nil
	}
	// flatten's arithmetic, on B, G, R floats holding 8-bit values.
	var lum, wsum float64
	for i, a8 := range alpha {
		a := float64(a8) / 255
		if a == 0 {
			continue
		}
		q := page.Pix[3*i : 3*i+3]
		lum += a * (0.299*float64(q[2]) + 0.587*float64(q[1]) + 0.114*float64(q[0]))
		wsum += a
	}
	bg := uint32(255)
	if wsum > 0 && lum/wsum > 160 {
		bg = 0
	}
	for i, a8 := range alpha {
		a := uint32(a8)
		q := page.Pix[3*i : 3*i+3]
		for c := range q {
			q[c] = float32((uint32(q[c])*a + bg*(255-a) + 127) / 255)
		}
	}
	return page, nil
}

// unfilter reverses a PNG scanline filter (RFC 2083 section 6) in place.
func unfilter(filter byte, cur, prev []byte, bpp int) bool {
	switch filter {
	case 0:
	case 1:
		for i := bpp; i < len(cur); i++ {
			cur[i] += cur[i-bpp]
		}
	case 2:
		for i := range cur {
			cur[i] += prev[i]
		}
	case 3:
		for i := 0; i < bpp; i++ {
			cur[i] += prev[i] / 2
		}
		for i := bpp; i < len(cur); i++ {
			cur[i] += uint8((int(cur[i-bpp]) + int(prev[i])) / 2)
		}
	case 4:
		for i := range cur {
			var a, c int
			if i >= bpp {
				a, c = int(cur[i-bpp]), int(prev[i-bpp])
			}
			cur[i] += paeth(a, int(prev[i]), c)
		}
	default:
		return false
	}
	return true
}

func paeth(a, b, c int) uint8 {
	p := a + b - c
	pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
	switch {
	case pa <= pb && pa <= pc:
		return uint8(a)
	case pb <= pc:
		return uint8(b)
	}
	return uint8(c)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
