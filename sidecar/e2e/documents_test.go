package e2e

import (
	_ "image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/agnivade/levenshtein"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/core/testkit/doctest"
)

// scannedPages is issue 22's 4-page scan: two pages upright, one upside
// down, one turned 90° clockwise (on a landscape page), each with its
// label.
var scannedPages = []struct {
	img, gt string
	quarter int
	maxCER  float64
}{
	{"tesseract_js/pages/testocr.png", "tesseract_js/pages/testocr.gt.txt", 0, 0.05},
	{"tesseract_js/pages/cosmic.png", "tesseract_js/pages/cosmic.gt.txt", 2, 0.10},
	{"paddleocr/pages/11.jpg", "paddleocr/pages/11.gt.txt", 1, 0.15},
	{"tesseract_js/pages/testocr.png", "tesseract_js/pages/testocr.gt.txt", 0, 0.05},
}

// scannedPDF writes the 4-page scan as a PDF into dir and returns its path
// and the pages' labels.
func scannedPDF(t *testing.T, dir string) (string, []string) {
	t.Helper()
	var pages []doctest.Page
	var labels []string
	for _, s := range scannedPages {
		img := doctest.LoadImage(t, filepath.Join(repoRoot, "core/testdata/ocr", s.img))
		size := doctest.A4
		if s.quarter%2 == 1 {
			size = fpdf.SizeType{Wd: doctest.A4.Ht, Ht: doctest.A4.Wd}
		}
		pages = append(pages, doctest.Page{Size: size, Image: doctest.Scan(img, 1240, 1754, s.quarter)})
		gt, err := os.ReadFile(filepath.Join(repoRoot, "core/testdata/ocr", s.gt))
		if err != nil {
			t.Fatal(err)
		}
		labels = append(labels, string(gt))
	}
	path := filepath.Join(dir, "scan.pdf")
	if err := os.WriteFile(path, doctest.PDF(t, pages, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, labels
}

// pageCER is the character error rate of got against want, white space
// dropped.
func pageCER(got, want string) float64 {
	squashAll := func(s string) string { return strings.Join(strings.Fields(s), "") }
	g, w := squashAll(got), squashAll(want)
	return float64(levenshtein.ComputeDistance(g, w)) / float64(max(len([]rune(w)), 1))
}

// TestScannedPDFThroughSidecar is issue 22 end to end: sealctl sends the
// 4-page scanned PDF (one page upside down, one turned 90°) through a real
// sidecar to the real core, in PSK and in OHTTP; every page comes back in
// order, read upright, pages separated by a form feed; then --output pdf
// writes a searchable PDF of 4 pages whose text pdftotext reads back.
func TestScannedPDFThroughSidecar(t *testing.T) {
	s := newSidecar(t, nil)
	dir := t.TempDir()
	pdf, labels := scannedPDF(t, dir)
	for _, mode := range []string{"psk", "ohttp"} {
		t.Run(mode, func(t *testing.T) {
			out, errOut, wall, err := runSealctl(t, s, 3*time.Minute, "--mode", mode, "--timeout", "150s", pdf)
			if err != nil {
				t.Fatalf("sealctl: %v\n%s", err, errOut)
			}
			pages := strings.Split(strings.TrimSuffix(out, "\n"), "\f")
			if len(pages) != 4 {
				t.Fatalf("%d pages printed, want 4:\n%s", len(pages), out)
			}
			for i, p := range pages {
				if c := pageCER(p, labels[i]); c > scannedPages[i].maxCER {
					t.Errorf("page %d: CER %.3f over %.2f:\n%s", i+1, c, scannedPages[i].maxCER, p)
				} else {
					t.Logf("%s page %d: CER %.3f", mode, i+1, c)
				}
			}
			t.Logf("%s: 4 pages in %s", mode, wall.Round(time.Millisecond))
		})
	}
	t.Run("searchable PDF", func(t *testing.T) {
		outPDF := filepath.Join(dir, "searchable.pdf")
		_, errOut, _, err := runSealctl(t, s, 3*time.Minute, "--mode", "ohttp", "--timeout", "150s", "--output", "pdf", "-o", outPDF, pdf)
		if err != nil {
			t.Fatalf("sealctl: %v\n%s", err, errOut)
		}
		pdfinfo := testkit.NeedTool(t, "pdfinfo", "apt-get install -y poppler-utils")
		info, err := exec.Command(pdfinfo, outPDF).Output()
		if err != nil || !regexp.MustCompile(`Pages: +4\n`).Match(info) {
			t.Fatalf("pdfinfo: %v\n%s", err, info)
		}
		pdftotext := testkit.NeedTool(t, "pdftotext", "apt-get install -y poppler-utils")
		for i := range scannedPages {
			n := strconv.Itoa(i + 1)
			text, err := exec.Command(pdftotext, "-f", n, "-l", n, "-layout", outPDF, "-").Output()
			if err != nil {
				t.Fatal(err)
			}
			if c := pageCER(string(text), labels[i]); c > scannedPages[i].maxCER+0.05 {
				t.Errorf("page %d of the searchable PDF: pdftotext CER %.3f:\n%s", i+1, c, text)
			} else {
				t.Logf("searchable PDF page %d: pdftotext CER %.3f", i+1, c)
			}
		}
	})
}
