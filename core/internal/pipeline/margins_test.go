package pipeline

import (
	"math"
	"testing"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// rect is the axis-aligned quad from (x0, y0) to (x1, y1).
func rect(x0, y0, x1, y1 float64) geom.Quad {
	return geom.Quad{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
}

func near(a, b geom.Quad) bool {
	for k := range a {
		if math.Abs(a[k].X-b[k].X) > 1e-9 || math.Abs(a[k].Y-b[k].Y) > 1e-9 {
			return false
		}
	}
	return true
}

func TestWidenBoxes(t *testing.T) {
	const w, h = 1000, 800
	tests := []struct {
		name  string
		boxes []geom.Quad
		want  []geom.Quad
	}{
		{"a line alone: 0.3 of its height at each end, 0.1 above and below",
			[]geom.Quad{rect(100, 100, 400, 120)},
			[]geom.Quad{rect(94, 98, 406, 122)}},
		{"kept inside the page",
			[]geom.Quad{rect(2, 1, 300, 21)},
			[]geom.Quad{rect(0, 0, 306, 23)}},
		{"two cells of a row 4 px apart: each end stops halfway",
			[]geom.Quad{rect(100, 100, 400, 120), rect(404, 102, 600, 122)},
			[]geom.Quad{rect(94, 98, 402, 122), rect(402, 100, 606, 124)}},
		{"a line below does not stop the ends",
			[]geom.Quad{rect(100, 100, 400, 120), rect(402, 130, 600, 150)},
			[]geom.Quad{rect(94, 98, 406, 122), rect(396, 128, 606, 152)}},
		{"a lone digit's box stays as detected",
			[]geom.Quad{rect(100, 100, 119, 125), rect(200, 100, 235, 120)},
			[]geom.Quad{rect(100, 100, 119, 125), rect(200, 100, 235, 120)}},
		{"vertical text is lengthened downwards",
			[]geom.Quad{rect(100, 100, 120, 300)},
			[]geom.Quad{rect(98, 94, 122, 306)}},
	}
	for _, tc := range tests {
		in := append([]geom.Quad(nil), tc.boxes...)
		got := widenBoxes(tc.boxes, w, h)
		for i := range got {
			if !near(got[i], tc.want[i]) {
				t.Errorf("%s: box %d: got %v, want %v", tc.name, i, got[i], tc.want[i])
			}
		}
		for i := range in {
			if in[i] != tc.boxes[i] {
				t.Errorf("%s: box %d modified", tc.name, i)
			}
		}
	}
}
