package synth_test

import (
	"bytes"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sealocr/sealocr/core/internal/synth"
)

var (
	fontsOnce sync.Once
	fonts     *synth.Fonts
	fontsErr  error
)

// loadFonts fails, never skips, without Debian's fonts-noto-cjk
// (`make testdeps` installs it).
func loadFonts(t *testing.T) *synth.Fonts {
	t.Helper()
	fontsOnce.Do(func() { fonts, fontsErr = synth.LoadFonts("") })
	if fontsErr != nil {
		t.Fatal(fontsErr)
	}
	return fonts
}

func TestDeterministic(t *testing.T) {
	spec := synth.Spec{Seed: 7, Documents: 2, Lines: 12}
	a := synth.Generate(loadFonts(t), spec)
	b := synth.Generate(loadFonts(t), spec)
	da, db := t.TempDir(), t.TempDir()
	if err := a.Write(da); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(db); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(da)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != spec.Documents+spec.Lines+2 {
		t.Fatalf("%d files written, want %d", len(files), spec.Documents+spec.Lines+2)
	}
	for _, f := range files {
		x, err := os.ReadFile(filepath.Join(da, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(db, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same spec", f.Name())
		}
	}

	// Another seed gives other images and text.
	c := synth.Generate(loadFonts(t), synth.Spec{Seed: 8, Documents: 1, Lines: 1})
	if bytes.Equal(a.Documents[0].Data, c.Documents[0].Data) || a.Lines[0].Text == c.Lines[0].Text && bytes.Equal(a.Lines[0].Data, c.Lines[0].Data) {
		t.Error("seed 8 generated the same images as seed 7")
	}
	// A smaller set is a prefix of a larger one.
	small := synth.Generate(loadFonts(t), synth.Spec{Seed: 7, Documents: 1, Lines: 3})
	if !bytes.Equal(small.Documents[0].Data, a.Documents[0].Data) || !bytes.Equal(small.Lines[2].Data, a.Lines[2].Data) {
		t.Error("a smaller set is not a prefix of the larger one")
	}
}

// TestDocumentLayout checks what the generator promises: page size, 20–40
// rows, runs inside the page, columns apart, single spaces, mixed scripts.
func TestDocumentLayout(t *testing.T) {
	s := synth.Generate(loadFonts(t), synth.Spec{Seed: 1, Documents: 4})
	page := image.Rect(0, 0, synth.DocWidth, synth.DocHeight)
	gaps := 0
	for _, d := range s.Documents {
		img, _, err := image.Decode(bytes.NewReader(d.Data))
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		if img.Bounds() != page {
			t.Errorf("%s: %v, want %v", d.Name, img.Bounds(), page)
		}
		if n := len(d.Rows); n < 20 || n > 40 {
			t.Errorf("%s: %d rows, want 20–40", d.Name, n)
		}
		prevBottom := 0
		for i, r := range d.Rows {
			b := r.Box()
			if !b.In(page) || b.Empty() {
				t.Errorf("%s row %d: box %v outside the page", d.Name, i, b)
			}
			if b.Min.Y < prevBottom-4 { // rotation may tilt neighbouring rows a little
				t.Errorf("%s row %d: overlaps the row above (%d < %d)", d.Name, i, b.Min.Y, prevBottom)
			}
			prevBottom = b.Max.Y
			for k, run := range r.Runs {
				if run.Text == "" || strings.TrimSpace(run.Text) != run.Text || strings.Contains(run.Text, "  ") {
					t.Errorf("%s row %d: run %q not single-spaced", d.Name, i, run.Text)
				}
				if k > 0 && run.Box.Min.X-r.Runs[k-1].Box.Max.X < 30 {
					t.Errorf("%s row %d: runs %q and %q closer than 30 px", d.Name, i, r.Runs[k-1].Text, run.Text)
				}
				if hasMixedGap(run.Text) {
					gaps++
				}
			}
		}
	}
	if gaps < 10*len(s.Documents) {
		t.Errorf("only %d runs with a space between Chinese and Latin text", gaps)
	}
}

// hasMixedGap reports a space between a Chinese and a Latin character.
func hasMixedGap(s string) bool {
	r := []rune(s)
	for i := 1; i+1 < len(r); i++ {
		if r[i] == ' ' && (r[i-1] >= 0x4e00) != (r[i+1] >= 0x4e00) {
			return true
		}
	}
	return false
}

func TestLinesLayout(t *testing.T) {
	s := synth.Generate(loadFonts(t), synth.Spec{Seed: 1, Lines: 60})
	rotated := 0
	for _, l := range s.Lines {
		img, _, err := image.Decode(bytes.NewReader(l.Data))
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		b := img.Bounds()
		if !l.Box.In(b) || l.Box.Dx() < 20 || l.Box.Min.X < 1 || b.Max.X-l.Box.Max.X < 1 {
			t.Errorf("%s: text box %v not inside the image %v with a margin", l.Name, l.Box, b)
		}
		if l.Degradations == "" {
			t.Errorf("%s: no degradation", l.Name)
		}
		if strings.Contains(l.Degradations, "rot=") {
			rotated++
		}
	}
	if rotated < 15 || rotated > 45 {
		t.Errorf("%d of 60 lines rotated, want about half", rotated)
	}
}
