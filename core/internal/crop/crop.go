// Package crop is the stage between detection and the line models: it cuts
// each detected text box out of the page and straightens it into an upright
// line image, reproducing PaddleOCR's get_rotate_crop_image. The page is
// never modified.
package crop

import (
	"math"

	"github.com/sealocr/sealocr/core/internal/geom"
	"github.com/sealocr/sealocr/core/internal/raster"
)

// Quads returns Quad(src, q) for every q, in the order given.
func Quads(src *raster.Image, qs []geom.Quad) []*raster.Image {
	out := make([]*raster.Image, len(qs))
	for i, q := range qs {
		out[i] = Quad(src, q)
	}
	return out
}

// Size returns the size of the crop Quad makes for q before any rotation:
// width int(max(|q0-q1|, |q2-q3|)) and height int(max(|q0-q3|, |q1-q2|)), as
// PaddleOCR's get_rotate_crop_image computes them, each raised to at least 1.
func Size(q geom.Quad) (w, h int) {
	w = int(math.Max(q[0].Dist(q[1]), q[2].Dist(q[3])))
	h = int(math.Max(q[0].Dist(q[3]), q[1].Dist(q[2])))
	return max(w, 1), max(h, 1)
}

// Quad cuts the text box q (top-left, top-right, bottom-right, bottom-left)
// out of src and straightens it, reproducing PaddleOCR's
// get_rotate_crop_image: the quad is mapped by a perspective transform onto
// a Size(q) rectangle (corners to (0,0), (w,0), (w,h), (0,h)) and sampled by
// raster.WarpInverse (cv2.warpPerspective), and a crop at least 1.5 times
// taller than wide is then turned 90 degrees counter-clockwise (np.rot90) so
// that vertical text reads left to right. A degenerate quad, for which
// OpenCV has no transform, is sampled through the bilinear map of the unit
// square onto q instead.
func Quad(src *raster.Image, q geom.Quad) *raster.Image {
	w, h := Size(q)
	fw, fh := float64(w), float64(h)
	rect := [4]geom.Point{{X: 0, Y: 0}, {X: fw, Y: 0}, {X: fw, Y: fh}, {X: 0, Y: fh}}
	var out *raster.Image
	m, ok := raster.PerspectiveTransform(q, rect)
	var inv raster.Matrix
	if ok {
		inv, ok = m.Invert()
	}
	if ok {
		out = raster.WarpInverse(src, inv, w, h)
	} else {
		out = bilinearQuadSample(src, q, w, h)
	}
	if float64(out.H)/float64(out.W) >= 1.5 {
		out = raster.Rotate90CCW(out)
	}
	return out
}

// bilinearQuadSample fills a w x h image by nearest-neighbour sampling src at
// the bilinear blend of q's corners; it is Quad's fallback for quads with no
// perspective transform.
func bilinearQuadSample(src *raster.Image, q geom.Quad, w, h int) *raster.Image {
	out := raster.New(w, h)
	if src.W <= 0 || src.H <= 0 {
		return out
	}
	for y := 0; y < h; y++ {
		v := float64(y) / float64(h)
		for x := 0; x < w; x++ {
			u := float64(x) / float64(w)
			px := (1-v)*((1-u)*q[0].X+u*q[1].X) + v*((1-u)*q[3].X+u*q[2].X)
			py := (1-v)*((1-u)*q[0].Y+u*q[1].Y) + v*((1-u)*q[3].Y+u*q[2].Y)
			sx := min(max(int(math.Round(px)), 0), src.W-1)
			sy := min(max(int(math.Round(py)), 0), src.H-1)
			s, d := src.Offset(sx, sy), out.Offset(x, y)
			copy(out.Pix[d:d+3], src.Pix[s:s+3])
		}
	}
	return out
}
