package recognize

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"

	"github.com/sealocr/sealocr/core/internal/ctc"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// inkSpaces returns r with a space inserted between two neighbouring
// characters when the line image shows a gap between them: a run of
// columns without ink wider than gap times the height of the line's ink.
// Characters are placed on the image by the time steps CTC read them at
// (step t covers input columns t*w/steps to (t+1)*w/steps, of which the
// first rw hold the line resized to the model height). Ink is every pixel
// further from the background colour (see raster.Background) than half
// the line's contrast.
//
// Between two digits the gap must be wider (4/3 of gap: a narrow 1 among
// tabular digits leaves a wide gap) and the two digits' centres must also
// stand further apart than 1.25 times the line's digit pitch (see
// digitPitch): digit groups such
// as an IBAN's "DE36 7934" keep their space, tabular digits stay whole.
// On a line with wide (CJK) characters the threshold is mixedGap of gap.
// Spaces the model emitted are kept; see spaceable and inNumber for where a
// space never goes.
func inkSpaces(line *raster.Image, r ctc.Result, rw, w int, gap float64) ctc.Result {
	if gap <= 0 || len(r.Chars) < 2 || r.Steps == 0 || rw <= 0 || line.W < 2 || line.H < 2 {
		return r
	}
	cols, inkH := inkColumns(line)
	if inkH == 0 {
		return r
	}
	// x maps a step position to a column of line.
	x := func(step float64) int {
		in := (step + 0.5) * float64(w) / float64(r.Steps)
		return min(max(int(in*float64(line.W)/float64(rw)), 0), line.W-1)
	}
	center := func(c ctc.Char) int { return x(float64(c.First+c.Last) / 2) }
	pitch := digitPitch(r.Chars, center)
	if hasWide(r.Chars) {
		// Ideographs set the ink band; Latin letters beside them are
		// shorter, so their gaps are a smaller share of it.
		gap *= mixedGap
	}
	// blank is the widest run of columns without ink between the centres
	// of characters i-1 and i.
	blank := func(i int) int {
		run, longest := 0, 0
		for cx := center(r.Chars[i-1]); cx <= center(r.Chars[i]); cx++ {
			if cols[cx] {
				run = 0
				continue
			}
			run++
			longest = max(longest, run)
		}
		return longest
	}
	// The line's own letter spacing: the median blank between
	// neighbouring characters (words hold more pairs than the gaps between
	// them). A face set loosely or in fixed cells (Liberation Mono, Nimbus
	// Mono) leaves wide blanks around narrow letters; a word space there
	// must be clearly wider than the typical one.
	var blanks []int
	for i := 1; i < len(r.Chars); i++ {
		if r.Chars[i-1].Text != " " && r.Chars[i].Text != " " {
			blanks = append(blanks, blank(i))
		}
	}
	typical := 0.0
	if len(blanks) >= 4 && !hasWide(r.Chars) {
		slices.Sort(blanks)
		typical = float64(blanks[(len(blanks)-1)/2])
		if typical > gap*float64(inkH) {
			typical = 0 // letters spaced apart ("S A L E"): every gap is a space
		}
	}
	out := ctc.Result{Confidence: r.Confidence, Steps: r.Steps, Chars: make([]ctc.Char, 0, len(r.Chars))}
	var b strings.Builder
	for i, c := range r.Chars {
		if i > 0 {
			p := r.Chars[i-1]
			if spaceable(p.Text, c.Text) && !inNumber(r.Chars, i) {
				longest := blank(i)
				if float64(longest) <= typicalGap*typical {
					longest = 0
				}
				need := gap
				apart := true
				if digit(p.Text) && digit(c.Text) {
					need *= 4.0 / 3
					apart = pitch == 0 || float64(center(c)-center(p)) > 1.25*pitch
				}
				if apart && float64(longest) > need*float64(inkH) {
					out.Chars = append(out.Chars, ctc.Char{Text: " ", First: p.Last + 1, Last: c.First - 1})
					b.WriteByte(' ')
				}
			}
		}
		out.Chars = append(out.Chars, c)
		b.WriteString(c.Text)
	}
	out.Text = b.String()
	return out
}

// typicalGap: on a line without wide (CJK) characters and with at least
// four pairs of neighbouring characters, a space goes only where the blank
// is wider than typicalGap times the line's median blank between
// neighbours (its own letter spacing), unless that median is itself wider
// than the gap threshold (letters set apart, each gap a space). Measured on generated English lines
// (seed 9, 200 lines): exact with spaces kept in mode=line 89.0% → 92.5%,
// strict CER 0.57% → 0.36%; in document mode 90.0% → 94.5%; 1.5, 1.75, 2.5
// and 3 did less.
const typicalGap = 2.0

// mixedGap scales the gap threshold on a line with wide (CJK) characters.
const mixedGap = 5.0 / 6

// hasWide reports whether any of cs is a wide (East Asian) character.
func hasWide(cs []ctc.Char) bool {
	for _, c := range cs {
		if w, _ := kind(c.Text); w {
			return true
		}
	}
	return false
}

// halfwidth maps the fullwidth punctuation the model reads after Latin
// text to the ASCII form printed there.
var halfwidth = map[string]string{"：": ":", "，": ",", "；": ";", "！": "!", "？": "?", "）": ")"}

// latinPunct returns r with fullwidth punctuation that follows an ASCII
// letter or digit ("Code：", "Thank you！") in its ASCII form: PP-OCRv4
// reads a colon or comma after Latin text as the fullwidth one about as
// often as not, while Chinese punctuation follows Chinese text. Run
// before inkSpaces so that the space after it can be found.
func latinPunct(r ctc.Result) ctc.Result {
	var out *ctc.Result
	for i := 1; i < len(r.Chars); i++ {
		h, ok := halfwidth[r.Chars[i].Text]
		p := r.Chars[i-1].Text
		if !ok || len(p) != 1 || !(p[0] < utf8.RuneSelf && (unicode.IsLetter(rune(p[0])) || unicode.IsDigit(rune(p[0])))) {
			continue
		}
		if out == nil {
			out = &ctc.Result{Text: r.Text, Confidence: r.Confidence, Steps: r.Steps, Chars: slices.Clone(r.Chars)}
		}
		out.Chars[i].Text = h
	}
	if out == nil {
		return r
	}
	var b strings.Builder
	for _, c := range out.Chars {
		b.WriteString(c.Text)
	}
	out.Text = b.String()
	return *out
}

// latinDigits returns r with a digit read inside a lowercase Latin word
// as the letter it stands for: 0 between two lowercase letters as o
// ("Acc0unt"), 1 there as l ("Ba1ance"), and 0 starting a word of at least
// two more lowercase letters as O ("0rder"). PP-OCRv4's Chinese model
// mixes these up on Latin text; codes and numbers (upper case, digits)
// are left alone.
func latinDigits(r ctc.Result) ctc.Result {
	lower := func(i int) bool {
		return i >= 0 && i < len(r.Chars) && len(r.Chars[i].Text) == 1 && r.Chars[i].Text[0] >= 'a' && r.Chars[i].Text[0] <= 'z'
	}
	wordStart := func(i int) bool {
		return i == 0 || r.Chars[i-1].Text == " "
	}
	var out []ctc.Char
	for i, c := range r.Chars {
		to := ""
		switch {
		case c.Text == "0" && lower(i-1) && lower(i+1):
			to = "o"
		case c.Text == "1" && lower(i-1) && lower(i+1):
			to = "l"
		case c.Text == "0" && wordStart(i) && lower(i+1) && lower(i+2):
			to = "O"
		}
		if to == "" {
			continue
		}
		if out == nil {
			out = slices.Clone(r.Chars)
		}
		out[i].Text = to
	}
	if out == nil {
		return r
	}
	var b strings.Builder
	for _, c := range out {
		b.WriteString(c.Text)
	}
	return ctc.Result{Text: b.String(), Confidence: r.Confidence, Chars: out, Steps: r.Steps}
}

// digitPitch is the mean of the distances in columns between the centres
// of neighbouring digits of cs that are at most their (lower) median, or 0
// with fewer than two such pairs (one pair cannot be compared with itself).
// Centres fall on the model's time steps, a few columns apart: on a narrow
// crop the distances inside a group alternate between two steps (13 and
// 18 columns for a pitch of 15.5) and the median, 18, put a group's gap
// (21) within 1.25 pitches. The mean of the lower half averages the steps
// out (seed 9, 200 English lines in document mode: exact with spaces kept
// 94.0% → 95.0%).
func digitPitch(cs []ctc.Char, center func(ctc.Char) int) float64 {
	var d []int
	for i := 1; i < len(cs); i++ {
		if digit(cs[i-1].Text) && digit(cs[i].Text) {
			d = append(d, center(cs[i])-center(cs[i-1]))
		}
	}
	if len(d) < 2 {
		return 0
	}
	slices.Sort(d)
	m := (len(d) - 1) / 2
	sum := 0
	for _, v := range d[:m+1] {
		sum += v
	}
	return float64(sum) / float64(m+1)
}

// spaceable reports whether a space may go between a and b: not next to a
// space, not between two wide (CJK) characters — Chinese and Japanese put
// no spaces between ideographs however loosely they are set — not next
// to wide punctuation (，：、（） and the like), whose glyphs are half empty,
// not before closing punctuation (. , : ; ! ? ) %) nor after an opening
// parenthesis, and not next to a hyphen or slash ("PO-05589/E"): their
// narrow glyphs leave wide gaps that print no space.
func spaceable(a, b string) bool {
	if a == " " || b == " " {
		return false
	}
	if strings.Contains(".,:;!?)%-/", b) || strings.Contains("(-/", a) {
		return false
	}
	wa, pa := kind(a)
	wb, pb := kind(b)
	return !(wa && wb) && !pa && !pb
}

// kind reports whether s's first rune is wide (East Asian wide or
// fullwidth) and whether it is wide punctuation or a symbol.
func kind(s string) (wide, widePunct bool) {
	c, _ := utf8.DecodeRuneInString(s)
	switch width.LookupRune(c).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true, !unicode.IsLetter(c) && !unicode.IsNumber(c)
	}
	return false, false
}

// inNumber reports whether the characters i-1 and i are the separator and
// a digit, or a digit and the separator, of a decimal number ("1159.10",
// "1,024"): the narrow ink of a point leaves a wide gap but is never
// followed or preceded by a space inside a number.
func inNumber(cs []ctc.Char, i int) bool {
	digit := func(k int) bool { return k >= 0 && k < len(cs) && digit(cs[k].Text) }
	sep := func(k int) bool { return cs[k].Text == "." || cs[k].Text == "," }
	return (sep(i-1) && digit(i-2) && digit(i)) || (sep(i) && digit(i-1) && digit(i+1))
}

// digit reports whether s is one ASCII digit.
func digit(s string) bool { return len(s) == 1 && s[0] >= '0' && s[0] <= '9' }

// inkColumns reports for each column of img whether it has ink in the
// middle 90% of the rows (a crop may catch the edges of the lines above
// and below), and the height in rows of the ink band (rows with ink in
// at least 1% of the columns).
func inkColumns(img *raster.Image) (cols []bool, inkH int) {
	bg := raster.Background(img)
	gray := func(i int) float64 { return float64(img.Pix[i]+img.Pix[i+1]+img.Pix[i+2]) / 3 }
	g := float64(bg[0]+bg[1]+bg[2]) / 3
	dist := make([]float64, img.W*img.H)
	for k := range dist {
		dist[k] = math.Abs(gray(3*k) - g)
	}
	sorted := slices.Clone(dist)
	slices.Sort(sorted)
	contrast := sorted[len(sorted)*98/100]
	if contrast < 16 {
		return nil, 0
	}
	thr := contrast / 2
	// Rows with ink in at least 1% of the columns; the line's band is
	// the longest run of them (gaps of a few rows bridged), so that the
	// edges of the lines above and below that a loose crop catches set
	// neither the band's height nor the columns' ink.
	rows := make([]bool, img.H)
	for y := 0; y < img.H; y++ {
		n := 0
		for _, d := range dist[y*img.W : (y+1)*img.W] {
			if d > thr {
				n++
			}
		}
		rows[y] = n >= max(2, img.W/100)
	}
	top, bottom := band(rows, max(1, img.H/12))
	if top < 0 {
		return nil, 0
	}
	y0, y1 := max(top, img.H*5/100), min(bottom+1, img.H-img.H*5/100)
	cols = make([]bool, img.W)
	for y := y0; y < y1; y++ {
		for xx, d := range dist[y*img.W : (y+1)*img.W] {
			if d > thr {
				cols[xx] = true
			}
		}
	}
	return cols, bottom - top + 1
}

// band returns the first and last index of the longest run of true in
// rows, where runs of at most bridge false between trues do not break a
// run; (-1, -1) when rows has no true.
func band(rows []bool, bridge int) (top, bottom int) {
	top, bottom = -1, -1
	start, last := -1, -1
	for y, ink := range rows {
		if !ink {
			continue
		}
		if start < 0 || y-last-1 > bridge {
			start = y
		}
		last = y
		if top < 0 || last-start > bottom-top {
			top, bottom = start, last
		}
	}
	return top, bottom
}
