package web

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/core/testkit/doctest"
)

// TestBrowserPDF: a two-page scanned PDF (the second page upside down)
// uploaded to the page the sidecar serves is read page by page through
// OHTTP; each page is shown from the picture the core sends back
// (page_images), with its boxes, and its lines are listed under "Page N";
// "Download searchable PDF" sends the file again, sealed, and saves a PDF
// whose text pdftotext reads. Nothing goes to /v1/ocr in the clear.
func TestBrowserPDF(t *testing.T) {
	chromiumPath(t)
	pdftotext := testkit.NeedTool(t, "pdftotext", "apt-get install -y poppler-utils")
	var pages []doctest.Page
	for i, rel := range []string{"tesseract_js/pages/testocr.png", "tesseract_js/pages/cosmic.png"} {
		img := doctest.LoadImage(t, filepath.Join("../../testdata/ocr", rel))
		pages = append(pages, doctest.Page{Size: doctest.A4, Image: doctest.Scan(img, 1240, 1754, 2*i)})
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "contract.pdf")
	if err := os.WriteFile(pdf, doctest.PDF(t, pages, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	coreURL := startCore(t)
	sidecarURL, spki := startSidecar(t, coreURL)
	ctx := browser(t, spki)
	watchConsole(t, ctx)
	requests := recordRequests(ctx)
	downloads := filepath.Join(dir, "downloads")
	if err := os.Mkdir(downloads, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(sidecarURL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="ohttp"] #key-info`)),
	); err != nil {
		t.Fatalf("page did not find the OHTTP gateway: %v", err)
	}
	msg := upload(t, ctx, pdf)
	if !strings.Contains(msg, "2 pages") || !strings.Contains(msg, "encrypted") {
		t.Errorf("status %q: want the lines of 2 pages, sent encrypted", msg)
	}
	lines := text(t, ctx, "#lines")
	for _, want := range []string{"Page 1", "Page 2", "point text", "Cosmic"} {
		if !strings.Contains(lines, want) {
			t.Errorf("lines lack %q:\n%s", want, lines)
		}
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[
		document.getElementById("image").src.startsWith("blob:") && !document.getElementById("image").hidden ? 1 : 0,
		document.querySelectorAll("#more-pages .stage img[src^='blob:']").length,
		document.querySelectorAll("#boxes polygon").length,
		document.querySelectorAll("#more-pages svg polygon").length]`))
	if err != nil || len(shown) != 4 || shown[0] != 1 || shown[1] != 1 || shown[2] < 3 || shown[3] < 2 {
		t.Errorf("pages shown [first picture, further pictures, boxes on page 1, boxes on page 2] = %v (%v)", shown, err)
	}
	screenshot(t, ctx, "webui-pdf.png")

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("download-pdf"))); err != nil {
		t.Fatal(err)
	}
	var saved string
	for deadline := time.Now().Add(120 * time.Second); saved == ""; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no searchable PDF downloaded; status %q", text(t, ctx, "#message"))
		}
		if m, _ := filepath.Glob(filepath.Join(downloads, "*.pdf")); len(m) == 1 {
			if b, err := os.ReadFile(m[0]); err == nil && bytes.HasPrefix(b, []byte("%PDF-")) && bytes.Contains(b, []byte("%%EOF")) {
				saved = m[0]
			}
		}
	}
	if filepath.Base(saved) != "contract.searchable.pdf" {
		t.Errorf("saved as %s", filepath.Base(saved))
	}
	out, err := exec.Command(pdftotext, saved, "-").Output()
	if err != nil || !strings.Contains(string(out), "point text") || !strings.Contains(string(out), "Cosmic") {
		t.Errorf("pdftotext of the searchable PDF (%v):\n%s", err, out)
	}

	posts := 0
	for _, r := range requests() {
		if strings.Contains(r.url, "/v1/ocr") {
			t.Errorf("request in the clear: %s %s", r.method, r.url)
		}
		if r.method == "POST" {
			posts++
			if r.url != sidecarURL+"/.well-known/ohttp-gateway" {
				t.Errorf("POST %s", r.url)
			}
		}
	}
	if posts != 2 {
		t.Errorf("%d POSTs, want 2 (the pages, then the searchable PDF)", posts)
	}
}
