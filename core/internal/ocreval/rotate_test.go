package ocreval_test

import (
	"context"
	"image"
	"image/draw"
	"testing"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/ocreval"
	"github.com/sealocr/sealocr/core/internal/synth"
)

// turnCW returns img turned clockwise by 90×q degrees, and a function
// mapping a point of the turned image back to img.
func turnCW(img image.Image, q int) (image.Image, func(x, y float64) (float64, float64)) {
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Rect, img, b.Min, draw.Src)
	w, h := b.Dx(), b.Dy()
	var dst *image.RGBA
	var back func(x, y float64) (float64, float64)
	switch q % 4 {
	case 1: // (x, y) -> (h-1-y, x)
		dst = image.NewRGBA(image.Rect(0, 0, h, w))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dst.Set(h-1-y, x, src.At(x, y))
			}
		}
		back = func(x, y float64) (float64, float64) { return y, float64(h) - x }
	case 2:
		dst = image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dst.Set(w-1-x, h-1-y, src.At(x, y))
			}
		}
		back = func(x, y float64) (float64, float64) { return float64(w) - x, float64(h) - y }
	case 3: // (x, y) -> (y, w-1-x)
		dst = image.NewRGBA(image.Rect(0, 0, h, w))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dst.Set(y, w-1-x, src.At(x, y))
			}
		}
		back = func(x, y float64) (float64, float64) { return float64(w) - y, x }
	default:
		return src, func(x, y float64) (float64, float64) { return x, y }
	}
	return dst, back
}

// Bound on the rotated pages: the goal, +0.5 points of order-
// sensitive CER over the upright page, on each page and turn.
const rotMaxExtraCER = 0.005

// TestRotatedPages turns generated pages (English invoices and mixed
// receipts) by 90°, 180° and 270° and reads them in document mode: the
// response's angle must name the turn, the text must come in the upright
// page's reading order (order-sensitive CER within rotMaxExtraCER of the
// upright page's), and the boxes, mapped back onto the upright page, must
// score the rows as the upright reading does (they are in the coordinates
// of the image as sent).
func TestRotatedPages(t *testing.T) {
	s, c := fixtures(t)
	docs := append(append([]synth.Document(nil), s.EnglishDocuments...), s.Documents[:2]...)
	for _, d := range docs {
		img, _, err := decode.Decode(d.Data, decode.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		rows := ocreval.DocumentRows(d)
		upPreds, angle, err := c.ReadImage(context.Background(), img, false)
		if err != nil {
			t.Fatal(err)
		}
		if angle != 0 {
			t.Errorf("%s upright: angle %d", d.Name, angle)
		}
		upCER := ocreval.ReadingOrderCER(rows, upPreds)
		upTally := ocreval.ScoreDocument(rows, upPreds)
		for q := 1; q < 4; q++ {
			turned, back := turnCW(img, q)
			preds, angle, err := c.ReadImage(context.Background(), turned, false)
			if err != nil {
				t.Fatal(err)
			}
			cer := ocreval.ReadingOrderCER(rows, preds)
			for i := range preds {
				for k, p := range preds[i].Box {
					preds[i].Box[k][0], preds[i].Box[k][1] = back(p[0], p[1])
				}
			}
			tl := ocreval.ScoreDocument(rows, preds)
			t.Logf("%s turned %d°: angle %d, reading-order CER %.2f%% (upright %.2f%%); rows by box: %s", d.Name, 90*q, angle, 100*cer, 100*upCER, tl)
			if angle != 90*q {
				t.Errorf("%s turned %d°: angle %d", d.Name, 90*q, angle)
			}
			if cer > upCER+rotMaxExtraCER {
				t.Errorf("%s turned %d°: reading-order CER %.2f%%, upright %.2f%% (bound +%.1f points)", d.Name, 90*q, 100*cer, 100*upCER, 100*rotMaxExtraCER)
			}
			if tl.CERKept() > upTally.CERKept()+rotMaxExtraCER || tl.Spurious > upTally.Spurious {
				t.Errorf("%s turned %d°: rows by the boxes mapped back: %s; upright: %s", d.Name, 90*q, tl, upTally)
			}
		}
	}
}
