package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// sample is a 40×20 image: white with a black 10×10 square at the top left.
func sample() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 40, 20))
	for y := 0; y < 20; y++ {
		for x := 0; x < 40; x++ {
			c := color.NRGBA{255, 255, 255, 255}
			if x < 10 && y < 10 {
				c = color.NRGBA{0, 0, 0, 255}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func encode(t testing.TB, f func(*bytes.Buffer, image.Image) error, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeFormats(t *testing.T) {
	m := sample()
	tests := []struct {
		name, format string
		data         []byte
	}{
		{"png", "png", encode(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }, m)},
		{"jpeg", "jpeg", encode(t, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, &jpeg.Options{Quality: 95}) }, m)},
		{"gif", "gif", encode(t, func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) }, m)},
		{"bmp", "bmp", encode(t, func(b *bytes.Buffer, m image.Image) error { return bmp.Encode(b, m) }, m)},
		{"tiff", "tiff", encode(t, func(b *bytes.Buffer, m image.Image) error { return tiff.Encode(b, m, nil) }, m)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, format, err := Decode(tc.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if format != tc.format {
				t.Fatalf("format %q, want %q", format, tc.format)
			}
			if got.Bounds().Dx() != 40 || got.Bounds().Dy() != 20 {
				t.Fatalf("size %v", got.Bounds())
			}
			if c := got.NRGBAAt(2, 2); c.R > 40 || c.A != 255 {
				t.Fatalf("dark square lost: %v", c)
			}
			if c := got.NRGBAAt(30, 15); c.R < 215 || c.A != 255 {
				t.Fatalf("white background lost: %v", c)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good := encode(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }, sample())
	tests := []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"empty", nil, Limits{}, ErrNotImage},
		{"text", []byte("hello, this is not an image"), Limits{}, ErrNotImage},
		{"truncated png", good[:len(good)/2], Limits{}, ErrNotImage},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), Limits{}, ErrNotImage},
		{"pixel limit", good, Limits{MaxPixels: 799}, ErrTooManyPixels},
		{"side limit", good, Limits{MaxSide: 39}, ErrTooManyPixels},
		{"png bomb header", pngWithSize(t, good, 100000, 100000), Limits{}, ErrTooManyPixels},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(tc.data, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// pngWithSize rewrites the IHDR of a PNG to declare another size, fixing
// the chunk CRC: a decompression bomb's header.
func pngWithSize(t *testing.T, p []byte, w, h uint32) []byte {
	t.Helper()
	q := append([]byte(nil), p...)
	if string(q[12:16]) != "IHDR" {
		t.Fatal("no IHDR")
	}
	binary.BigEndian.PutUint32(q[16:], w)
	binary.BigEndian.PutUint32(q[20:], h)
	binary.BigEndian.PutUint32(q[29:], crc32.ChecksumIEEE(q[12:29]))
	return q
}

func TestAlphaComposite(t *testing.T) {
	mk := func(fg color.NRGBA) []byte {
		m := image.NewNRGBA(image.Rect(0, 0, 20, 10))
		for x := 2; x < 8; x++ {
			m.SetNRGBA(x, 5, fg) // a stroke; the rest stays fully transparent
		}
		return encode(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }, m)
	}
	tests := []struct {
		name           string
		fg             color.NRGBA
		wantBG, wantFG uint8
	}{
		{"black text on transparent goes on white", color.NRGBA{0, 0, 0, 255}, 255, 0},
		{"white text on transparent goes on black", color.NRGBA{255, 255, 255, 255}, 0, 255},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := Decode(mk(tc.fg), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if c := got.NRGBAAt(15, 1); c.R != tc.wantBG || c.A != 255 {
				t.Fatalf("background %v, want %d", c, tc.wantBG)
			}
			if c := got.NRGBAAt(4, 5); c.R != tc.wantFG {
				t.Fatalf("stroke %v, want %d", c, tc.wantFG)
			}
		})
	}
}

func TestSixteenBitAndPalette(t *testing.T) {
	m16 := image.NewRGBA64(image.Rect(0, 0, 4, 4))
	m16.SetRGBA64(1, 1, color.RGBA64{0xffff, 0, 0, 0xffff})
	pal := image.NewPaletted(image.Rect(0, 0, 4, 4), palette.Plan9)
	pal.Set(1, 1, color.RGBA{255, 0, 0, 255})
	for name, m := range map[string]image.Image{"16-bit": m16, "palette": pal} {
		t.Run(name, func(t *testing.T) {
			got, _, err := Decode(encode(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }, m), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if c := got.NRGBAAt(1, 1); c.R < 240 || c.G > 15 || c.A != 255 {
				t.Fatalf("red pixel %v", c)
			}
		})
	}
}

// withOrientation inserts an EXIF APP1 segment carrying the orientation tag
// right after a JPEG's SOI marker.
func withOrientation(j []byte, o uint16) []byte {
	var t bytes.Buffer
	t.WriteString("MM\x00\x2a")
	binary.Write(&t, binary.BigEndian, uint32(8)) // IFD offset
	binary.Write(&t, binary.BigEndian, uint16(1)) // one entry
	binary.Write(&t, binary.BigEndian, uint16(0x0112))
	binary.Write(&t, binary.BigEndian, uint16(3)) // SHORT
	binary.Write(&t, binary.BigEndian, uint32(1))
	binary.Write(&t, binary.BigEndian, o)
	binary.Write(&t, binary.BigEndian, uint16(0))
	binary.Write(&t, binary.BigEndian, uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), t.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, j[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, j[2:]...)
}

func TestEXIFOrientation(t *testing.T) {
	j := encode(t, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, &jpeg.Options{Quality: 95}) }, sample())
	tests := []struct {
		o          uint16
		w, h       int
		darkX, dkY int // where the dark square's corner pixel lands
	}{
		{1, 40, 20, 2, 2},
		{3, 40, 20, 37, 17}, // 180°
		{6, 20, 40, 17, 2},  // 90° clockwise: top-left goes to top-right
		{8, 20, 40, 2, 37},  // 270° clockwise: top-left goes to bottom-left
	}
	for _, tc := range tests {
		t.Run(string(rune('0'+tc.o)), func(t *testing.T) {
			data := withOrientation(j, tc.o)
			if got := jpegOrientation(data); got != int(tc.o) {
				t.Fatalf("parsed orientation %d", got)
			}
			m, _, err := Decode(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if m.Bounds().Dx() != tc.w || m.Bounds().Dy() != tc.h {
				t.Fatalf("size %v", m.Bounds())
			}
			if c := m.NRGBAAt(tc.darkX, tc.dkY); c.R > 60 {
				t.Fatalf("dark corner not at (%d,%d): %v", tc.darkX, tc.dkY, c)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }, sample()))
	f.Add(withOrientation(encode(f, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) }, sample()), 6))
	f.Add(encode(f, func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) }, sample()))
	f.Add([]byte("GIF89a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxPixels: 1 << 20, MaxSide: 4096}
		m, _, err := Decode(data, lim)
		if err != nil {
			if !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		b := m.Bounds()
		if int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels {
			t.Fatalf("decoded %v beyond the limit", b)
		}
	})
}
