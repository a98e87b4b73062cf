package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/ocreval"
	"github.com/sealocr/sealocr/core/internal/synth"
	"github.com/sealocr/sealocr/core/testkit/doctest"
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
			preds, angle, err := c.ReadImage(ctx, doctest.TurnGray(img, q), false)
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
