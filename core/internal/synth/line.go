package synth

import (
	"fmt"
	"image"
	"math/rand/v2"
	"strings"
)

// Line is one generated single-line image: a line of text with margins,
// often degraded.
type Line struct {
	Name         string          // file name, with the extension of its encoding
	Data         []byte          // the encoded image (PNG or JPEG)
	Text         string          // the exact printed text
	Box          image.Rectangle // the ink's bounds in the final image
	Degradations string          // e.g. "rot=-2.41 lowcontrast jpeg=48"
}

// line prints and degrades one single-line image: margins of 8–80 pixels
// left and right and 6–40 above and below, one or two of low contrast,
// blur, noise and JPEG, and a rotation within ±3° half the time.
func line(f *Fonts, r *rand.Rand, name string) Line {
	g := gen{r}
	text := g.lineText()
	tf := SansRegular
	switch g.pick(5) {
	case 0:
		tf = SansBold
	case 1:
		tf = SerifRegular
	}
	size := 22 + g.pick(23)
	fc := f.face(tf, size)
	w := textWidth(fc, text)
	ml, mr := 8+g.pick(73), 8+g.pick(73)
	mt, mb := 6+g.pick(35), 6+g.pick(35)
	// One or two of the four effects, and a slight rotation half the time:
	// what a phone photo or a cheap scanner does to a line, kept readable.
	fx := [4]bool{}
	fx[g.pick(4)] = true
	if g.pick(2) == 0 {
		fx[g.pick(4)] = true
	}
	var deg []string
	bg, ink := uint8(232+g.pick(24)), uint8(g.pick(60))
	if fx[fxLowContrast] {
		bg = uint8(175 + g.pick(51))
		ink = bg - uint8(60+g.pick(41))
		deg = append(deg, "lowcontrast")
	}
	img := canvas(ml+w+mr, mt+size+mb, bg)
	box := drawText(img, fc, ml, mt+int(0.88*float64(size)), text, ink) // Noto CJK ascent: 0.88 em
	if g.pick(2) == 0 {
		a := (r.Float64()*2 - 1) * 3
		rot := newRotation(img.Rect.Dx(), img.Rect.Dy(), a)
		img = rotate(img, rot, bg)
		box = rot.rect(box)
		deg = append([]string{fmt.Sprintf("rot=%.2f", a)}, deg...)
	}
	return g.finishLine(img, fx, effects{blur: 0.5, noise: 4, jpeg: 40, jpegSpan: 46}, deg, name, text, box)
}

// Effects of a generated line, fxLowContrast and the rotation being
// applied by the caller before the text's box is known.
const (
	fxLowContrast = iota
	fxBlur
	fxNoise
	fxJPEG
)

// effects are the strengths of a line's blur (σ in [blur, 2·blur)), noise
// (σ in [noise, 3·noise)) and JPEG quality ([jpeg, jpeg+jpegSpan)).
type effects struct {
	blur, noise    float64
	jpeg, jpegSpan int
}

// finishLine applies the blur, noise and JPEG of fx to img with strengths
// drawn from g in that order (which keeps generated sets as they were),
// encodes it and returns the line.
func (g gen) finishLine(img *image.Gray, fx [4]bool, e effects, deg []string, name, text string, box image.Rectangle) Line {
	if fx[fxBlur] {
		s := e.blur + e.blur*g.r.Float64()
		blur(img, s)
		deg = append(deg, fmt.Sprintf("blur=%.2f", s))
	}
	if fx[fxNoise] {
		s := e.noise + 2*e.noise*g.r.Float64()
		noise(img, g.r, s)
		deg = append(deg, fmt.Sprintf("noise=%.1f", s))
	}
	q := 0
	if fx[fxJPEG] {
		q = e.jpeg + g.pick(e.jpegSpan)
		deg = append(deg, fmt.Sprintf("jpeg=%d", q))
	}
	data, ext := encode(img, q)
	return Line{Name: name + ext, Data: data, Text: text, Box: box, Degradations: strings.Join(deg, " ")}
}
