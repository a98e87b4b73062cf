// Package doctest makes the documents the tests send: PDFs (with
// codeberg.org/go-pdf/fpdf) of page images, text or both, and multi-page
// TIFFs. Only tests import it.
package doctest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // LoadImage reads JPEG pages too
	"image/png"
	"os"
	"strings"
	"testing"

	"codeberg.org/go-pdf/fpdf"
)

// Page sizes in points.
var (
	A4              = fpdf.SizeType{Wd: 595.28, Ht: 841.89}
	Letter          = fpdf.SizeType{Wd: 612, Ht: 792}
	LetterLandscape = fpdf.SizeType{Wd: 792, Ht: 612}
)

// Page is one page of a PDF made by PDF.
type Page struct {
	Size fpdf.SizeType // in points
	// Image, if set, is drawn over the whole page (stretched to it): a
	// scanned page.
	Image image.Image
	// Text, if set, is written in Helvetica 28 pt from the top left, one
	// line per "\n": a real text layer.
	Text string
	// Content, if set, is appended raw to the page's content stream.
	Content string
}

// PDF writes a PDF of the pages; protect, if set, is applied to the
// document first (fpdf's SetProtection makes an RC4-encrypted file).
func PDF(t testing.TB, pages []Page, protect func(*fpdf.Fpdf)) []byte {
	t.Helper()
	f := fpdf.NewCustom(&fpdf.InitType{UnitStr: "pt", Size: A4})
	if protect != nil {
		protect(f)
	}
	f.SetAutoPageBreak(false, 0)
	for i, p := range pages {
		if p.Size.Wd > p.Size.Ht { // fpdf takes a landscape page's portrait size
			f.AddPageFormat("L", fpdf.SizeType{Wd: p.Size.Ht, Ht: p.Size.Wd})
		} else {
			f.AddPageFormat("P", p.Size)
		}
		if p.Image != nil {
			name := fmt.Sprintf("p%d", i)
			var b bytes.Buffer
			if err := png.Encode(&b, p.Image); err != nil {
				t.Fatal(err)
			}
			opt := fpdf.ImageOptions{ImageType: "PNG"}
			f.RegisterImageOptionsReader(name, opt, &b)
			f.ImageOptions(name, 0, 0, p.Size.Wd, p.Size.Ht, false, opt, 0, "")
		}
		if p.Text != "" {
			f.SetFont("Helvetica", "", 28)
			for j, line := range strings.Split(p.Text, "\n") {
				f.Text(60, 100+float64(j)*40, line)
			}
		}
		if p.Content != "" {
			f.RawWriteStr(p.Content)
		}
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TIFF writes a little-endian, uncompressed 8-bit RGB TIFF with one page
// (image file directory) per image, each stating dpi as its resolution.
func TIFF(t testing.TB, pages []image.Image, dpi int) []byte {
	t.Helper()
	le := binary.LittleEndian
	out := []byte("II*\x00\x00\x00\x00\x00")
	prevNext := 4 // where the offset of the next IFD goes
	for _, img := range pages {
		b := img.Bounds()
		rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		// Transparency is flattened onto white: a TIFF page is paper.
		draw.Draw(rgba, rgba.Bounds(), image.White, image.Point{}, draw.Src)
		draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Over)
		pixOff := len(out)
		for i := 0; i < len(rgba.Pix); i += 4 {
			out = append(out, rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2])
		}
		bpsOff := len(out)
		out = le.AppendUint16(le.AppendUint16(le.AppendUint16(out, 8), 8), 8)
		resOff := len(out)
		out = le.AppendUint32(le.AppendUint32(out, uint32(dpi)), 1)
		if len(out)%2 == 1 {
			out = append(out, 0)
		}
		ifd := len(out)
		le.PutUint32(out[prevNext:], uint32(ifd))
		type entry struct {
			tag, typ uint16
			n, v     uint32
		}
		entries := []entry{
			{256, 4, 1, uint32(b.Dx())}, {257, 4, 1, uint32(b.Dy())}, {258, 3, 3, uint32(bpsOff)},
			{259, 3, 1, 1}, {262, 3, 1, 2}, {273, 4, 1, uint32(pixOff)}, {277, 3, 1, 3},
			{278, 4, 1, uint32(b.Dy())}, {279, 4, 1, uint32(3 * b.Dx() * b.Dy())},
			{282, 5, 1, uint32(resOff)}, {283, 5, 1, uint32(resOff)}, {296, 3, 1, 2},
		}
		out = le.AppendUint16(out, uint16(len(entries)))
		for _, e := range entries {
			out = le.AppendUint16(out, e.tag)
			out = le.AppendUint16(out, e.typ)
			out = le.AppendUint32(out, e.n)
			out = le.AppendUint32(out, e.v) // SHORT values sit in the low bytes (little-endian)
		}
		prevNext = len(out)
		out = le.AppendUint32(out, 0)
	}
	return out
}

// LastIFDNext returns the position of the last IFD's next-IFD offset in a
// TIFF made by TIFF, to make a chain that loops.
func LastIFDNext(data []byte) int {
	le := binary.LittleEndian
	off := int(le.Uint32(data[4:]))
	for {
		next := off + 2 + 12*int(le.Uint16(data[off:]))
		n := int(le.Uint32(data[next:]))
		if n == 0 {
			return next
		}
		off = n
	}
}

// SizeType is a page size of w × h points.
func SizeType(w, h float64) fpdf.SizeType { return fpdf.SizeType{Wd: w, Ht: h} }

// Scan pastes img at the top left of a white page of w×h pixels and
// turns the page clockwise by quarter turns: a scanned page.
func Scan(img image.Image, w, h, quarter int) image.Image {
	page := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(page, page.Bounds(), image.White, image.Point{}, draw.Src)
	b := img.Bounds()
	draw.Draw(page, image.Rect(w/12, h/12, w/12+b.Dx(), h/12+b.Dy()), img, b.Min, draw.Over)
	var out image.Image = page
	for i := 0; i < quarter; i++ {
		out = TurnCW(out)
	}
	return out
}

// TurnCW turns src clockwise by a quarter turn.
func TurnCW(src image.Image) image.Image {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dst.Set(b.Dy()-1-(y-b.Min.Y), x-b.Min.X, src.At(x, y))
		}
	}
	return dst
}

// TurnGray turns img clockwise by q quarter turns, as grey: the fast turn
// of the benchmarks' generated pages.
func TurnGray(img image.Image, q int) image.Image {
	b := img.Bounds()
	src := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Rect, img, b.Min, draw.Src)
	w, h := b.Dx(), b.Dy()
	dst := image.NewGray(image.Rect(0, 0, w, h))
	if q%2 == 1 {
		dst = image.NewGray(image.Rect(0, 0, h, w))
	}
	for y := range h {
		for x := range w {
			v := src.Pix[y*src.Stride+x]
			switch q % 4 {
			case 0:
				dst.Pix[y*dst.Stride+x] = v
			case 1:
				dst.Pix[x*dst.Stride+h-1-y] = v
			case 2:
				dst.Pix[(h-1-y)*dst.Stride+w-1-x] = v
			case 3:
				dst.Pix[(w-1-x)*dst.Stride+y] = v
			}
		}
	}
	return dst
}

// LoadImage decodes the image file at path (PNG or JPEG), failing the
// test when it cannot.
func LoadImage(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}
