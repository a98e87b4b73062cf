package ocreval

import (
	"sort"
	"strings"

	"github.com/sealocr/sealocr/core/internal/synth"
)

// DocumentRows turns a generated document's labels into scoring rows.
func DocumentRows(d synth.Document) []RefRow {
	rows := make([]RefRow, len(d.Rows))
	for i, r := range d.Rows {
		b := r.Box()
		rows[i] = RefRow{Text: r.Text(), Y0: float64(b.Min.Y), Y1: float64(b.Max.Y)}
	}
	return rows
}

// LineText joins an engine's lines for a single-line image left to right
// (by box centre) with one space.
func LineText(preds []Pred) string {
	ps := append([]Pred(nil), preds...)
	sort.SliceStable(ps, func(i, j int) bool {
		xi, _ := ps[i].center()
		xj, _ := ps[j].center()
		return xi < xj
	})
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Text
	}
	return strings.Join(parts, " ")
}
