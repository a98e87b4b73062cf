// Package ocreval scores OCR output against exact labels: character error
// rate with spaces kept (NFKC, runs of white space as one space) and with
// spaces removed, and the share of lines read exactly (spaces removed).
// Documents are scored row by row: every output line is assigned to the
// labelled row its box sits on, so an engine that splits a row into
// columns and one that merges them are scored alike. It also holds the one
// adapter through which the accuracy tests and `make bench` drive the core
// pipeline (core.go).
package ocreval

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/agnivade/levenshtein"
	"golang.org/x/text/unicode/norm"
)

// Kept normalises s for the spaces-kept score: NFKC, white space runs
// collapsed to one space, trimmed.
func Kept(s string) string { return strings.Join(strings.Fields(norm.NFKC.String(s)), " ") }

// Removed normalises s for the spaces-removed score: NFKC, all white space
// dropped.
func Removed(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, norm.NFKC.String(s))
}

// Distance is the Levenshtein distance between a and b in code points
// (github.com/agnivade/levenshtein).
func Distance(a, b string) int { return levenshtein.ComputeDistance(a, b) }

// Tally accumulates scores over lines (single-line images, or document
// rows).
type Tally struct {
	Lines, Exact              int // lines scored; read exactly with spaces removed
	ExactKept                 int // read exactly with spaces kept (Kept(got) == Kept(want))
	DistKept, CharsKept       int // edit distance and reference length, spaces kept
	DistRemoved, CharsRemoved int // the same with spaces removed
	Spurious                  int // output lines that sat on no labelled row (their characters count as insertions)
}

// Add scores one line read as got against its label want. It reports
// whether the line was read exactly (spaces removed).
func (t *Tally) Add(got, want string) bool {
	gk, wk := Kept(got), Kept(want)
	gr, wr := Removed(got), Removed(want)
	t.Lines++
	t.DistKept += Distance(gk, wk)
	t.CharsKept += len([]rune(wk))
	t.DistRemoved += Distance(gr, wr)
	t.CharsRemoved += len([]rune(wr))
	if gk == wk {
		t.ExactKept++
	}
	if gr == wr {
		t.Exact++
		return true
	}
	return false
}

// addSpurious counts an output line that matched no label.
func (t *Tally) addSpurious(got string) {
	t.Spurious++
	t.DistKept += len([]rune(Kept(got)))
	t.DistRemoved += len([]rune(Removed(got)))
}

// Merge adds u's counts to t.
func (t *Tally) Merge(u Tally) {
	t.Lines += u.Lines
	t.Exact += u.Exact
	t.ExactKept += u.ExactKept
	t.DistKept += u.DistKept
	t.CharsKept += u.CharsKept
	t.DistRemoved += u.DistRemoved
	t.CharsRemoved += u.CharsRemoved
	t.Spurious += u.Spurious
}

// CERKept is the character error rate with spaces kept, in [0, ∞).
func (t Tally) CERKept() float64 { return ratio(t.DistKept, t.CharsKept) }

// CERRemoved is the character error rate with spaces removed.
func (t Tally) CERRemoved() float64 { return ratio(t.DistRemoved, t.CharsRemoved) }

// ExactRate is the share of lines read exactly, spaces removed.
func (t Tally) ExactRate() float64 { return ratio(t.Exact, t.Lines) }

// ExactKeptRate is the share of lines read exactly with spaces kept: every
// space where the label has one, none elsewhere.
func (t Tally) ExactKeptRate() float64 { return ratio(t.ExactKept, t.Lines) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// String is a one-line summary.
func (t Tally) String() string {
	return fmt.Sprintf("%d lines: CER spaces kept %.2f%%, spaces removed %.2f%%, exact %d (%.1f%%), exact with spaces %d (%.1f%%), spurious %d",
		t.Lines, 100*t.CERKept(), 100*t.CERRemoved(), t.Exact, 100*t.ExactRate(), t.ExactKept, 100*t.ExactKeptRate(), t.Spurious)
}

// RefRow is a labelled document row: its text (columns joined by one
// space, left to right) and its vertical extent in pixels.
type RefRow struct {
	Text   string
	Y0, Y1 float64
}

// Pred is one line an engine read: text and quadrilateral (pixels of the
// input image, any corner order).
type Pred struct {
	Text string
	Box  [4][2]float64
}

func (p Pred) center() (x, y float64) {
	for _, c := range p.Box {
		x += c[0] / 4
		y += c[1] / 4
	}
	return x, y
}

// AssignRows assigns each predicted line to the row its box centre is
// nearest to (within one row height) and joins the lines of each row left
// to right with one space. Lines that sit on no row are returned apart.
func AssignRows(rows []RefRow, preds []Pred) (got []string, spurious []string) {
	type placed struct {
		x    float64
		text string
	}
	byRow := make([][]placed, len(rows))
	for _, p := range preds {
		x, y := p.center()
		best, bestD := -1, 0.0
		for i, r := range rows {
			d := 0.0
			if y < r.Y0 {
				d = r.Y0 - y
			} else if y > r.Y1 {
				d = y - r.Y1
			}
			// Ties (inside two overlapping rows) go to the nearer centre.
			if best < 0 || d < bestD || (d == bestD && abs(y-(r.Y0+r.Y1)/2) < abs(y-(rows[best].Y0+rows[best].Y1)/2)) {
				best, bestD = i, d
			}
		}
		if best < 0 || bestD > rows[best].Y1-rows[best].Y0 {
			spurious = append(spurious, p.Text)
			continue
		}
		byRow[best] = append(byRow[best], placed{x, p.Text})
	}
	got = make([]string, len(rows))
	for i, ps := range byRow {
		sort.SliceStable(ps, func(a, b int) bool { return ps[a].x < ps[b].x })
		parts := make([]string, len(ps))
		for k, p := range ps {
			parts[k] = p.text
		}
		got[i] = strings.Join(parts, " ")
	}
	return got, spurious
}

// ScoreDocument scores a document row by row (AssignRows); a row no line
// was assigned to counts as read as "", a line on no row as insertions.
func ScoreDocument(rows []RefRow, preds []Pred) Tally {
	got, spurious := AssignRows(rows, preds)
	var t Tally
	for i, r := range rows {
		t.Add(got[i], r.Text)
	}
	for _, s := range spurious {
		t.addSpurious(s)
	}
	return t
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// ReadingOrderCER is the character error rate of a page's text as an
// engine returned it (its lines in its order, joined by a space, white
// space collapsed) against the labelled rows top to bottom: a line read
// out of order counts as deleted and inserted. It scores reading order,
// which ScoreDocument, matching lines to rows by position, does not.
func ReadingOrderCER(rows []RefRow, preds []Pred) float64 {
	want := make([]string, len(rows))
	for i, r := range rows {
		want[i] = r.Text
	}
	got := make([]string, len(preds))
	for i, p := range preds {
		got[i] = p.Text
	}
	w := Kept(strings.Join(want, " "))
	return ratio(Distance(Kept(strings.Join(got, " ")), w), len([]rune(w)))
}
