// Package synth generates a deterministic benchmark set for OCR: receipts
// and invoices (1000×1400, 20–40 rows of mixed Chinese and English: shop,
// invoice numbers, dates, addresses, an item table with prices, totals)
// and single-line images with margins and degradations (rotation up to ±3°,
// low contrast, blur, noise, JPEG), each with its exact text; and an
// English set of invoices and single business lines (IBANs, BICs, company
// names, amounts, sentences) at 18–36 px, half clean, in the Latin faces of
// Debian's fonts-liberation, fonts-dejavu-core and fonts-urw-base35.
//
// Mixed text is printed with Debian's Noto CJK fonts (fonts-noto-cjk) through
// golang.org/x/image's OpenType rasteriser; the degradations and the
// encoders are plain Go. The same Spec gives byte-identical images on the
// same platform and font files; each image draws from its own random
// stream, so a smaller set is a prefix of a larger one with the same seed.
//
// The accuracy tests and `make bench` generate their sets at run time;
// nothing generated is committed.
package synth

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Spec says what to generate.
type Spec struct {
	Seed      uint64
	Documents int // receipts and invoices
	Lines     int // single-line images

	EnglishDocuments int // English invoices, each in one Latin face
	EnglishLines     int // English single-line images in Latin faces
}

// Set is a generated benchmark set.
type Set struct {
	Spec      Spec
	Documents []Document
	Lines     []Line

	EnglishDocuments []Document
	EnglishLines     []Line
}

// Random streams: one per image, keyed by kind and index.
const (
	streamDocument = 1
	streamLine     = 2
	streamEnDoc    = 3
	streamEnLine   = 4
)

// Generate prints the set described by spec.
func Generate(f *Fonts, spec Spec) *Set {
	s := &Set{Spec: spec}
	for i := range spec.Documents {
		r := rand.New(rand.NewPCG(spec.Seed, streamDocument<<32|uint64(i)))
		s.Documents = append(s.Documents, document(f, r, fmt.Sprintf("doc-%03d", i), false))
	}
	for i := range spec.EnglishDocuments {
		r := rand.New(rand.NewPCG(spec.Seed, streamEnDoc<<32|uint64(i)))
		s.EnglishDocuments = append(s.EnglishDocuments, document(f, r, fmt.Sprintf("en-doc-%03d", i), true))
	}
	for i := range spec.Lines {
		r := rand.New(rand.NewPCG(spec.Seed, streamLine<<32|uint64(i)))
		s.Lines = append(s.Lines, line(f, r, fmt.Sprintf("line-%04d", i)))
	}
	for i := range spec.EnglishLines {
		r := rand.New(rand.NewPCG(spec.Seed, streamEnLine<<32|uint64(i)))
		s.EnglishLines = append(s.EnglishLines, enLine(f, r, fmt.Sprintf("en-line-%04d", i)))
	}
	return s
}

// encode writes img as JPEG at quality q, or as PNG when q is 0.
func encode(img image.Image, q int) ([]byte, string) {
	var b bytes.Buffer
	if q > 0 {
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
			panic(err) // writing to memory does not fail
		}
		return b.Bytes(), ".jpg"
	}
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes(), ".png"
}

// Label files written by Write.
const (
	DocumentsTSV = "documents.tsv"
	LinesTSV     = "lines.tsv"
)

// Write stores the images and two label files in dir:
//
//	documents.tsv  image, row, x0, y0, x1, y1, degradations, text — one line per run
//	lines.tsv      image, x0, y0, x1, y1, degradations, text
//
// Boxes are the ink's bounds in pixels; text is exact (UTF-8, single spaces).
func (s *Set) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var docs, lines strings.Builder
	docs.WriteString("image\trow\tx0\ty0\tx1\ty1\tdegradations\ttext\n")
	for _, d := range slices.Concat(s.Documents, s.EnglishDocuments) {
		if err := os.WriteFile(filepath.Join(dir, d.Name), d.Data, 0o644); err != nil {
			return err
		}
		for i, row := range d.Rows {
			for _, run := range row.Runs {
				b := run.Box
				fmt.Fprintf(&docs, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", d.Name, i, b.Min.X, b.Min.Y, b.Max.X, b.Max.Y, d.Degradations, run.Text)
			}
		}
	}
	lines.WriteString("image\tx0\ty0\tx1\ty1\tdegradations\ttext\n")
	for _, l := range slices.Concat(s.Lines, s.EnglishLines) {
		if err := os.WriteFile(filepath.Join(dir, l.Name), l.Data, 0o644); err != nil {
			return err
		}
		b := l.Box
		fmt.Fprintf(&lines, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", l.Name, b.Min.X, b.Min.Y, b.Max.X, b.Max.Y, l.Degradations, l.Text)
	}
	if err := os.WriteFile(filepath.Join(dir, DocumentsTSV), []byte(docs.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, LinesTSV), []byte(lines.String()), 0o644)
}

// String describes the spec, e.g. "seed=1 documents=4 lines=40", with
// " english-documents=N english-lines=N" when either is set.
func (s Spec) String() string {
	out := "seed=" + strconv.FormatUint(s.Seed, 10) + " documents=" + strconv.Itoa(s.Documents) + " lines=" + strconv.Itoa(s.Lines)
	if s.EnglishDocuments > 0 || s.EnglishLines > 0 {
		out += " english-documents=" + strconv.Itoa(s.EnglishDocuments) + " english-lines=" + strconv.Itoa(s.EnglishLines)
	}
	return out
}
