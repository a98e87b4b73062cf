package decode

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"io"
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
// 16 bits per sample, not interlaced, gray, RGB, gray+alpha or RGBA.
func (h pngHeader) narrowPNG() bool {
	return h.depth == 16 && !h.interlaced && h.width > 0 && h.height > 0 &&
		(h.colorType == 0 || h.colorType == 2 || h.colorType == 4 || h.colorType == 6)
}

// errPNG is any fault decodePNG16 finds; Decode reports it as ErrNotImage
// without detail (the bytes are the client's).
var errPNG = errors.New("png: malformed")

// decodePNG16 decodes a 16-bit, non-interlaced PNG straight into an 8-bit
// NRGBA image, one scanline at a time, keeping each sample's high byte (as
// image/png's NRGBA64 converted to NRGBA would, for opaque pixels). Go's
// image/png would first build the whole image at 8 bytes per pixel; this
// holds two scanlines besides the result. It checks every chunk's CRC and
// the zlib checksum, and refuses too little or too much pixel data, like
// image/png.
func decodePNG16(data []byte, h pngHeader) (*image.NRGBA, error) {
	channels := map[int]int{0: 1, 2: 3, 4: 2, 6: 4}[h.colorType]
	bpp := 2 * channels // bytes per pixel
	var idat []io.Reader
	var trns []byte
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
			if len(idat) > 0 || (h.colorType != 0 && h.colorType != 2) || int(n) != bpp {
				return nil, errPNG
			}
			trns = body
		case "IEND":
			seenEnd = true
		}
		rest = rest[12+n:]
	}
	if len(idat) == 0 {
		return nil, errPNG
	}
	zr, err := zlib.NewReader(io.MultiReader(idat...))
	if err != nil {
		return nil, errPNG
	}
	defer zr.Close()

	out := image.NewNRGBA(image.Rect(0, 0, h.width, h.height))
	rowLen := bpp * h.width
	cur, prev := make([]byte, 1+rowLen), make([]byte, 1+rowLen)
	for y := 0; y < h.height; y++ {
		if _, err := io.ReadFull(zr, cur); err != nil {
			return nil, errPNG
		}
		if !unfilter(cur[0], cur[1:], prev[1:], bpp) {
			return nil, errPNG
		}
		row := out.Pix[y*out.Stride : y*out.Stride+4*h.width]
		s := cur[1:]
		for x := 0; x < h.width; x++ {
			p, d := s[x*bpp:x*bpp+bpp], row[4*x:4*x+4]
			switch h.colorType {
			case 0:
				d[0], d[1], d[2], d[3] = p[0], p[0], p[0], 0xff
				if trns != nil && p[0] == trns[0] && p[1] == trns[1] {
					d[3] = 0
				}
			case 2:
				d[0], d[1], d[2], d[3] = p[0], p[2], p[4], 0xff
				if trns != nil && bytes.Equal(p, trns) {
					d[3] = 0
				}
			case 4:
				d[0], d[1], d[2], d[3] = p[0], p[0], p[0], p[2]
			case 6:
				d[0], d[1], d[2], d[3] = p[0], p[2], p[4], p[6]
			}
		}
		cur, prev = prev, cur
	}
	// The stream must end here, and reading to its end checks the zlib
	// checksum.
	if n, err := zr.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		return nil, errPNG
	}
	return out, nil
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
