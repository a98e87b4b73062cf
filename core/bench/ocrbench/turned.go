package main

import (
	"context"
	"fmt"
	"image"
	"image/draw"
	"io"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/ocreval"
	"github.com/sealocr/sealocr/core/internal/synth"
)

// turned collects the core's readings of pages turned by 0, 90, 180 and
// 270 degrees: how often the angle was found, and the reading-order CER
// (ocreval.ReadingOrderCER) summed over pages.
type turned struct {
	pages      int
	angleRight [4]int
	cer        [4]float64
}

func readTurned(ctx context.Context, c *ocreval.Core, docs []synth.Document) (*turned, error) {
	t := &turned{}
	for _, d := range docs {
		img, _, err := decode.Decode(d.Data, decode.Limits{})
		if err != nil {
			return nil, err
		}
		rows := ocreval.DocumentRows(d)
		t.pages++
		for q := range 4 {
			preds, angle, err := c.ReadImage(ctx, turnCW(img, q), false)
			if err != nil {
				return nil, fmt.Errorf("core: %s turned %d°: %w", d.Name, 90*q, err)
			}
			if angle == 90*q {
				t.angleRight[q]++
			}
			t.cer[q] += ocreval.ReadingOrderCER(rows, preds)
		}
	}
	return t, nil
}

func (t *turned) print(w io.Writer) {
	if t.pages == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-44s %12s %22s\n", "turned pages (English invoices, receipts)", "angle found", "reading-order CER")
	for q := range 4 {
		fmt.Fprintf(w, "%-44s %8d/%d %21.2f%%\n", fmt.Sprintf("sealocr core, page turned %d°", 90*q), t.angleRight[q], t.pages, 100*t.cer[q]/float64(t.pages))
	}
}

// turnCW returns img turned clockwise by 90×q degrees.
func turnCW(img image.Image, q int) image.Image {
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Rect, img, b.Min, draw.Src)
	w, h := b.Dx(), b.Dy()
	var dst *image.RGBA
	switch q % 4 {
	case 1:
		dst = image.NewRGBA(image.Rect(0, 0, h, w))
	case 2:
		dst = image.NewRGBA(image.Rect(0, 0, w, h))
	case 3:
		dst = image.NewRGBA(image.Rect(0, 0, h, w))
	default:
		return src
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := src.RGBAAt(x, y)
			switch q % 4 {
			case 1:
				dst.SetRGBA(h-1-y, x, c)
			case 2:
				dst.SetRGBA(w-1-x, h-1-y, c)
			case 3:
				dst.SetRGBA(y, w-1-x, c)
			}
		}
	}
	return dst
}
