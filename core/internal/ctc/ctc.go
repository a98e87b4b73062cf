// Package ctc decodes the output of a CTC-trained recognizer (CRNN family):
// per time step a probability over the character set, index 0 the blank.
//
// Greedy decoding takes the most likely class at each step, collapses runs of
// the same class and drops blanks, as PaddleOCR's CTCLabelDecode does. A
// line's confidence is the mean of the kept steps' probabilities.
package ctc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrShape reports an output whose size does not match steps × classes.
var ErrShape = errors.New("ctc: output shape does not match the dictionary")

// Dict maps class indices to strings: index 0 is the blank, then one entry per
// dictionary line, then (optionally) a space.
type Dict struct {
	chars []string
}

// LoadDict reads a dictionary with one character per line, as PaddleOCR's
// ppocr_keys_v1.txt. withSpace appends " " as the last class, as
// use_space_char does.
func LoadDict(r io.Reader, withSpace bool) (*Dict, error) {
	chars := []string{""} // blank
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		chars = append(chars, strings.TrimRight(sc.Text(), "\r\n"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ctc: read dictionary: %w", err)
	}
	if len(chars) < 2 {
		return nil, errors.New("ctc: empty dictionary")
	}
	if withSpace {
		chars = append(chars, " ")
	}
	return &Dict{chars: chars}, nil
}

// NewDict builds a dictionary from characters (without the blank).
func NewDict(chars []string) *Dict {
	return &Dict{chars: append([]string{""}, chars...)}
}

// Index returns the class index of s, or false when the dictionary does
// not hold it.
func (d *Dict) Index(s string) (int, bool) {
	for i, c := range d.chars {
		if i > 0 && c == s {
			return i, true
		}
	}
	return 0, false
}

// Classes is the number of classes including the blank.
func (d *Dict) Classes() int { return len(d.chars) }

// Result is one decoded line.
type Result struct {
	Text       string
	Confidence float64
	// Chars are the decoded characters with the time steps they were read
	// at, in order; their concatenation is Text.
	Chars []Char
	// Steps is the number of time steps of the model output the line was
	// decoded from.
	Steps int
}

// Char is one decoded character and the run of time steps (First to Last,
// inclusive) whose most likely class it was.
type Char struct {
	Text        string
	First, Last int
}

// Decode greedily decodes one line: probs holds steps × classes values in
// row-major order.
func (d *Dict) Decode(probs []float32, steps int) (Result, error) {
	classes := len(d.chars)
	if steps < 0 || len(probs) != steps*classes {
		return Result{}, ErrShape
	}
	var b strings.Builder
	var sum float64
	var chars []Char
	kept := 0
	prev := -1
	for t := 0; t < steps; t++ {
		row := probs[t*classes : (t+1)*classes]
		best, bestP := 0, row[0]
		for c := 1; c < classes; c++ {
			if row[c] > bestP {
				best, bestP = c, row[c]
			}
		}
		if best != 0 && best != prev {
			b.WriteString(d.chars[best])
			sum += float64(bestP)
			kept++
			chars = append(chars, Char{Text: d.chars[best], First: t, Last: t})
		} else if best != 0 {
			chars[len(chars)-1].Last = t
		}
		prev = best
	}
	if kept == 0 {
		return Result{Steps: steps}, nil
	}
	return Result{Text: b.String(), Confidence: sum / float64(kept), Chars: chars, Steps: steps}, nil
}

// DecodeBatch decodes a batch output of shape [batch, steps, classes].
func (d *Dict) DecodeBatch(probs []float32, shape []int64) ([]Result, error) {
	if len(shape) != 3 || int(shape[2]) != len(d.chars) {
		return nil, ErrShape
	}
	n, steps := int(shape[0]), int(shape[1])
	if len(probs) != n*steps*len(d.chars) {
		return nil, ErrShape
	}
	out := make([]Result, n)
	per := steps * len(d.chars)
	for i := range out {
		r, err := d.Decode(probs[i*per:(i+1)*per], steps)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}
