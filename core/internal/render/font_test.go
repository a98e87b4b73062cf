package render

import (
	"encoding/binary"
	"testing"
)

// TestGlyphLessFont checks the generated TrueType file's structure: the
// table directory (sorted tags, 4-byte aligned offsets, each table's
// checksum), the whole file's checksum (0xB1B0AFBA once head's
// checkSumAdjustment is in), two glyphs, and its size. FreeType reads it
// in TestPDFText (pdftoppm, pdffonts).
func TestGlyphLessFont(t *testing.T) {
	f := glyphLessTTF()
	be := binary.BigEndian
	if len(f) != 444 {
		t.Errorf("%d bytes, want 444", len(f))
	}
	if got := checksum(f); got != 0xB1B0AFBA {
		t.Errorf("file checksum %#x, want 0xB1B0AFBA", got)
	}
	n := int(be.Uint16(f[4:]))
	if n != 9 {
		t.Fatalf("%d tables, want 9", n)
	}
	prev := ""
	tables := map[string][]byte{}
	for i := range n {
		e := f[12+16*i:]
		tag := string(e[:4])
		sum, off, size := be.Uint32(e[4:]), be.Uint32(e[8:]), be.Uint32(e[12:])
		if tag <= prev || off%4 != 0 || int(off+size) > len(f) {
			t.Fatalf("table %q at %d (%d bytes) after %q", tag, off, size, prev)
		}
		prev = tag
		d := f[off : off+size]
		tables[tag] = d
		if tag != "head" && checksum(d) != sum {
			t.Errorf("table %q: checksum %#x, directory says %#x", tag, checksum(d), sum)
		}
	}
	if g := be.Uint16(tables["maxp"][4:]); g != 2 {
		t.Errorf("maxp: %d glyphs, want 2", g)
	}
	if u := be.Uint16(tables["head"][18:]); u != unitsPerEm {
		t.Errorf("head: %d units per em", u)
	}
}
