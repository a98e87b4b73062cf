package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/client/clienttest"
)

// documentCore answers like the core for documents: JSON with one page per
// form feed-separated "page" of the body's text after "%PDF-" (or one page
// for an image), a PDF or hOCR body when ?output= asks for one, and an
// answer of the wrong type for ?output=pdf when the body says "WRONG".
func documentCore(_ context.Context, r clienttest.Request) (int, string, []byte) {
	u, _ := url.Parse(r.Target)
	pages := []string{"page one"}
	if rest, ok := strings.CutPrefix(string(r.Body), "%PDF-"); ok {
		pages = strings.Split(rest, "\f")
	}
	switch u.Query().Get("output") {
	case "pdf":
		if strings.Contains(string(r.Body), "WRONG") {
			return http.StatusOK, "application/json", []byte(`{}`)
		}
		return http.StatusOK, "application/pdf", fmt.Appendf(nil, "%%PDF-1.7 searchable %d pages\n%%%%EOF\n", len(pages))
	case "hocr":
		return http.StatusOK, "text/html; charset=utf-8", fmt.Appendf(nil, "<html><body><div class='ocr_page'>%d</div></body></html>\n", len(pages))
	}
	res := api.Response{Text: strings.Join(pages, "\f")}
	for i, p := range pages {
		res.Pages = append(res.Pages, api.Page{Page: i + 1, Text: p, Lines: []api.Line{{Text: p, Confidence: 0.5}}})
	}
	res.Lines = res.Pages[0].Lines
	b, _ := json.Marshal(res)
	return http.StatusOK, "application/json", b
}

// TestOCRDocuments: PDFs and multi-page answers through sealctl against the
// sidecar's real gateway: every page printed with a form feed between,
// the PDF's media type sent, --output pdf/hocr written to -o (a file, or
// a folder for several inputs), a folder's PDFs taken and every skipped
// file named, and the misuse of -o refused before anything is sent.
func TestOCRDocuments(t *testing.T) {
	srv := clienttest.NewServer(t, documentCore)
	dir := t.TempDir()
	doc := writeFile(t, filepath.Join(dir, "in", "contract.pdf"), []byte("%PDF-first page\fsecond page\fthird page"))
	writeFile(t, filepath.Join(dir, "in", "scan.tiff"), []byte("II*\x00 a scan"))
	writeFile(t, filepath.Join(dir, "in", "notes.txt"), []byte("not sent"))
	base := []string{"ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile}

	t.Run("text, every page", func(t *testing.T) {
		for _, mode := range []string{"psk", "ohttp"} {
			stdout, stderr, err := runCmd(t, nil, append(base, "--mode", mode, doc)...)
			if err != nil {
				t.Fatalf("%s: %v\n%s", mode, err, stderr)
			}
			if want := "first page\fsecond page\fthird page\n"; stdout != want {
				t.Errorf("%s: stdout %q, want %q", mode, stdout, want)
			}
			if req, _ := srv.LastRequest(); req.ContentType != "application/pdf" || req.Target != "/v1/ocr" {
				t.Errorf("%s: the core saw %q %s", mode, req.ContentType, req.Target)
			}
		}
	})
	t.Run("tsv numbers lines across pages", func(t *testing.T) {
		stdout, _, err := runCmd(t, nil, append(base, "--output", "tsv", doc)...)
		if err != nil {
			t.Fatal(err)
		}
		if want := doc + "\t2\t0.5000\tthird page\n"; !strings.HasSuffix(stdout, want) || strings.Count(stdout, "\n") != 3 {
			t.Errorf("stdout %q, want three lines ending %q", stdout, want)
		}
	})
	t.Run("searchable PDF to a file", func(t *testing.T) {
		out := filepath.Join(dir, "out.pdf")
		if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, err := runCmd(t, nil, append(base, "--mode", "ohttp", "--output", "pdf", "-o", out, doc)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		got, _ := os.ReadFile(out)
		if string(got) != "%PDF-1.7 searchable 3 pages\n%%EOF\n" || stdout != "" {
			t.Errorf("file %q, stdout %q", got, stdout)
		}
		if req, _ := srv.LastRequest(); req.Target != "/v1/ocr?output=pdf" {
			t.Errorf("the core saw %s", req.Target)
		}
		if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
			t.Errorf("output file mode %v, want 0600 (it holds the text)", fi.Mode().Perm())
		}
		left, _ := filepath.Glob(filepath.Join(dir, ".out.pdf.*"))
		if len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("hOCR to standard output", func(t *testing.T) {
		stdout, _, err := runCmd(t, nil, append(base, "--output", "hocr", doc)...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout, "<div class='ocr_page'>3</div>") {
			t.Errorf("stdout %q", stdout)
		}
	})
	t.Run("a folder into a folder", func(t *testing.T) {
		outDir := filepath.Join(dir, "hocr")
		if err := os.Mkdir(outDir, 0o700); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := runCmd(t, nil, append(base, "--output", "hocr", "-o", outDir, filepath.Join(dir, "in"))...)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if !strings.Contains(stderr, "skipping "+filepath.Join(dir, "in", "notes.txt")+": not an image or PDF file by its name") {
			t.Errorf("stderr does not name the skipped file: %q", stderr)
		}
		for name, pages := range map[string]string{"contract.hocr": "3", "scan.hocr": "1"} {
			got, err := os.ReadFile(filepath.Join(outDir, name))
			if err != nil || !strings.Contains(string(got), ">"+pages+"<") {
				t.Errorf("%s: %q, %v", name, got, err)
			}
		}
	})
	t.Run("two inputs of one base name", func(t *testing.T) {
		other := writeFile(t, filepath.Join(dir, "other", "contract.pdf"), []byte("%PDF-x"))
		outDir := t.TempDir()
		_, stderr, err := runCmd(t, nil, append(base, "--output", "pdf", "-o", outDir, doc, other)...)
		if err == nil || !strings.Contains(stderr, "already holds the output of "+doc) {
			t.Errorf("err %v, stderr %q", err, stderr)
		}
		if got, _ := os.ReadFile(filepath.Join(outDir, "contract.pdf")); !strings.Contains(string(got), "3 pages") {
			t.Errorf("the first file's output was overwritten: %q", got)
		}
	})
	t.Run("an answer of the wrong type", func(t *testing.T) {
		bad := writeFile(t, filepath.Join(dir, "bad.pdf"), []byte("%PDF-WRONG"))
		out := filepath.Join(dir, "bad-out.pdf")
		_, stderr, err := runCmd(t, nil, append(base, "--output", "pdf", "-o", out, bad)...)
		if err == nil || !strings.Contains(stderr, "application/json") {
			t.Errorf("err %v, stderr %q", err, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("a file was written for a failed answer: %v", err)
		}
	})
	t.Run("misuse", func(t *testing.T) {
		_, before := srv.LastRequest()
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"--output", "pdf", doc}, "--output pdf needs -o FILE"},
			{[]string{"-o", "x.pdf", doc}, "-o is for --output pdf or hocr"},
			{[]string{"--output", "xml", doc}, `unknown --output "xml"`},
			{[]string{"--output", "tsv", "--format", "json", doc}, "disagree"},
			{[]string{"--output", "pdf", "-o", filepath.Join(dir, "nofolder"), doc, doc}, "must be an existing folder"},
		} {
			_, stderr, err := runCmd(t, nil, append(base, tt.args...)...)
			if code, ok := err.(exitCode); !ok || code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("%v: err %v, stderr %q, want exit 2 and %q", tt.args, err, stderr, tt.want)
			}
		}
		if _, after := srv.LastRequest(); after != before {
			t.Errorf("%d requests sent by refused command lines", after-before)
		}
	})
}
