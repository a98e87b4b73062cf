package ocreval_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sealocr/sealocr/core/internal/ocreval"
	"github.com/sealocr/sealocr/core/internal/synth"
)

// testSpec is the small generated set the accuracy tests read: 4 receipts
// or invoices and 40 single-line images, mixed Chinese and English, and 3
// English invoices and 120 English lines in Latin faces (a prefix of the
// bench's set).
var testSpec = synth.Spec{Seed: 1, Documents: 4, Lines: 40, EnglishDocuments: 3, EnglishLines: 120}

var (
	setOnce sync.Once
	set     *synth.Set
	setErr  error
	coreEng *ocreval.Core
	coreErr error
)

// fixtures generates the set and loads the core once per test binary. It
// fails, never skips, when the fonts or models are missing.
func fixtures(t *testing.T) (*synth.Set, *ocreval.Core) {
	t.Helper()
	setOnce.Do(func() {
		var f *synth.Fonts
		if f, setErr = synth.LoadFonts(""); setErr != nil {
			return
		}
		set = synth.Generate(f, testSpec)
		coreEng, coreErr = ocreval.LoadCore(0)
	})
	if setErr != nil {
		t.Fatalf("fonts (make testdeps installs fonts-noto-cjk): %v", setErr)
	}
	if coreErr != nil {
		t.Fatalf("models (make models): %v", coreErr)
	}
	return set, coreEng
}

// Bounds: just past the figures measured on 2026-12-08 (issue 21, second
// part: document mode crops each line with end and side margins, the
// space rule's ink band ignores neighbouring lines, a Latin line's gap
// must exceed twice its own median gap, digit pitch as the mean of the
// lower half of the digit distances), with about one line of slack, so a
// regression fails. Tuned on other seeds (7 and 9), not on this set.
//
//	mixed documents   116 rows: CER kept 0.14%, removed 0.00%, exact 116 (100%), with spaces 112
//	                  (2026-12-07: 0.29%, 0.04%, 115; before: 1.03%, 0.04%, 115; in 2026-11: 7.05%, 0.08%, 114)
//	mixed lines        40 lines: CER kept 0.35%, removed 0.00%, exact 40, with spaces 38 (95.0%)
//	                  (unchanged; before issue 21: 2.46%, 0.13%, 39, with spaces 25 = 62.5%)
//	English lines     120 lines: CER kept 0.14%, removed 0.16%, with spaces 117 (97.5%)
//	                  (2026-12-07: 0.24%, 0.16%, 115 = 95.8%; before: 3.42%, 1.41%, 65 = 54.2%)
//	the same lines in document mode: CER kept 0.24%, removed 0.12%, with spaces 113 (94.2%)
//	                  (new test; on the bench's 200 lines 70.0% with spaces kept before)
//	English documents  71 rows: CER kept 0.36%, removed 0.29%, with spaces 66 (93.0%)
//	                  (2026-12-07: 0.41%, 0.29%, 64 = 90.1%; before: 2.50%, 0.41%, 48 = 67.6%)
const (
	docMaxCERKept     = 0.003
	docMaxCERRemoved  = 0.001
	docMinExact       = 0.99
	lineMaxCERKept    = 0.012
	lineMaxCERRemoved = 0.006
	lineMinExact      = 0.95
	lineMinExactKept  = 0.9

	enLineMaxCERKept   = 0.003
	enLineMinExactKept = 0.96
	enDocMaxCERKept    = 0.005
	enDocMaxCERRemoved = 0.004

	enLineDocMaxCERKept   = 0.004
	enLineDocMinExactKept = 0.93
)

// TestDocuments reads the generated receipts in document mode and scores
// them row by row.
func TestDocuments(t *testing.T) {
	s, c := fixtures(t)
	var all ocreval.Tally
	for _, d := range s.Documents {
		preds, err := c.Read(context.Background(), d.Data, false)
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		rows := ocreval.DocumentRows(d)
		tl := ocreval.ScoreDocument(rows, preds)
		t.Logf("%s [%s]: %s", d.Name, d.Degradations, tl)
		if testing.Verbose() {
			logMisreads(t, d.Name, rows, preds)
		}
		all.Merge(tl)
	}
	t.Logf("documents: %s", all)
	if all.CERKept() > docMaxCERKept || all.CERRemoved() > docMaxCERRemoved || all.ExactRate() < docMinExact {
		t.Errorf("documents regressed: %s; bounds: CER kept ≤ %.2f%%, removed ≤ %.2f%%, exact ≥ %.1f%%",
			all, 100*docMaxCERKept, 100*docMaxCERRemoved, 100*docMinExact)
	}
}

// TestLines reads the generated single-line images in line mode
// (`mode=line`).
func TestLines(t *testing.T) {
	s, c := fixtures(t)
	var all ocreval.Tally
	for _, l := range s.Lines {
		preds, err := c.Read(context.Background(), l.Data, true)
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		got := ocreval.LineText(preds)
		if !all.Add(got, l.Text) {
			t.Logf("%s [%s]: got %q, want %q", l.Name, l.Degradations, got, l.Text)
		}
	}
	t.Logf("lines (mode=line): %s", all)
	if all.CERKept() > lineMaxCERKept || all.CERRemoved() > lineMaxCERRemoved || all.ExactRate() < lineMinExact || all.ExactKeptRate() < lineMinExactKept {
		t.Errorf("lines regressed: %s; bounds: CER kept ≤ %.2f%%, removed ≤ %.2f%%, exact ≥ %.1f%%, with spaces ≥ %.1f%%",
			all, 100*lineMaxCERKept, 100*lineMaxCERRemoved, 100*lineMinExact, 100*lineMinExactKept)
	}
}

// TestEnglishLines reads the generated English lines (Latin faces, 18–36
// px, half degraded) in line mode.
func TestEnglishLines(t *testing.T) {
	s, c := fixtures(t)
	var all ocreval.Tally
	for _, l := range s.EnglishLines {
		preds, err := c.Read(context.Background(), l.Data, true)
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		got := ocreval.LineText(preds)
		if all.Add(got, l.Text); ocreval.Kept(got) != ocreval.Kept(l.Text) {
			t.Logf("%s [%s]: got %q, want %q", l.Name, l.Degradations, got, l.Text)
		}
	}
	t.Logf("English lines (mode=line): %s", all)
	if all.CERKept() > enLineMaxCERKept || all.ExactKeptRate() < enLineMinExactKept {
		t.Errorf("English lines regressed: %s; bounds: CER kept ≤ %.2f%%, exact (spaces kept) ≥ %.1f%%",
			all, 100*enLineMaxCERKept, 100*enLineMinExactKept)
	}
}

// TestEnglishLinesDocumentMode reads the same English lines in document
// mode: detection first, as a page holding one line is read.
func TestEnglishLinesDocumentMode(t *testing.T) {
	s, c := fixtures(t)
	var all ocreval.Tally
	for _, l := range s.EnglishLines {
		preds, err := c.Read(context.Background(), l.Data, false)
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		got := ocreval.LineText(preds)
		if all.Add(got, l.Text); ocreval.Kept(got) != ocreval.Kept(l.Text) {
			t.Logf("%s [%s]: got %q, want %q", l.Name, l.Degradations, got, l.Text)
		}
	}
	t.Logf("English lines (document mode): %s", all)
	if all.CERKept() > enLineDocMaxCERKept || all.ExactKeptRate() < enLineDocMinExactKept {
		t.Errorf("English lines in document mode regressed: %s; bounds: CER kept ≤ %.2f%%, exact (spaces kept) ≥ %.1f%%",
			all, 100*enLineDocMaxCERKept, 100*enLineDocMinExactKept)
	}
}

// TestEnglishDocuments reads the generated English invoices in document
// mode.
func TestEnglishDocuments(t *testing.T) {
	s, c := fixtures(t)
	var all ocreval.Tally
	for _, d := range s.EnglishDocuments {
		preds, err := c.Read(context.Background(), d.Data, false)
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		rows := ocreval.DocumentRows(d)
		tl := ocreval.ScoreDocument(rows, preds)
		t.Logf("%s [%s]: %s", d.Name, d.Degradations, tl)
		logMisreads(t, d.Name, rows, preds)
		all.Merge(tl)
	}
	t.Logf("English documents: %s", all)
	if all.CERKept() > enDocMaxCERKept || all.CERRemoved() > enDocMaxCERRemoved {
		t.Errorf("English documents regressed: %s; bounds: CER kept ≤ %.2f%%, removed ≤ %.2f%%",
			all, 100*enDocMaxCERKept, 100*enDocMaxCERRemoved)
	}
}

// logMisreads logs the rows not read exactly with spaces kept.
func logMisreads(t *testing.T, name string, rows []ocreval.RefRow, preds []ocreval.Pred) {
	got, spurious := ocreval.AssignRows(rows, preds)
	for i, r := range rows {
		if ocreval.Kept(got[i]) != ocreval.Kept(r.Text) {
			t.Logf("%s row %d: got %q, want %q", name, i, got[i], r.Text)
		}
	}
	for _, s := range spurious {
		t.Logf("%s: spurious %q", name, s)
	}
}
