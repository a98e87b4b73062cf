package pipeline_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/enginetest"
	"github.com/sealocr/sealocr/core/internal/ocreval"
	"github.com/sealocr/sealocr/core/internal/pipeline"
)

// row is one labelled image from lines.tsv or pages.tsv.
type row map[string]string

func readTSV(t testing.TB, name string) []row {
	t.Helper()
	f, err := os.Open(enginetest.Testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var head []string
	var rows []row
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if head == nil {
			head = cols
			continue
		}
		r := row{}
		for i, h := range head {
			if i < len(cols) {
				r[h] = cols[i]
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func ocrFile(t testing.TB, e *pipeline.Engine, rel string, mode pipeline.Mode) *pipeline.Result {
	t.Helper()
	data, err := os.ReadFile(enginetest.Testdata(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := decode.Decode(data, decode.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	res, err := e.Run(context.Background(), img, pipeline.Options{Mode: mode})
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return res
}

// normalize applies NFKC and the row's match rule.
func normalize(s, rule string) string {
	s = strings.TrimSpace(norm.NFKC.String(s))
	if strings.Contains(rule, "case-insensitive") {
		s = strings.ToLower(s)
	}
	if strings.Contains(rule, "alphanumeric only") {
		s = strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return -1
		}, s)
	}
	return s
}

// foldPunct drops punctuation and spaces, for the punctuation-folded score.
func foldPunct(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) || unicode.IsSpace(r) || unicode.IsSymbol(r) {
			return -1
		}
		return r
	}, s)
}

type score struct{ lines, exact, exactFolded, dist, distFolded, chars, charsFolded int }

func (s *score) add(got, want string) bool {
	s.lines++
	g, w := []rune(got), []rune(want)
	s.dist += ocreval.Distance(string(g), string(w))
	s.chars += len(w)
	gf, wf := []rune(foldPunct(got)), []rune(foldPunct(want))
	s.distFolded += ocreval.Distance(string(gf), string(wf))
	s.charsFolded += len(wf)
	if string(gf) == string(wf) {
		s.exactFolded++
	}
	if got == want {
		s.exact++
		return true
	}
	return false
}

// cer is the character error rate: edit distance per expected character.
func (s score) cer() float64 { return float64(s.dist) / float64(max(s.chars, 1)) }

func (s score) report(t *testing.T, name string) {
	t.Logf("%s: %d lines, exact %d (%.1f%%), CER %.2f%%; punctuation-folded exact %d (%.1f%%), CER %.2f%%",
		name, s.lines, s.exact, 100*float64(s.exact)/float64(s.lines), 100*float64(s.dist)/float64(max(s.chars, 1)),
		s.exactFolded, 100*float64(s.exactFolded)/float64(s.lines), 100*float64(s.distFolded)/float64(max(s.charsFolded, 1)))
}

// TestLines recognizes every line image of the shared set in line mode
// (cropped lines: recognition only, plus the angle classifier where the
// label says it is needed) and scores them. The labels that are the
// reference pipeline's own output must match exactly.
func TestLines(t *testing.T) {
	e := enginetest.Engine(t)
	var all, strict score
	for _, r := range readTSV(t, "lines.tsv") {
		t.Run(filepath.Base(r["path"]), func(t *testing.T) {
			// Line crops are read in line mode; tesseract.js's "line" images are
			// whole pictures with wide margins, read as documents.
			mode := pipeline.ModeLine
			if r["source"] == "tesseract_js" {
				mode = pipeline.ModeDocument
			}
			opts := pipeline.Options{Mode: mode}
			if strings.Contains(r["note"], "angle classifier") {
				on := true
				opts.Classify = &on
			}
			data, err := os.ReadFile(enginetest.Testdata(t, r["path"]))
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := decode.Decode(data, decode.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Run(context.Background(), img, opts)
			if err != nil {
				t.Fatal(err)
			}
			got := normalize(res.Text(), r["match_rule"])
			want := normalize(r["text"], r["match_rule"])
			ok := all.add(got, want)
			class := r["label_class"]
			if class == "MODEL_PARITY" || class == "TEST_ASSERT" {
				strict.add(got, want)
			}
			if !ok {
				t.Logf("%s [%s]: got %q, want %q", r["path"], class, got, want)
			}
		})
	}
	all.report(t, "all line images")
	strict.report(t, "MODEL_PARITY+TEST_ASSERT line images")
	if strict.lines == 0 || float64(strict.exact)/float64(strict.lines) < minStrictLineAccuracy {
		t.Errorf("exact accuracy on reference-labelled lines %d/%d below %.0f%%", strict.exact, strict.lines, 100*minStrictLineAccuracy)
	}
}

// minStrictLineAccuracy is the floor for reference-labelled line images.
const minStrictLineAccuracy = 0.80

// TestPages runs full-page OCR on the shared pages, compares the lines as a
// bag (order-free, NFKC), holds every page to the CER bound pageBounds gives
// it, and pages labelled with this model family's reference output to
// line-by-line matching as well.
func TestPages(t *testing.T) {
	e := enginetest.Engine(t)
	var all, reliable score
	for _, r := range readTSV(t, "pages.tsv") {
		t.Run(filepath.Base(r["image"]), func(t *testing.T) {
			gt, err := os.ReadFile(enginetest.Testdata(t, r["gt_file"]))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, l := range strings.Split(strings.TrimSpace(string(gt)), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					want = append(want, normalize(l, r["match_rule"]))
				}
			}
			res := ocrFile(t, e, r["image"], pipeline.ModeDocument)
			var got []string
			for _, l := range res.Lines {
				got = append(got, normalize(l.Text, r["match_rule"]))
			}
			// Greedy best match of each expected line to an unused output line.
			name := filepath.Base(r["image"])
			bound, bounded := pageBounds[name]
			used := make([]bool, len(got))
			matched := 0
			var greedy score
			for _, w := range want {
				best, bestD := -1, 1<<30
				for i, g := range got {
					if used[i] {
						continue
					}
					if d := ocreval.Distance(g, w); d < bestD {
						best, bestD = i, d
					}
				}
				g := ""
				if best >= 0 {
					used[best] = true
					g = got[best]
				}
				if bound.lineMatch {
					reliable.add(g, w)
				}
				greedy.add(g, w)
				if all.add(g, w) {
					matched++
				} else {
					t.Logf("%s: want %q, closest %q", r["image"], w, g)
				}
			}
			cer := greedy.cer()
			t.Logf("%s: %d/%d expected lines exact, %d lines out, CER %.4f", r["image"], matched, len(want), len(got), cer)
			if !bounded {
				t.Fatalf("%s has no entry in pageBounds: measure its CER and add one", name)
			}
			if cer > bound.maxCER {
				t.Errorf("%s: CER %.4f above its bound %.4f (%s)", r["image"], cer, bound.maxCER, bound.why)
			}
			if !bound.lineMatch {
				return
			}
			// The expected lines are what a peer's own tests assert; hold
			// the pipeline to them after folding punctuation and spaces
			// (PP-OCRv4's Chinese model drops spaces between Latin words
			// and reads dashes as 一).
			var page score
			for i, w := range want {
				g := ""
				if i < len(got) {
					g = bestMatch(got, w)
				}
				page.add(foldPunct(g), foldPunct(w))
			}
			// One line in four may differ (a dash read as 一, a line split
			// at a long dash); single-line pages must match.
			if page.exactFolded < page.lines-page.lines/4 {
				t.Errorf("%s: %d of %d expected lines found (punctuation and spaces folded)", r["image"], page.exactFolded, page.lines)
			}
		})
	}
	all.report(t, "page lines")
	reliable.report(t, "page lines with reference labels (asserted pages)")
}

// pageBound is what TestPages holds one page to.
type pageBound struct {
	// maxCER bounds the page's character error rate: the edit distance of
	// each expected line to the output line greedily matched to it, summed
	// and divided by the expected characters, after the row's match rule.
	// Each bound is the rate measured when it was set plus one percentage
	// point, so that a regression of a few characters fails.
	maxCER float64
	// lineMatch holds the page to line-by-line matching as well: its labels
	// are what a peer's tests assert for this model family, so at most one
	// line in four may differ once punctuation and spaces are folded.
	lineMatch bool
	// why says where the labels come from and why the bound is where it is.
	why string
}

// pageBounds has one entry per page of pages.tsv.
var pageBounds = map[string]pageBound{
	// Measured on the reference run (PP-OCRv4 det/rec, mobile v2.0 cls, ONNX
	// Runtime as pinned in models/): edit distance / expected characters.
	// Each bound is that CER plus one percentage point, rounded up.
	"ch_en_num.jpg": {0.697, false, "57/83 = 0.687: labels are PP-OCRv5 server output on a poster of " +
		"short lines; PP-OCRv4 mobile reads many of them differently (and -40℃ as -40°°C since the crop " +
		"margins of issue 21; 56/83 before)"},
	"issue_170.png":              {0.010, true, "0/4: RapidOCR's own test assertion, read exactly"},
	"black_font_transparent.png": {0.010, true, "0/5: RapidOCR's test assertion (first line), read exactly"},
	"white_font_transparent.png": {0.010, true, "0/5: RapidOCR's test assertion (first line), read exactly"},
	"ch_doc_server.png": {1.010, false, "2/2 = 1.0: label asserted for the ch_doc server recognizer, another " +
		"model; PP-OCRv4 mobile keeps no line above the drop score, so the bound only catches spurious output"},
	"test_letterbox_like.jpg": {0.783, false, "61/79 = 0.772: label is another pipeline's single merged line; " +
		"this pipeline reads it as 8 boxes and the label is matched to one of them; since issue 12 the output " +
		"has the space the image shows in \"cuda execution\", which the label lacks (60/79 before)"},
	"text_vertical_words.png": {0.210, false, "2/10 = 0.200: label is traditional script from another model; " +
		"PP-OCRv4 prints the simplified variants 参 and 见"},
	"11.jpg":                  {0.010, true, "0/203: parity reference, the labels are PP-OCRv4's own output"},
	"multi-line_en_black.png": {0.017, true, "2/315 = 0.006: CnOCR's test labels; two spaces or stops (0 once folded)"},
	"multi-line_en_white.png": {0.012, true, "0/343: CnOCR's test labels, read exactly since the crop margins " +
		"of issue 21 (2/343 before, 15/343 before issue 12)"},
	"multi-line_cn1.png": {0.033, true, "2/89 = 0.022: CnOCR's test labels; a double dash read as 一一"},
	"multi-line_cn2.png": {0.112, true, "7/69 = 0.101: CnOCR's test labels; the line at a long dash is split in two"},
	"simple-90.jpg":      {0.010, true, "0/12: tesseract.js's rotateAuto expectation, read exactly"},
	"simple-180.jpg":     {0.010, true, "0/12: tesseract.js's rotateAuto expectation, read exactly"},
	"simple-270.jpg":     {0.010, true, "0/12: tesseract.js's rotateAuto expectation, read exactly"},
	"testocr.png": {0.010, true, "0/277: tesseract.js's TESTOCR_TEXT, read exactly since the crop margins " +
		"of issue 21 kept the last full stop (1/277 before)"},
	"cosmic.png": {0.092, false, "3/37 = 0.081: label has an O/0 ambiguity (HellO) and this model drops " +
		"the spaces of the last line"},
	"bill.png": {0.798, false, "1002/1272 = 0.788: labels are Tesseract output with its errors and column " +
		"spacing; most of the distance is spaces (0.547 with punctuation and spaces folded)"},
}

// bestMatch returns the output line closest to want.
func bestMatch(got []string, want string) string {
	best, bestD := "", 1<<30
	for _, g := range got {
		if d := ocreval.Distance(foldPunct(g), foldPunct(want)); d < bestD {
			best, bestD = g, d
		}
	}
	return best
}

// TestParityPage11 holds the pipeline to the reference PaddleOCR output for
// PaddleOCR's own sample page: all 16 lines, in reading order, spaces
// aside.
func TestParityPage11(t *testing.T) {
	e := enginetest.Engine(t)
	res := ocrFile(t, e, "paddleocr/pages/11.jpg", pipeline.ModeDocument)
	gt, err := os.ReadFile(enginetest.Testdata(t, "paddleocr/pages/11.gt.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(gt)), "\n")
	// The reference is PP-OCRv4's output through PaddleOCR, which drops
	// most spaces; the core puts one where the image shows a gap (issue
	// 12: "OEM ODM"), so parity is of the characters, spaces removed.
	noSpace := func(s string) string { return strings.ReplaceAll(normalize(s, "NFKC"), " ", "") }
	var got []string
	for _, l := range res.Lines {
		got = append(got, noSpace(l.Text))
	}
	wantSet := map[string]int{}
	for _, w := range want {
		wantSet[noSpace(w)]++
	}
	hits := 0
	for _, g := range got {
		if wantSet[g] > 0 {
			wantSet[g]--
			hits++
		}
	}
	t.Logf("page 11: %d/%d reference lines reproduced exactly; %d lines out", hits, len(want), len(got))
	if hits < len(want)-minParityMisses {
		t.Errorf("only %d of %d reference lines reproduced:\n got: %q\nwant: %q", hits, len(want), got, want)
	}
	if len(res.Lines) > 0 && !strings.HasPrefix(got[0], "纯臻营养护发素") {
		t.Errorf("reading order: first line %q", got[0])
	}
}

// minParityMisses is how many of page 11's 16 reference lines may differ.
const minParityMisses = 1

func TestModeErrors(t *testing.T) {
	if _, err := pipeline.ParseMode("page"); err == nil {
		t.Fatal("unknown mode accepted")
	}
	for _, m := range []string{"", "document", "line"} {
		if _, err := pipeline.ParseMode(m); err != nil {
			t.Fatalf("%q: %v", m, err)
		}
	}
}
