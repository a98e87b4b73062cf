package decode

import "encoding/binary"

// DPI returns an image's resolution in pixels per inch as its file states
// it (a PNG's pHYs chunk, a JPEG's JFIF density, a TIFF's first page's
// XResolution), or 0 when the file states none. It reads headers only.
func DPI(data []byte) float64 {
	var d float64
	switch {
	case len(data) > 8 && string(data[:8]) == "\x89PNG\r\n\x1a\n":
		d = pngDPI(data)
	case len(data) > 4 && data[0] == 0xFF && data[1] == 0xD8:
		d = jfifDPI(data)
	case len(data) > 8 && (string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*"):
		if p, err := TIFFPages(data, 1); err == nil {
			d = p[0].DPI
		}
	}
	if d < 1 || d > 1e5 {
		return 0
	}
	return d
}

// pngDPI reads the pHYs chunk (pixels per metre, unit 1) before IDAT.
func pngDPI(b []byte) float64 {
	for i := 8; i+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if n < 0 || i+12+n > len(b) || typ == "IDAT" {
			return 0
		}
		if typ == "pHYs" && n == 9 && b[i+16] == 1 {
			return float64(binary.BigEndian.Uint32(b[i+8:])) * 0.0254
		}
		i += 12 + n
	}
	return 0
}

// jfifDPI reads the density of a JPEG's JFIF APP0 segment.
func jfifDPI(b []byte) float64 {
	if len(b) < 18 || b[2] != 0xFF || b[3] != 0xE0 || string(b[6:11]) != "JFIF\x00" {
		return 0
	}
	x := float64(binary.BigEndian.Uint16(b[14:]))
	switch b[13] {
	case 1:
		return x
	case 2:
		return x * 2.54
	}
	return 0
}
