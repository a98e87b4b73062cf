package order

import (
	"slices"
	"testing"

	"github.com/sealocr/sealocr/core/internal/geom"
)

// box returns the axis-aligned quad with top-left (x, y) and size w x h.
func box(x, y, w, h float64) geom.Quad {
	return geom.Quad{{X: x, Y: y}, {X: x + w, Y: y}, {X: x + w, Y: y + h}, {X: x, Y: y + h}}
}

// rotated returns the quad of a w x h box centred on (cx, cy) turned by deg.
func rotated(cx, cy, w, h, deg float64) geom.Quad {
	r := geom.RotatedRect{Center: geom.Point{X: cx, Y: cy}, W: w, H: h, Angle: deg}
	return geom.OrderClockwise(geom.Quad(r.Points()))
}

func TestReadingOrder(t *testing.T) {
	tests := []struct {
		name  string
		quads []geom.Quad
		want  []int
	}{
		{"empty", nil, []int{}},
		{"single", []geom.Quad{box(5, 5, 50, 20)}, []int{0}},
		{
			// Table, two rows of three cells, given shuffled.
			name: "two rows of three shuffled",
			quads: []geom.Quad{
				box(300, 62, 80, 20), // r2c3
				box(10, 10, 80, 20),  // r1c1
				box(160, 60, 80, 20), // r2c2
				box(300, 12, 80, 20), // r1c3
				box(12, 58, 80, 20),  // r2c1
				box(160, 8, 80, 20),  // r1c2
			},
			want: []int{1, 5, 3, 4, 2, 0},
		},
		{
			// Two rows drifting down 5% to the right, boxes slightly
			// rotated to follow them.
			name: "skewed rows",
			quads: []geom.Quad{
				rotated(450, 122.5+45, 140, 24, 3), // row 2, 4th
				rotated(0, 100, 140, 24, 3),        // row 1, 1st
				rotated(300, 115, 140, 24, 3),      // row 1, 3rd
				rotated(0, 145, 140, 24, 3),        // row 2, 1st
				rotated(150, 107.5, 140, 24, 3),    // row 1, 2nd
				rotated(450, 122.5, 140, 24, 3),    // row 1, 4th
				rotated(150, 107.5+45, 140, 24, 3), // row 2, 2nd
				rotated(300, 115+45, 140, 24, 3),   // row 2, 3rd
			},
			want: []int{1, 4, 2, 5, 3, 6, 7, 0},
		},
		{
			name:  "single column with ragged left edge",
			quads: []geom.Quad{box(20, 90, 100, 20), box(30, 10, 200, 20), box(10, 50, 150, 20)},
			want:  []int{1, 2, 0},
		},
		{
			// Paddle's case: tops 6 px apart, the lower one further left.
			name:  "near-equal tops read left to right",
			quads: []geom.Quad{box(200, 100, 60, 30), box(20, 106, 60, 30)},
			want:  []int{1, 0},
		},
		{
			name:  "large text, tops 20 px apart, still one row",
			quads: []geom.Quad{box(400, 100, 300, 80), box(20, 120, 300, 80), box(20, 220, 300, 80)},
			want:  []int{1, 0, 2},
		},
		{
			name:  "small text, tops 8 px apart, two rows",
			quads: []geom.Quad{box(200, 100, 60, 6), box(20, 108, 60, 6)},
			want:  []int{0, 1},
		},
		{
			// A vertical label down the left margin is read with the row
			// of its first character.
			name: "tall vertical box",
			quads: []geom.Quad{
				box(60, 60, 200, 20),
				box(0, 0, 24, 200), // vertical text
				box(60, 110, 200, 20),
				box(60, 2, 200, 20),
			},
			want: []int{1, 3, 0, 2},
		},
		{
			// A long line rotated by 20 degrees spans two rows' height
			// but belongs to the row of its centre.
			name: "rotated line",
			quads: []geom.Quad{
				box(20, 130, 100, 20),          // row 2
				rotated(400, 100, 300, 20, 20), // row 1, right
				box(20, 90, 100, 20),           // row 1, left
			},
			want: []int{2, 1, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReadingOrder(tt.quads)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ReadingOrder = %v, want %v", got, tt.want)
			}
			sorted := Sort(tt.quads)
			for k, i := range tt.want {
				if sorted[k] != tt.quads[i] {
					t.Errorf("Sort[%d] = %v, want %v", k, sorted[k], tt.quads[i])
				}
			}
		})
	}
}

func TestReadingOrderIsPermutation(t *testing.T) {
	var quads []geom.Quad
	for i := 0; i < 50; i++ {
		quads = append(quads, box(float64((i*37)%400), float64((i*53)%300), 40+float64(i%7), 10+float64(i%5)))
	}
	quads = append(quads, geom.Quad{}) // degenerate
	got := ReadingOrder(quads)
	seen := make([]bool, len(quads))
	for _, i := range got {
		if seen[i] {
			t.Fatalf("index %d twice", i)
		}
		seen[i] = true
	}
	if len(got) != len(quads) {
		t.Fatalf("%d indices for %d quads", len(got), len(quads))
	}
}
