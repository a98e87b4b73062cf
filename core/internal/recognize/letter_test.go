package recognize

import (
	"testing"

	"github.com/sealocr/sealocr/core/internal/ctc"
)

// TestLetterO: a 0 ending a run of letters becomes O when the model gave
// the O enough probability, and stays 0 otherwise, or inside a code, or
// before a digit.
func TestLetterO(t *testing.T) {
	dict := ctc.NewDict([]string{"P", "0", "O", "-", "7", "H"})
	r := &Recognizer{dict: dict}
	const classes = 7 // blank + 6
	// decode builds one step per character with probability 0.9 for it
	// and pO for the O at the 0's step.
	decode := func(text string, pO float32) (ctc.Result, []float32) {
		var res ctc.Result
		probs := make([]float32, len(text)*classes)
		for i, c := range text {
			k, _ := dict.Index(string(c))
			probs[i*classes+k] = 0.9
			if c == '0' {
				probs[i*classes+3] = pO
			}
			res.Chars = append(res.Chars, ctc.Char{Text: string(c), First: i, Last: i})
		}
		res.Text, res.Steps = text, len(text)
		return res, probs
	}
	for _, tc := range []struct {
		text string
		pO   float32
		want string
	}{
		{"P0-7", 0.2, "PO-7"},
		{"P0", 0.2, "PO"},
		{"P0-7", 0.01, "P0-7"}, // the model did not find an O likely
		{"P0H", 0.2, "P0H"},    // inside a code
		{"P07", 0.2, "P07"},    // before a digit
		{"70-7", 0.2, "70-7"},  // after a digit
	} {
		res, probs := decode(tc.text, tc.pO)
		if got := r.letterO(res, probs, classes); got.Text != tc.want {
			t.Errorf("%q (p(O) %.2f): got %q, want %q", tc.text, tc.pO, got.Text, tc.want)
		}
	}
}
