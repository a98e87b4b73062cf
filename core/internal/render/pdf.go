package render

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"

	"github.com/sealocr/sealocr/core/api"
)

// Page is one page to write: what was read, and the page's pixels as they
// were read.
type Page struct {
	api.Page             // lines with boxes in pixels of Image (as sent, not turned upright), Angle, Width, Height
	Image    image.Image // the page as read; Width×Height pixels
	DPI      float64     // pixels per inch of Image; 0 = unknown (DefaultDPI is assumed)
}

// DefaultDPI is the resolution assumed for a page whose DPI is unknown: a
// typical scan, and the resolution the core renders PDF pages at.
const DefaultDPI = 300

// PDFOptions tunes the PDF writer. The zero value is the default.
type PDFOptions struct {
	// JPEGQuality is the quality of the pages' JPEG images, 1 to 100;
	// 0 means DefaultJPEGQuality.
	JPEGQuality int
	// Producer is written into the document information dictionary;
	// "" means "sealocr".
	Producer string
}

// DefaultJPEGQuality is the JPEG quality of page images.
const DefaultJPEGQuality = 85

// Errors of the writers. They never carry page content.
var (
	// ErrClosed is returned when a page is added to, or Close called on,
	// a writer that was closed.
	ErrClosed = errors.New("render: writer closed")
	// ErrBadPage is returned for a page without an image, or whose image
	// is not Width×Height pixels.
	ErrBadPage = errors.New("render: page image missing or not of the page's size")
)

// Objects written once per document, at Close (the font's ToUnicode and
// CIDToGIDMap depend on the characters used); pages get numbers from
// firstPageObj on, in the order they are written.
const (
	objCatalog = iota + 1
	objPages
	objFont
	objCIDFont
	objDescriptor
	objFontFile
	objToUnicode
	objCIDToGID
	objInfo
	firstPageObj
)

// maxCID is the last character code of the text layer's font; a document
// with more distinct characters writes the rest as U+FFFD.
const maxCID = 0xFFFF

// PDFWriter writes a searchable PDF page by page: each page's image is
// encoded and written, with its text layer, when the page is added, so
// the writer holds one page's image at a time, plus the set of distinct
// characters used (for the font's ToUnicode map) and one offset per object.
type PDFWriter struct {
	w       *bufio.Writer
	n       int64   // bytes written
	offsets []int64 // offsets[i] is object i+1's offset; 0 until written
	pages   []int   // page object numbers
	cids    map[rune]uint16
	runes   []rune // runes[cid-1] is the character of cid
	quality int
	prod    string
	err     error
	closed  bool
}

// NewPDF starts a PDF on w. Nothing is written until the first page is
// added (or Close is called).
func NewPDF(w io.Writer, o PDFOptions) *PDFWriter {
	q := o.JPEGQuality
	if q <= 0 || q > 100 {
		q = DefaultJPEGQuality
	}
	prod := o.Producer
	if prod == "" {
		prod = "sealocr"
	}
	return &PDFWriter{w: bufio.NewWriterSize(w, 64<<10), offsets: make([]int64, firstPageObj-1), cids: map[rune]uint16{}, quality: q, prod: prod}
}

func (p *PDFWriter) write(b []byte) {
	if p.err != nil {
		return
	}
	n, err := p.w.Write(b)
	p.n += int64(n)
	p.err = err
}

func (p *PDFWriter) printf(format string, a ...any) { p.write(fmt.Appendf(nil, format, a...)) }

// header writes the file header before the first object.
func (p *PDFWriter) header() {
	if p.n == 0 {
		// The second line's bytes above 127 mark the file as binary.
		p.write([]byte("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"))
	}
}

// newObj reserves the next object number.
func (p *PDFWriter) newObj() int {
	p.offsets = append(p.offsets, 0)
	return len(p.offsets)
}

// begin starts object id at the current offset.
func (p *PDFWriter) begin(id int) {
	p.header()
	p.offsets[id-1] = p.n
	p.printf("%d 0 obj\n", id)
}

// dict writes object id as a dictionary.
func (p *PDFWriter) dict(id int, body string) {
	p.begin(id)
	p.printf("<< %s >>\nendobj\n", body)
}

// stream writes object id as a stream with the dictionary entries extra
// (besides /Length) and the data as it is (already encoded).
func (p *PDFWriter) stream(id int, extra string, data []byte) {
	p.begin(id)
	p.printf("<< %s /Length %d >>\nstream\n", extra, len(data))
	p.write(data)
	p.write([]byte("\nendstream\nendobj\n"))
}

// flateStream writes data compressed with /FlateDecode.
func (p *PDFWriter) flateStream(id int, extra string, data []byte) {
	if extra != "" {
		extra += " "
	}
	p.stream(id, extra+"/Filter /FlateDecode", deflate(data))
}

func deflate(data []byte) []byte {
	var b bytes.Buffer
	z, _ := zlib.NewWriterLevel(&b, zlib.BestCompression) // the level is valid
	z.Write(data)                                         // writes to memory do not fail
	z.Close()
	return b.Bytes()
}

// AddPage writes one page: its image, drawn over the whole page, and an
// invisible text layer with each line on its box. The page is PDF's
// MediaBox of Width×Height pixels at the page's DPI, and its /Rotate turns
// it upright for viewers (see the package documentation).
func (p *PDFWriter) AddPage(pg Page) error {
	if p.closed {
		return ErrClosed
	}
	if p.err != nil {
		return p.err
	}
	if pg.Image == nil || pg.Image.Bounds().Dx() != pg.Width || pg.Image.Bounds().Dy() != pg.Height || pg.Width <= 0 || pg.Height <= 0 {
		return ErrBadPage
	}
	dpi := pg.DPI
	if dpi <= 0 || math.IsNaN(dpi) || math.IsInf(dpi, 0) {
		dpi = DefaultDPI
	}
	s := 72 / dpi // points per pixel
	wPt, hPt := float64(pg.Width)*s, float64(pg.Height)*s

	img, imgDict := p.encodeImage(pg.Image)
	imgID, contentID, pageID := p.newObj(), p.newObj(), p.newObj()
	p.stream(imgID, fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d %s", pg.Width, pg.Height, imgDict), img)
	p.flateStream(contentID, "", p.content(pg, s, wPt, hPt))
	rot := ((360-pg.Angle)%360 + 360) % 360 / 90 * 90
	p.dict(pageID, fmt.Sprintf("/Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Rotate %d /Resources << /XObject << /Im0 %d 0 R >> /Font << /F1 %d 0 R >> >> /Contents %d 0 R",
		objPages, num(wPt), num(hPt), rot, imgID, objFont, contentID))
	p.pages = append(p.pages, pageID)
	if p.err == nil {
		p.err = p.w.Flush()
	}
	return p.err
}

// content is the page's content stream: the image over the whole page,
// then the text in render mode 3 (neither filled nor stroked).
func (p *PDFWriter) content(pg Page, s, wPt, hPt float64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "q %s 0 0 %s 0 0 cm /Im0 Do Q\n", num(wPt), num(hPt))
	b.WriteString("BT 3 Tr\n")
	for _, l := range pg.Lines {
		rs := cleanText(l.Text)
		g, ok := lineGeometry(l.Box)
		if len(rs) == 0 || !ok {
			continue
		}
		// PDF space: x right, y up, in points. The image's y points down.
		dir := vec{g.dir.x, -g.dir.y}
		size := g.height * s
		// The font's em box reaches 0.2 em below the baseline.
		origin := g.bottomLeft.add(g.up.scale(-fontDescent * g.height / unitsPerEm))
		ox, oy := origin.x*s, hPt-origin.y*s
		// Every glyph advances half an em; Tz stretches the run to the box.
		tz := 100 * g.width * s / (float64(len(rs)) * size * glyphAdv / unitsPerEm)
		fmt.Fprintf(&b, "/F1 %s Tf %s Tz %s %s %s %s %s %s Tm <", num(size), num(tz),
			num(dir.x), num(dir.y), num(-dir.y), num(dir.x), num(ox), num(oy))
		for _, r := range rs {
			fmt.Fprintf(&b, "%04X", p.cid(r))
		}
		b.WriteString("> Tj\n")
	}
	b.WriteString("ET\n")
	return b.Bytes()
}

// cid returns the character code of r in the text layer's font.
func (p *PDFWriter) cid(r rune) uint16 {
	if c, ok := p.cids[r]; ok {
		return c
	}
	if len(p.runes) >= maxCID-1 {
		// The last code is kept for U+FFFD, which then stands for every
		// new character.
		r = '\uFFFD'
		if c, ok := p.cids[r]; ok {
			return c
		}
	}
	p.runes = append(p.runes, r)
	c := uint16(len(p.runes))
	p.cids[r] = c
	return c
}

// errTooBig stops a compression that has grown past its limit.
var errTooBig = errors.New("render: larger than the limit")

// limitBuffer is a buffer that refuses to grow past limit bytes.
type limitBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, errTooBig
	}
	return b.Buffer.Write(p)
}

// deflateWithin compresses data as deflate does, giving up (false) as soon
// as the result would be larger than limit bytes: a noisy grey scan stops
// early instead of paying for a whole compression that JPEG beats.
func deflateWithin(data []byte, limit int) ([]byte, bool) {
	b := &limitBuffer{limit: limit}
	z, _ := zlib.NewWriterLevel(b, zlib.DefaultCompression)
	const chunk = 64 << 10
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := z.Write(data[:n]); err != nil {
			return nil, false
		}
		data = data[n:]
	}
	if z.Close() != nil {
		return nil, false
	}
	return b.Bytes(), true
}

// encodeImage encodes a page image: JPEG, or for a grey or black-and-white
// image lossless Flate (8 or 1 bit per pixel) when that is no larger. It
// returns the stream data and the image dictionary's other entries.
func (p *PDFWriter) encodeImage(img image.Image) ([]byte, string) {
	b := img.Bounds()
	gray, bilevel := grayPixels(img)
	if gray == nil {
		var j bytes.Buffer
		jpeg.Encode(&j, img, &jpeg.Options{Quality: p.quality}) // writes to memory do not fail
		return j.Bytes(), "/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode"
	}
	w, h := b.Dx(), b.Dy()
	if bilevel {
		row := (w + 7) / 8
		packed := make([]byte, row*h)
		for y := range h {
			for x := range w {
				if gray.Pix[y*gray.Stride+x] != 0 {
					packed[y*row+x/8] |= 0x80 >> (x % 8)
				}
			}
		}
		return deflate(packed), "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode"
	}
	var j bytes.Buffer
	jpeg.Encode(&j, gray, &jpeg.Options{Quality: p.quality})
	raw := gray.Pix
	if gray.Stride != w {
		raw = make([]byte, 0, w*h)
		for y := range h {
			raw = append(raw, gray.Pix[y*gray.Stride:y*gray.Stride+w]...)
		}
	}
	// A noisy scan (most) is JPEG's: a stripe of an eighth of the rows,
	// compressed, tells without compressing the whole page.
	stripe := raw[len(raw)/2-len(raw)/16 : len(raw)/2+len(raw)/16]
	if _, ok := deflateWithin(stripe, j.Len()*3/16); !ok {
		return j.Bytes(), "/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode"
	}
	if z, ok := deflateWithin(raw, j.Len()); ok {
		return z, "/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode"
	}
	return j.Bytes(), "/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode"
}

// grayPixels returns img as an 8-bit grey image with origin 0,0 when every
// pixel is grey (nil otherwise), and whether every pixel is black or white.
func grayPixels(img image.Image) (*image.Gray, bool) {
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch src := img.(type) {
	case *image.Gray:
		for y := range b.Dy() {
			copy(g.Pix[y*g.Stride:(y+1)*g.Stride], src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):])
		}
	case *image.YCbCr:
		for y := range b.Dy() {
			for x := range b.Dx() {
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				if d := int(src.Cb[ci]) - 128; d < -1 || d > 1 {
					return nil, false
				}
				if d := int(src.Cr[ci]) - 128; d < -1 || d > 1 {
					return nil, false
				}
				g.Pix[y*g.Stride+x] = src.Y[src.YOffset(b.Min.X+x, b.Min.Y+y)]
			}
		}
	case *image.RGBA, *image.NRGBA: // the same layout: R, G, B, A per pixel
		pix, stride := pixOf(src)
		for y := range b.Dy() {
			row := pix[(b.Min.Y-src.Bounds().Min.Y+y)*stride+(b.Min.X-src.Bounds().Min.X)*4:]
			for x := range b.Dx() {
				r, gg, bb := row[4*x], row[4*x+1], row[4*x+2]
				if r != gg || gg != bb {
					return nil, false
				}
				g.Pix[y*g.Stride+x] = r
			}
		}
	default:
		for y := range b.Dy() {
			for x := range b.Dx() {
				r, gg, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				if r>>8 != gg>>8 || gg>>8 != bb>>8 {
					return nil, false
				}
				g.Pix[y*g.Stride+x] = color.GrayModel.Convert(color.RGBA64{uint16(r), uint16(gg), uint16(bb), 0xffff}).(color.Gray).Y
			}
		}
	}
	bilevel := !slices.ContainsFunc(g.Pix, func(v uint8) bool { return v != 0 && v != 255 })
	return g, bilevel
}

// pixOf returns the pixels and stride of an RGBA or NRGBA image.
func pixOf(img image.Image) ([]uint8, int) {
	if m, ok := img.(*image.RGBA); ok {
		return m.Pix, m.Stride
	}
	m := img.(*image.NRGBA)
	return m.Pix, m.Stride
}

// Close writes the document's shared objects (catalog, page tree, font),
// the cross-reference table and the trailer. It does not close the
// underlying writer. A document without pages is written with none.
func (p *PDFWriter) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	if p.err != nil {
		return p.err
	}
	p.dict(objCatalog, fmt.Sprintf("/Type /Catalog /Pages %d 0 R", objPages))
	kids := make([]byte, 0, 8*len(p.pages))
	for _, id := range p.pages {
		kids = fmt.Appendf(kids, "%d 0 R ", id)
	}
	p.dict(objPages, fmt.Sprintf("/Type /Pages /Kids [ %s] /Count %d", kids, len(p.pages)))
	p.dict(objFont, fmt.Sprintf("/Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R",
		fontName, objCIDFont, objToUnicode))
	p.dict(objCIDFont, fmt.Sprintf("/Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /DW %d /CIDToGIDMap %d 0 R",
		fontName, objDescriptor, glyphAdv, objCIDToGID))
	p.dict(objDescriptor, fmt.Sprintf("/Type /FontDescriptor /FontName /%s /Flags 5 /FontBBox [0 %d %d %d] /ItalicAngle 0 /Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 %d 0 R",
		fontName, fontDescent, glyphAdv, fontAscent, fontAscent, fontDescent, fontAscent, objFontFile))
	ttf := glyphLessTTF()
	p.flateStream(objFontFile, fmt.Sprintf("/Length1 %d", len(ttf)), ttf)
	p.flateStream(objToUnicode, "", p.toUnicode())
	// Every code used maps to glyph 1, the blank one; code 0 to .notdef.
	gids := make([]byte, 2*(len(p.runes)+1))
	for i := 2; i < len(gids); i += 2 {
		gids[i+1] = 1
	}
	p.flateStream(objCIDToGID, "", gids)
	p.dict(objInfo, "/Producer "+pdfString(p.prod))

	xref := p.n
	p.printf("xref\n0 %d\n0000000000 65535 f \n", len(p.offsets)+1)
	for _, off := range p.offsets {
		p.printf("%010d 00000 n \n", off)
	}
	p.printf("trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(p.offsets)+1, objCatalog, objInfo, xref)
	if p.err == nil {
		p.err = p.w.Flush()
	}
	return p.err
}

// toUnicode is the font's ToUnicode CMap: each code to its character.
func (p *PDFWriter) toUnicode() []byte {
	var b bytes.Buffer
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	for i := 0; i < len(p.runes); i += 100 { // at most 100 entries per block
		chunk := p.runes[i:min(i+100, len(p.runes))]
		fmt.Fprintf(&b, "%d beginbfchar\n", len(chunk))
		for k, r := range chunk {
			fmt.Fprintf(&b, "<%04X> <", i+k+1)
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, "%04X", u)
			}
			b.WriteString(">\n")
		}
		b.WriteString("endbfchar\n")
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return b.Bytes()
}

// pdfString is s as a PDF literal string (ASCII; others as '?').
func pdfString(s string) string {
	b := []byte{'('}
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b = append(b, '\\', byte(r))
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		default:
			b = append(b, '?')
		}
	}
	return string(append(b, ')'))
}

// num formats a real number for a content stream: at most three decimals,
// no exponent.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	s = trimDot(s)
	if s == "-0" {
		return "0"
	}
	return s
}

func trimDot(s string) string {
	if s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}
