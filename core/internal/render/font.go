package render

import (
	"bytes"
	"encoding/binary"
	"sort"
	"unicode/utf16"
)

// The text layer's font: a TrueType font with two empty-looking glyphs,
// .notdef (a box outline, never painted: the text is invisible) and one
// blank glyph every character is drawn with, half an em wide. Tesseract's
// PDF renderer uses the same idea (its pdf.ttf, "GlyphLessFont"); this one
// is built in code so that no binary file is checked in and every byte is
// explained. Its metrics: 1000 units per em, ascent 800, descent -200,
// every advance 500.
const (
	fontName    = "GlyphLessFont"
	unitsPerEm  = 1000
	fontAscent  = 800
	fontDescent = -200
	glyphAdv    = 500 // units; the /DW of the CID font
)

// glyphLessTTF returns the font file.
func glyphLessTTF() []byte {
	be := binary.BigEndian
	u16 := func(b *bytes.Buffer, v ...int) {
		for _, x := range v {
			b.Write(be.AppendUint16(nil, uint16(x)))
		}
	}
	u32 := func(b *bytes.Buffer, v ...uint32) {
		for _, x := range v {
			b.Write(be.AppendUint32(nil, x))
		}
	}

	// glyf: glyph 0 is a rectangle (one contour, four on-curve points,
	// word coordinates as deltas), glyph 1 is empty (no data).
	var glyf bytes.Buffer
	u16(&glyf, 1, 50, fontDescent&0xffff, 450, fontAscent) // contours, bbox
	u16(&glyf, 3, 0)                                       // last point of contour 0; no instructions
	glyf.Write([]byte{1, 1, 1, 1})                         // on curve, x and y as int16
	u16(&glyf, 50, 400, 0, (-400)&0xffff)                  // x deltas
	u16(&glyf, fontDescent&0xffff, 0, fontAscent-fontDescent, 0)
	for glyf.Len()%4 != 0 {
		glyf.WriteByte(0)
	}
	g0 := glyf.Len()

	var head bytes.Buffer
	u32(&head, 0x00010000, 0x00010000, 0, 0x5F0F3CF5) // version, revision, checkSumAdjustment (below), magic
	u16(&head, 0x000B, unitsPerEm)
	u32(&head, 0, 0, 0, 0)                                  // created, modified
	u16(&head, 0, fontDescent&0xffff, glyphAdv, fontAscent) // bbox
	u16(&head, 0, 8, 2, 0, 0)                               // macStyle, lowestRecPPEM, direction hint, short loca, glyph format

	var hhea bytes.Buffer
	u32(&hhea, 0x00010000)
	u16(&hhea, fontAscent, fontDescent&0xffff, 0, glyphAdv, 0, 0, glyphAdv, 1, 0, 0, 0, 0, 0, 0, 0, 2)

	var maxp bytes.Buffer
	u32(&maxp, 0x00010000)
	u16(&maxp, 2, 4, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0)

	var hmtx bytes.Buffer
	u16(&hmtx, glyphAdv, 50, glyphAdv, 0)

	var loca bytes.Buffer
	u16(&loca, 0, g0/2, g0/2)

	// cmap: one Windows Unicode subtable with no characters (format 4,
	// only the closing segment). The PDF maps codes to glyphs itself
	// (CIDToGIDMap) and to Unicode through its ToUnicode CMap.
	var cmap bytes.Buffer
	u16(&cmap, 0, 1, 3, 1)
	u32(&cmap, 12)
	u16(&cmap, 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1, 0)

	var post bytes.Buffer
	u32(&post, 0x00030000, 0)
	u16(&post, (-100)&0xffff, 50)
	u32(&post, 1, 0, 0, 0, 0)

	ps := utf16.Encode([]rune(fontName))
	var name bytes.Buffer
	u16(&name, 0, 1, 18, 3, 1, 0x0409, 6, 2*len(ps), 0)
	for _, c := range ps {
		u16(&name, int(c))
	}

	tables := map[string][]byte{
		"cmap": cmap.Bytes(), "glyf": glyf.Bytes(), "head": head.Bytes(), "hhea": hhea.Bytes(),
		"hmtx": hmtx.Bytes(), "loca": loca.Bytes(), "maxp": maxp.Bytes(), "name": name.Bytes(), "post": post.Bytes(),
	}
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)

	var out bytes.Buffer
	n := len(tags)
	u32(&out, 0x00010000)
	u16(&out, n, 128, 3, n*16-128) // 8 ≤ 9 tables < 16: searchRange 8×16, entrySelector 3
	off := 12 + 16*n
	var headAt int
	for _, t := range tags {
		d := tables[t]
		out.WriteString(t)
		u32(&out, checksum(d), uint32(off), uint32(len(d)))
		if t == "head" {
			headAt = off
		}
		off += (len(d) + 3) &^ 3
	}
	for _, t := range tags {
		d := tables[t]
		out.Write(d)
		for i := len(d); i%4 != 0; i++ {
			out.WriteByte(0)
		}
	}
	b := out.Bytes()
	be.PutUint32(b[headAt+8:], 0xB1B0AFBA-checksum(b))
	return b
}

// checksum is a TrueType table checksum: the sum of big-endian uint32
// words, the last one padded with zeros.
func checksum(d []byte) uint32 {
	var s uint32
	for i := 0; i < len(d); i += 4 {
		var w [4]byte
		copy(w[:], d[i:])
		s += binary.BigEndian.Uint32(w[:])
	}
	return s
}
