package decode

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/sealocr/sealocr/core/internal/raster"
)

// noisy16 is a w×h image of the given 16-bit type filled with random samples
// (opaque unless alpha), so that image/png's encoder picks every filter.
func noisy16(w, h int, kind string) image.Image {
	r := rand.New(rand.NewPCG(1, 2))
	rect := image.Rect(0, 0, w, h)
	switch kind {
	case "gray":
		m := image.NewGray16(rect)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.Uint32())
		}
		return m
	case "rgb":
		m := image.NewRGBA64(rect)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.Uint32())
			if i%8 >= 6 {
				m.Pix[i] = 0xff
			}
		}
		return m
	default: // rgba: smooth rows, so that the encoder picks every filter
		m := image.NewNRGBA64(rect)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.SetNRGBA64(x, y, color.NRGBA64{uint16(x * 4000), uint16(y * 3000), uint16(r.Uint32()), uint16(0xffff - x*y*90)})
			}
		}
		return m
	}
}

// reference decodes data with image/png and converts it to NRGBA by taking
// each sample's high byte, the conversion decodePNG16 promises.
func reference(t *testing.T, data []byte) *image.NRGBA {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
			if g, ok := img.(*image.Gray16); ok {
				v := g.Gray16At(x, y).Y
				c = color.NRGBA64{v, v, v, 0xffff}
			}
			if n, ok := img.(*image.NRGBA64); ok {
				c = n.NRGBA64At(x, y)
			}
			out.SetNRGBA(x, y, color.NRGBA{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8), uint8(c.A >> 8)})
		}
	}
	return out
}

// TestPNG16MatchesImagePNG decodes 16-bit PNGs written by image/png (gray,
// RGB and RGBA, every filter) and compares with image/png's own decoding.
func TestPNG16MatchesImagePNG(t *testing.T) {
	for _, kind := range []string{"gray", "rgb", "rgba"} {
		t.Run(kind, func(t *testing.T) {
			var buf bytes.Buffer
			if err := png.Encode(&buf, noisy16(37, 23, kind)); err != nil {
				t.Fatal(err)
			}
			data := buf.Bytes()
			ph, ok := readPNGHeader(data)
			if !ok || !ph.narrowPNG() {
				t.Fatalf("header %+v: not taken by decodePNG16", ph)
			}
			got, err := decodePNG16(data, ph)
			if err != nil {
				t.Fatal(err)
			}
			want := reference(t, data)
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Fatal("decodePNG16 differs from image/png")
			}
		})
	}
}

// chunk returns one PNG chunk with its CRC.
func chunk(typ string, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	b = append(b, typ...)
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// rawPNG assembles a PNG of the given IHDR fields from filtered scanlines
// (each starting with its filter byte), with extra chunks before IDAT.
func rawPNG(w, h, depth, ctype int, interlace byte, rows []byte, extra ...[]byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, byte(depth), byte(ctype), 0, 0, interlace)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(rows)
	_ = zw.Close()
	out := append([]byte(nil), pngSignature...)
	out = append(out, chunk("IHDR", ihdr)...)
	for _, e := range extra {
		out = append(out, e...)
	}
	// Two IDAT chunks: the stream may be split anywhere.
	half := z.Len() / 2
	out = append(out, chunk("IDAT", z.Bytes()[:half])...)
	out = append(out, chunk("IDAT", z.Bytes()[half:])...)
	return append(out, chunk("IEND", nil)...)
}

// TestPNG16Handmade covers what image/png's encoder never writes: gray with
// alpha, a tRNS colour key, and each filter type on every row.
func TestPNG16Handmade(t *testing.T) {
	const w, h = 5, 5
	for _, tc := range []struct {
		name  string
		ctype int
		trns  []byte
	}{
		{"gray+alpha", 4, nil},
		{"gray key", 0, []byte{0x12, 0x34}},
		{"rgb key", 2, []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bpp := map[int]int{0: 2, 2: 6, 4: 4}[tc.ctype]
			var rows []byte
			for y := 0; y < h; y++ {
				rows = append(rows, byte(y)) // filter 0..4
				for x := 0; x < w*bpp; x++ {
					rows = append(rows, byte(x*7+y*13))
				}
				if tc.trns != nil && y == 0 {
					// after filter 0 (none) the first pixel is the key
					copy(rows[len(rows)-w*bpp:], tc.trns)
				}
			}
			var extra [][]byte
			if tc.trns != nil {
				extra = append(extra, chunk("tRNS", tc.trns))
			}
			data := rawPNG(w, h, 16, tc.ctype, 0, rows, extra...)
			ph, _ := readPNGHeader(data)
			got, err := decodePNG16(data, ph)
			if err != nil {
				t.Fatal(err)
			}
			want := reference(t, data)
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Fatalf("differs from image/png:\n got %v\nwant %v", got.Pix, want.Pix)
			}
			if tc.trns != nil && got.Pix[3] != 0 {
				t.Error("the tRNS key colour is not transparent")
			}
		})
	}
}

// TestPNG16Refuses feeds broken 16-bit PNGs: each must give ErrNotImage
// from Decode, never a panic or a partial image.
func TestPNG16Refuses(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, noisy16(16, 8, "rgba")); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	rowLen := 1 + 16*8
	zeros := make([]byte, 8*rowLen)
	cases := map[string][]byte{
		"truncated":      good[:len(good)*2/3],
		"bad crc":        append(append([]byte(nil), good[:len(good)-20]...), bytes.Repeat([]byte{0xee}, 20)...),
		"short data":     rawPNG(16, 8, 16, 6, 0, zeros[:len(zeros)-rowLen]),
		"too much data":  rawPNG(16, 8, 16, 6, 0, append(zeros, 0, 0)),
		"bad filter":     rawPNG(16, 8, 16, 6, 0, append([]byte{9}, zeros[1:]...)),
		"no IDAT":        append(append([]byte(nil), good[:33]...), chunk("IEND", nil)...),
		"tRNS with RGBA": rawPNG(16, 8, 16, 6, 0, zeros, chunk("tRNS", make([]byte, 8))),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Decode(data, Limits{}); !errors.Is(err, ErrNotImage) {
				t.Fatalf("err = %v, want ErrNotImage", err)
			}
		})
	}
}

// TestInspectCounts checks the decode memory Inspect declares: nothing for
// the decoder's image of a 16-bit PNG, interlaced or not (decoded into the
// result directly), 1 + 4 for an 8-bit gray one.
func TestInspectCounts(t *testing.T) {
	const w, h = 30, 20
	px := int64(w * h)
	var buf bytes.Buffer
	_ = png.Encode(&buf, noisy16(w, h, "rgba"))
	interlaced := rawPNG(w, h, 16, 6, 1, nil)
	var gray8 bytes.Buffer
	g := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(g, g.Bounds(), image.White, image.Point{}, draw.Src)
	_ = png.Encode(&gray8, g)
	for _, tc := range []struct {
		name string
		data []byte
		want int64
	}{
		{"16-bit RGBA", buf.Bytes(), 4 * px},
		{"16-bit interlaced", interlaced, 4 * px},
		{"8-bit gray", gray8.Bytes(), 5 * px},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hd, err := Inspect(tc.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if hd.DecodeBytes != tc.want || hd.Width != w || hd.Height != h {
				t.Fatalf("got %+v, want %d bytes", hd, tc.want)
			}
		})
	}
}

// TestPNG16Allocates measures what Decode allocates for a 16-bit RGBA PNG:
// the 8-bit result (4 bytes per pixel) and little else, where image/png
// would first allocate 8 bytes per pixel for its NRGBA64.
func TestPNG16Allocates(t *testing.T) {
	const w, h = 1500, 1000
	m := image.NewNRGBA64(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = 0xff
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	img, _, err := Decode(data, Limits{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	got := after.TotalAlloc - before.TotalAlloc
	if limit := uint64(w*h*4 + 1<<20); got > limit {
		t.Fatalf("Decode allocated %d bytes, want at most %d (the 8-bit result and a little)", got, limit)
	}
	t.Logf("Decode of a %dx%d 16-bit PNG allocated %d bytes (%.2f per pixel)", w, h, got, float64(got)/(w*h))
	runtime.KeepAlive(img)
}

// TestDecodePageMatches checks that DecodePage gives the pixels of
// raster.FromImage(Decode(data)) for 16-bit PNGs (opaque, with alpha on a
// light and on a dark page, with a tRNS key) and for an 8-bit one.
func TestDecodePageMatches(t *testing.T) {
	light := image.NewNRGBA64(image.Rect(0, 0, 9, 7))
	for y := 0; y < 7; y++ {
		for x := 0; x < 9; x++ {
			light.SetNRGBA64(x, y, color.NRGBA64{0xffff, 0xf000, 0xe000, uint16(x * 8000)})
		}
	}
	enc := func(m image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, m); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	key := []byte{0x12, 0x34}
	rows := []byte{0, 0x12, 0x34, 0x80, 0, 1, 0x12, 0x34, 0x00, 0x00}
	cases := map[string][]byte{
		"rgba":         enc(noisy16(31, 17, "rgba")),
		"rgb":          enc(noisy16(31, 17, "rgb")),
		"gray":         enc(noisy16(31, 17, "gray")),
		"light alpha":  enc(light),
		"gray tRNS":    rawPNG(2, 2, 16, 0, 0, rows, chunk("tRNS", key)),
		"8-bit sample": enc(sample()),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			img, _, err := Decode(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			want := raster.FromImage(img)
			got, _, err := DecodePage(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got.W != want.W || got.H != want.H || !slices.Equal(got.Pix, want.Pix) {
				t.Fatal("DecodePage differs from raster.FromImage(Decode)")
			}
		})
	}
}

// interlaced16 encodes m as an Adam7-interlaced 16-bit RGBA PNG, with the
// None, Sub and Up filters in turn (image/png never writes interlaced
// images).
func interlaced16(m *image.NRGBA64) []byte {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	var rows []byte
	k := 0
	for _, ps := range adam7 {
		pw := (w - ps.x0 + ps.dx - 1) / ps.dx
		ph := (h - ps.y0 + ps.dy - 1) / ps.dy
		if pw <= 0 || ph <= 0 {
			continue
		}
		prev := make([]byte, 8*pw)
		for y := 0; y < ph; y++ {
			cur := make([]byte, 0, 8*pw)
			for x := 0; x < pw; x++ {
				i := m.PixOffset(ps.x0+x*ps.dx, ps.y0+y*ps.dy)
				cur = append(cur, m.Pix[i:i+8]...)
			}
			f := byte(k % 3)
			k++
			out := make([]byte, len(cur))
			for i := range cur {
				switch f {
				case 0:
					out[i] = cur[i]
				case 1:
					out[i] = cur[i]
					if i >= 8 {
						out[i] -= cur[i-8]
					}
				case 2:
					out[i] = cur[i] - prev[i]
				}
			}
			rows = append(append(rows, f), out...)
			prev = cur
		}
	}
	return rawPNG(w, h, 16, 6, 1, rows)
}

// TestPNG16Interlaced decodes Adam7-interlaced 16-bit PNGs, sizes where
// some passes are empty included, and compares with image/png.
func TestPNG16Interlaced(t *testing.T) {
	for _, sz := range [][2]int{{13, 11}, {1, 1}, {3, 2}, {8, 8}, {37, 5}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			m := noisy16(sz[0], sz[1], "rgba").(*image.NRGBA64)
			data := interlaced16(m)
			ph, ok := readPNGHeader(data)
			if !ok || !ph.narrowPNG() || !ph.interlaced {
				t.Fatalf("header %+v", ph)
			}
			got, err := decodePNG16(data, ph)
			if err != nil {
				t.Fatal(err)
			}
			if want := reference(t, data); !bytes.Equal(got.Pix, want.Pix) {
				t.Fatalf("differs from image/png:\n got %v\nwant %v", got.Pix, want.Pix)
			}
			img, _, err := Decode(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			page, _, err := DecodePage(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if want := raster.FromImage(img); !slices.Equal(page.Pix, want.Pix) {
				t.Fatal("DecodePage differs from raster.FromImage(Decode)")
			}
		})
	}
}

// FuzzPNG16 compares the scanline decoder with image/png: whatever 16-bit
// PNG image/png decodes, decodePNG16 decodes to the same pixels, and
// DecodePage to the same page as raster.FromImage(Decode); nothing panics.
func FuzzPNG16(f *testing.F) {
	var b bytes.Buffer
	_ = png.Encode(&b, noisy16(7, 5, "rgba"))
	f.Add(b.Bytes())
	b.Reset()
	_ = png.Encode(&b, noisy16(6, 3, "gray"))
	f.Add(b.Bytes())
	f.Add(interlaced16(noisy16(9, 9, "rgba").(*image.NRGBA64)))
	f.Add(rawPNG(2, 2, 16, 0, 0, []byte{0, 0x12, 0x34, 0x80, 0, 1, 0x12, 0x34, 0, 0}, chunk("tRNS", []byte{0x12, 0x34})))
	f.Fuzz(func(t *testing.T, data []byte) {
		ph, ok := readPNGHeader(data)
		if !ok || !ph.narrowPNG() || int64(ph.width)*int64(ph.height) > 1<<16 {
			return
		}
		got, err := decodePNG16(data, ph)
		if _, rerr := png.Decode(bytes.NewReader(data)); rerr != nil {
			return
		}
		if err != nil {
			t.Fatalf("image/png decodes it, decodePNG16 does not: %v", err)
		}
		if want := reference(t, data); !bytes.Equal(got.Pix, want.Pix) {
			t.Fatal("decodePNG16 differs from image/png")
		}
		img, _, err := Decode(data, Limits{})
		if err != nil {
			return // e.g. a header DecodeConfig refuses
		}
		page, _, err := DecodePage(data, Limits{})
		if err != nil {
			t.Fatalf("Decode succeeds, DecodePage does not: %v", err)
		}
		if want := raster.FromImage(img); !slices.Equal(page.Pix, want.Pix) {
			t.Fatal("DecodePage differs from raster.FromImage(Decode)")
		}
	})
}
