package synth

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
)

// canvas returns a w×h grey image filled with bg.
func canvas(w, h int, bg uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = bg
	}
	return img
}

// textWidth is the advance width of s in pixels, rounded up.
func textWidth(fc font.Face, s string) int { return font.MeasureString(fc, s).Ceil() }

// drawText prints s with its baseline at (x, y) in grey ink and returns the
// bounds of the ink.
func drawText(dst *image.Gray, fc font.Face, x, y int, s string, ink uint8) image.Rectangle {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(color.Gray{Y: ink}), Face: fc, Dot: fixed.P(x, y)}
	b, _ := d.BoundString(s)
	d.DrawString(s)
	return image.Rect(b.Min.X.Floor(), b.Min.Y.Floor(), b.Max.X.Ceil(), b.Max.Y.Ceil())
}

// hrule draws a horizontal rule of thickness t.
func hrule(dst *image.Gray, x0, x1, y, t int, ink uint8) {
	draw.Draw(dst, image.Rect(x0, y, x1, y+t), image.NewUniform(color.Gray{Y: ink}), image.Point{}, draw.Src)
}

// rotation maps points of a w×h image turned by deg degrees (counter-
// clockwise on screen) about its centre into a canvas large enough to hold
// it without clipping.
type rotation struct {
	sin, cos       float64
	cx, cy, ox, oy float64 // source centre, destination centre
	w, h           int     // destination size
}

func newRotation(w, h int, deg float64) rotation {
	a := deg * math.Pi / 180
	s, c := math.Sin(a), math.Cos(a)
	nw := int(math.Ceil(math.Abs(float64(w)*c) + math.Abs(float64(h)*s)))
	nh := int(math.Ceil(math.Abs(float64(w)*s) + math.Abs(float64(h)*c)))
	return rotation{sin: s, cos: c, cx: float64(w) / 2, cy: float64(h) / 2, ox: float64(nw) / 2, oy: float64(nh) / 2, w: nw, h: nh}
}

// point maps a source point to the destination.
func (r rotation) point(x, y float64) (float64, float64) {
	dx, dy := x-r.cx, y-r.cy
	return r.ox + dx*r.cos + dy*r.sin, r.oy - dx*r.sin + dy*r.cos
}

// rect maps a source rectangle to the bounds of its turned corners.
func (r rotation) rect(b image.Rectangle) image.Rectangle {
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range [4][2]int{{b.Min.X, b.Min.Y}, {b.Max.X, b.Min.Y}, {b.Max.X, b.Max.Y}, {b.Min.X, b.Max.Y}} {
		x, y := r.point(float64(p[0]), float64(p[1]))
		minX, minY, maxX, maxY = math.Min(minX, x), math.Min(minY, y), math.Max(maxX, x), math.Max(maxY, y)
	}
	return image.Rect(int(math.Floor(minX)), int(math.Floor(minY)), int(math.Ceil(maxX)), int(math.Ceil(maxY)))
}

// rotate turns src by r with bilinear sampling; uncovered pixels get bg.
func rotate(src *image.Gray, r rotation, bg uint8) *image.Gray {
	dst := canvas(r.w, r.h, bg)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return float64(bg)
		}
		return float64(src.Pix[y*src.Stride+x])
	}
	for y := 0; y < r.h; y++ {
		for x := 0; x < r.w; x++ {
			// Inverse map the pixel centre.
			dx, dy := float64(x)+0.5-r.ox, float64(y)+0.5-r.oy
			sx := r.cx + dx*r.cos - dy*r.sin - 0.5
			sy := r.cy + dx*r.sin + dy*r.cos - 0.5
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			v := (at(x0, y0)*(1-fx)+at(x0+1, y0)*fx)*(1-fy) + (at(x0, y0+1)*(1-fx)+at(x0+1, y0+1)*fx)*fy
			dst.Pix[y*dst.Stride+x] = clamp8(v)
		}
	}
	return dst
}

// blur applies a separable Gaussian blur of the given sigma in pixels.
func blur(img *image.Gray, sigma float64) {
	rad := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*rad+1)
	var sum float64
	for i := range k {
		d := float64(i - rad)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	tmp := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var v float64
			for i, kv := range k {
				xx := min(max(x+i-rad, 0), w-1)
				v += kv * float64(img.Pix[y*img.Stride+xx])
			}
			tmp[y*w+x] = v
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var v float64
			for i, kv := range k {
				yy := min(max(y+i-rad, 0), h-1)
				v += kv * tmp[yy*w+x]
			}
			img.Pix[y*img.Stride+x] = clamp8(v)
		}
	}
}

// noise adds Gaussian noise of the given standard deviation (grey levels).
func noise(img *image.Gray, rng *rand.Rand, sigma float64) {
	for i, p := range img.Pix {
		img.Pix[i] = clamp8(float64(p) + rng.NormFloat64()*sigma)
	}
}

func clamp8(v float64) uint8 {
	v = math.Round(v)
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// newRotationKeep is a rotation about the centre that keeps the image's size
// (corners turn out of the frame; margins keep the text inside).
func newRotationKeep(w, h int, deg float64) rotation {
	r := newRotation(w, h, deg)
	r.w, r.h, r.ox, r.oy = w, h, float64(w)/2, float64(h)/2
	return r
}
