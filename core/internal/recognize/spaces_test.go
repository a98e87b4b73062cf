package recognize

import (
	"testing"

	"github.com/sealocr/sealocr/core/internal/ctc"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// blocks draws a 40-pixel-high white line with a 20-pixel-high black block
// of width 10 at each x, and returns it with the CTC characters "a" read
// at one step per 8 columns over each block's centre.
func blocks(xs []int) (*raster.Image, ctc.Result) {
	img := raster.New(200, 40)
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	var r ctc.Result
	for _, x0 := range xs {
		for y := 10; y < 30; y++ {
			for x := x0; x < x0+10; x++ {
				o := img.Offset(x, y)
				img.Pix[o], img.Pix[o+1], img.Pix[o+2] = 0, 0, 0
			}
		}
		s := (x0 + 5) / 8
		r.Chars = append(r.Chars, ctc.Char{Text: "a", First: s, Last: s})
		r.Text += "a"
	}
	r.Steps, r.Confidence = 25, 0.9
	return img, r
}

func TestInkSpaces(t *testing.T) {
	// Gaps of 2, 3 and 0 columns between letters, 12 (0.6 of the ink height)
	// between the words.
	img, r := blocks([]int{20, 32, 45, 67, 77}) // ink 20 rows high
	tests := []struct {
		gap  float64
		want string
	}{
		{0, "aaaaa"},    // off
		{0.3, "aaa aa"}, // the word gap only
		{0.9, "aaaaa"},  // no gap that wide
		{0.1, "aaa aa"}, // 3 columns > 2, but not > 2 × the line's median blank (2)
		{-1, "aaaaa"},   // never
	}
	for _, tc := range tests {
		// The line is read at its own size: 200 columns in, 25 steps out.
		got := inkSpaces(img, r, 200, 200, tc.gap)
		if got.Text != tc.want || got.Confidence != r.Confidence {
			t.Errorf("gap %.1f: got %q, want %q", tc.gap, got.Text, tc.want)
		}
	}
	// A blank line (no contrast) is left alone.
	blank := raster.New(200, 40)
	if got := inkSpaces(blank, r, 200, 200, 0.3); got.Text != r.Text {
		t.Errorf("blank line: got %q", got.Text)
	}
}

func TestInkSpacesKeepNumbersWhole(t *testing.T) {
	// "1.5 5": the point and the digits around it are 12 columns apart,
	// as are the last two digits; only the last gap can be a space.
	img, r := blocks([]int{20, 42, 64, 86})
	for i, s := range []string{"1", ".", "5", "5"} {
		r.Chars[i].Text = s
	}
	r.Text = "1.55"
	// Between two digits the gap must be 4/3 of the threshold: 12 columns
	// are more than 4/3 × 0.25 × 20, not more than 4/3 × 0.5 × 20.
	if got := inkSpaces(img, r, 200, 200, 0.25); got.Text != "1.5 5" {
		t.Errorf("gap 0.25: got %q, want %q", got.Text, "1.5 5")
	}
	if got := inkSpaces(img, r, 200, 200, 0.5); got.Text != "1.55" {
		t.Errorf("gap 0.5: got %q, want %q", got.Text, "1.55")
	}
}

func TestInkSpacesDigitGroups(t *testing.T) {
	// Six digits set 16 columns apart (6-column gaps), with a group
	// space of 16 more after the third: "123 456". The gaps inside the
	// groups pass the ink threshold (6 > 4/3 × 0.12 × 20), but only the
	// group gap stands further apart than 1.25 digit pitches.
	img, r := blocks([]int{20, 36, 52, 84, 100, 116})
	for i, s := range []string{"1", "2", "3", "4", "5", "6"} {
		r.Chars[i].Text = s
	}
	r.Text = "123456"
	if got := inkSpaces(img, r, 200, 200, 0.12); got.Text != "123 456" {
		t.Errorf("got %q, want %q", got.Text, "123 456")
	}
}

// TestInkSpacesOwnSpacing: a word space must be clearly wider than the
// line's own letter spacing. Letters 4 columns apart (0.2 of the ink
// height, as a monospaced face leaves beside narrow letters) with one
// 7-column blank in a word (above the 0.3 threshold of 6 columns, not
// above twice the median 4) and a 14-column word space.
func TestInkSpacesOwnSpacing(t *testing.T) {
	img, r := blocks([]int{10, 24, 38, 55, 69, 93, 107})
	if got := inkSpaces(img, r, 200, 200, 0.3); got.Text != "aaaaa aa" {
		t.Errorf("got %q, want %q", got.Text, "aaaaa aa")
	}
}

func TestInkSpacesPunctuation(t *testing.T) {
	// "Ltd." "x-y" "(a": a closing period, a hyphen and an opening
	// parenthesis take no space however wide their gap (12 columns here).
	img, r := blocks([]int{20, 42, 64, 86, 108})
	for _, tc := range []struct{ chars, want string }{
		{"abc.d", "a b c. d"},
		{"ab-cd", "a b-c d"},
		{"a(bcd", "a (b c d"},
		{"ab/cd", "a b/c d"},
	} {
		for i, c := range tc.chars {
			r.Chars[i].Text = string(c)
		}
		r.Text = tc.chars
		if got := inkSpaces(img, r, 200, 200, 0.3); got.Text != tc.want {
			t.Errorf("%q: got %q, want %q", tc.chars, got.Text, tc.want)
		}
	}
}

func TestLatinPunct(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Code：12", "Code:12"},
		{"you！", "you!"},
		{"Kind regards，Accounts", "Kind regards,Accounts"},
		{"地址：北京", "地址：北京"}, // after Chinese, Chinese punctuation stays
		{"：a", "：a"},
	} {
		var r ctc.Result
		for i, c := range []rune(tc.in) {
			r.Chars = append(r.Chars, ctc.Char{Text: string(c), First: i, Last: i})
		}
		r.Text, r.Steps = tc.in, len(r.Chars)
		if got := latinPunct(r); got.Text != tc.want || len(got.Chars) != len(r.Chars) {
			t.Errorf("%q: got %q, want %q", tc.in, got.Text, tc.want)
		}
	}
}

func TestInkSpacesNotBetweenIdeographs(t *testing.T) {
	// 中 国 ， a b with 12-column gaps everywhere: no space between the
	// ideographs nor next to the wide comma, one between a and b; with x
	// for the comma, spaces around the Latin run.
	img, r := blocks([]int{20, 42, 64, 86, 108})
	for i, s := range []string{"中", "国", "，", "a", "b"} {
		r.Chars[i].Text = s
	}
	r.Text = "中国，ab"
	if got := inkSpaces(img, r, 200, 200, 0.3); got.Text != "中国，a b" {
		t.Errorf("got %q, want %q", got.Text, "中国，a b")
	}
	// On a line with ideographs the threshold is 5/6 of gap: 12 columns
	// are more than 5/6 × 0.7 × 20, so a and b are apart; not on a line
	// of Latin letters alone.
	if got := inkSpaces(img, r, 200, 200, 0.7); got.Text != "中国，a b" {
		t.Errorf("gap 0.7: got %q, want %q", got.Text, "中国，a b")
	}
	r.Chars[2].Text, r.Text = "x", "中国xab"
	if got := inkSpaces(img, r, 200, 200, 0.3); got.Text != "中国 x a b" {
		t.Errorf("got %q, want %q", got.Text, "中国 x a b")
	}
}

func TestLatinDigits(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Acc0unt No. 1024", "Account No. 1024"},
		{"Ba1ance 10,698.82", "Balance 10,698.82"},
		{"0rder ref. PO-10", "Order ref. PO-10"},
		{"19 0ctober 2022", "19 October 2022"},
		{"BIC: AB0CDE10", "BIC: AB0CDE10"}, // codes keep their digits
		{"0x 12", "0x 12"},                 // one letter after: left alone
		{"a10b", "a10b"},                   // neighbours are digits
	} {
		var r ctc.Result
		for i, c := range []rune(tc.in) {
			r.Chars = append(r.Chars, ctc.Char{Text: string(c), First: i, Last: i})
		}
		r.Text, r.Steps = tc.in, len(r.Chars)
		if got := latinDigits(r); got.Text != tc.want || len(got.Chars) != len(r.Chars) {
			t.Errorf("%q: got %q, want %q", tc.in, got.Text, tc.want)
		}
	}
}

// TestInkSpacesIgnoresNeighbourLines: a crop that catches the bottom of
// the line above (a strip over the word gap, six rows clear of the line)
// keeps the word's space: the strip sets neither the ink band nor the
// columns' ink.
func TestInkSpacesIgnoresNeighbourLines(t *testing.T) {
	img, r := blocks([]int{20, 32, 45, 67, 77})
	for y := 2; y < 4; y++ {
		for x := 50; x < 75; x++ {
			o := img.Offset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = 0, 0, 0
		}
	}
	if got := inkSpaces(img, r, 200, 200, 0.3); got.Text != "aaa aa" {
		t.Errorf("got %q, want %q", got.Text, "aaa aa")
	}
}

func TestBand(t *testing.T) {
	b := func(s string) []bool {
		out := make([]bool, len(s))
		for i := range s {
			out[i] = s[i] == '#'
		}
		return out
	}
	tests := []struct {
		rows        string
		bridge      int
		top, bottom int
	}{
		{"....", 1, -1, -1},
		{"#...", 1, 0, 0},
		{"##....######..", 1, 6, 11},
		{"##.##...#", 1, 0, 4},  // one blank row bridged
		{"##..##...#", 1, 0, 1}, // two are not; the first longest run wins
		{"##..##...#", 2, 0, 5},
	}
	for _, tc := range tests {
		if top, bottom := band(b(tc.rows), tc.bridge); top != tc.top || bottom != tc.bottom {
			t.Errorf("band(%q, %d) = %d, %d; want %d, %d", tc.rows, tc.bridge, top, bottom, tc.top, tc.bottom)
		}
	}
}

// TestDigitPitchSteps: on a narrow crop the centres of a group's digits
// stand 13 or 18 columns apart by turns (pitch 15.5 on the model's time
// steps); the gap between groups (21) must stay above 1.25 pitches.
func TestDigitPitchSteps(t *testing.T) {
	var cs []ctc.Char
	x := 0
	for i, d := range []int{0, 13, 18, 13, 21, 18, 13, 18, 21, 13, 18, 13} {
		x += d
		cs = append(cs, ctc.Char{Text: string(rune('0' + i%10)), First: x, Last: x})
	}
	p := digitPitch(cs, func(c ctc.Char) int { return c.First })
	if 21 <= 1.25*p || p < 13 {
		t.Errorf("pitch %.2f: a group gap of 21 columns is not more than 1.25 pitches", p)
	}
}
