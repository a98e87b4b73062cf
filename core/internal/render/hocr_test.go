package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/core/api"
)

// node is any XML element, with its attributes, children and text.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []node     `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// find returns the descendants of n (n included) whose class is class, in
// document order.
func (n node) find(class string) []node {
	var out []node
	if n.attr("class") == class {
		out = append(out, n)
	}
	for _, c := range n.Nodes {
		out = append(out, c.find(class)...)
	}
	return out
}

// text is the text of a word (an element without children).
func (n node) text() string { return n.Text }

// props parses an hOCR title: "bbox 0 0 10 10; x_wconf 93" → map.
func props(title string) map[string][]string {
	m := map[string][]string{}
	for _, p := range strings.Split(title, ";") {
		f := strings.Fields(p)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

type rect struct{ x0, y0, x1, y1 int }

func parseBBox(t *testing.T, title string) rect {
	t.Helper()
	b := props(title)["bbox"]
	if len(b) != 4 {
		t.Fatalf("no bbox in %q", title)
	}
	var v [4]int
	for i, s := range b {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("bbox %q: %v", title, err)
		}
		v[i] = n
	}
	return rect{v[0], v[1], v[2], v[3]}
}

func (r rect) inside(o rect) bool {
	return r.x0 >= o.x0 && r.y0 >= o.y0 && r.x1 <= o.x1 && r.y1 <= o.y1 && r.x0 < r.x1 && r.y0 < r.y1
}

// TestHOCR writes label pages (upright and turned) as hOCR, parses the
// result as XML (XHTML must be well-formed) and checks its structure: the
// ocr-system and ocr-capabilities metas; one ocr_page per page with bbox =
// the image's size, ppageno and scan_res; one ocr_line per line whose
// words read as the line, inside the page; words inside their line, with
// x_wconf 0..100; textangle on the lines of turned pages; unique ids.
func TestHOCR(t *testing.T) {
	pages := testPages(t)
	var b bytes.Buffer
	h := NewHOCR(&b, HOCROptions{})
	for _, pg := range pages {
		pg.Image = nil // hOCR does not need the pixels
		if err := h.AddPage(pg); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML declaration")
	}
	var root node
	if err := xml.Unmarshal(b.Bytes(), &root); err != nil {
		t.Fatalf("not well-formed: %v", err)
	}
	if root.XMLName.Local != "html" || root.XMLName.Space != "http://www.w3.org/1999/xhtml" {
		t.Errorf("root %v", root.XMLName)
	}
	metas := map[string]string{}
	for _, c := range root.Nodes {
		if c.XMLName.Local == "head" {
			for _, m := range c.Nodes {
				if m.XMLName.Local == "meta" && m.attr("name") != "" {
					metas[m.attr("name")] = m.attr("content")
				}
			}
		}
	}
	if metas["ocr-system"] != "sealocr" || !strings.Contains(metas["ocr-capabilities"], "ocr_page ocr_line ocrx_word ocrp_wconf") {
		t.Errorf("metas %v", metas)
	}
	ids := map[string]bool{}
	checkID := func(n node) {
		id := n.attr("id")
		if id == "" || ids[id] {
			t.Errorf("id %q missing or repeated", id)
		}
		ids[id] = true
	}
	divs := root.find("ocr_page")
	if len(divs) != len(pages) {
		t.Fatalf("%d ocr_page, want %d", len(divs), len(pages))
	}
	for i, div := range divs {
		pg := pages[i]
		checkID(div)
		p := props(div.attr("title"))
		page := parseBBox(t, div.attr("title"))
		if page != (rect{0, 0, pg.Width, pg.Height}) || strings.Join(p["ppageno"], " ") != strconv.Itoa(i) || strings.Join(p["scan_res"], " ") != "120 120" {
			t.Errorf("page %d title %q", i+1, div.attr("title"))
		}
		lines := div.find("ocr_line")
		if len(lines) != len(pg.Lines) {
			t.Fatalf("page %d: %d lines, want %d", i+1, len(lines), len(pg.Lines))
		}
		for k, ln := range lines {
			checkID(ln)
			lb := parseBBox(t, ln.attr("title"))
			if !lb.inside(page) {
				t.Errorf("page %d line %d: bbox %v outside the page", i+1, k+1, lb)
			}
			wantAngle := ""
			if pg.Angle != 0 {
				wantAngle = strconv.Itoa(360 - pg.Angle)
			}
			if got := strings.Join(props(ln.attr("title"))["textangle"], " "); got != wantAngle {
				t.Errorf("page %d (angle %d) line %d: textangle %q, want %q", i+1, pg.Angle, k+1, got, wantAngle)
			}
			var texts []string
			for _, w := range ln.find("ocrx_word") {
				checkID(w)
				if wb := parseBBox(t, w.attr("title")); !wb.inside(lb) {
					t.Errorf("page %d line %d: word bbox %v outside the line's %v", i+1, k+1, wb, lb)
				}
				conf, err := strconv.Atoi(strings.Join(props(w.attr("title"))["x_wconf"], ""))
				if err != nil || conf != 93 {
					t.Errorf("page %d line %d: x_wconf in %q, want 93", i+1, k+1, w.attr("title"))
				}
				texts = append(texts, w.text())
			}
			if got, want := strings.Join(texts, " "), fields(pg.Lines[k].Text); got != want {
				t.Errorf("page %d line %d: words %q, want %q", i+1, k+1, got, want)
			}
		}
	}
}

// TestHOCRPages checks HOCR, the one-call form for api.Pages: escaping,
// confidences clamped to 0..100, boxes clipped to the page, lines without
// text or area left out, no scan_res when the resolution is unknown.
func TestHOCRPages(t *testing.T) {
	pg := api.Page{Page: 1, Width: 200, Height: 100, Lines: []api.Line{
		{Text: `a<b & "c" 'd'`, Confidence: 1.7, Box: [4]api.Point{{-5, -5}, {250, -5}, {250, 30}, {-5, 30}}},
		{Text: "x", Confidence: -0.2, Box: [4]api.Point{{10, 50}, {40, 50}, {40, 70}, {10, 70}}},
		{Text: " \t ", Confidence: 0.5, Box: [4]api.Point{{10, 80}, {40, 80}, {40, 90}, {10, 90}}},
		{Text: "flat", Confidence: 0.5, Box: [4]api.Point{{10, 80}, {40, 80}, {40, 80}, {10, 80}}},
	}}
	var b bytes.Buffer
	if err := HOCR(&b, []api.Page{pg}); err != nil {
		t.Fatal(err)
	}
	var root node
	if err := xml.Unmarshal(b.Bytes(), &root); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, b.String())
	}
	div := root.find("ocr_page")
	if len(div) != 1 || div[0].attr("title") != "bbox 0 0 200 100; ppageno 0" {
		t.Fatalf("pages %v", div)
	}
	words := root.find("ocrx_word")
	var got []string
	for _, w := range words {
		got = append(got, fmt.Sprintf("%s|%s", w.text(), w.attr("title")))
	}
	want := []string{
		// 255 pixels for 13 characters, 19.6 each: a<b is 0-3, & 4-5, "c"
		// 6-9, 'd' 10-13, from x = -5; rounded outwards and clipped.
		`a<b|bbox 0 0 54 30; x_wconf 100`, `&|bbox 73 0 94 30; x_wconf 100`, `"c"|bbox 112 0 172 30; x_wconf 100`, `'d'|bbox 191 0 200 30; x_wconf 100`,
		`x|bbox 10 50 40 70; x_wconf 0`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("words:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(root.find("ocr_line")); n != 2 {
		t.Errorf("%d lines, want 2", n)
	}
	if err := HOCR(&b, []api.Page{{}}); err != ErrBadPage {
		t.Errorf("empty page: %v, want ErrBadPage", err)
	}
	if regexp.MustCompile(`scan_res`).Match(b.Bytes()) {
		t.Errorf("scan_res without a resolution")
	}
}
