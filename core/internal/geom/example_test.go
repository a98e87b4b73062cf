package geom_test

import (
	"fmt"

	"github.com/sealocr/sealocr/core/internal/geom"
)

func ExampleMiniBox() {
	// Pixels of a 5x3 block, given in any order.
	var pts []geom.Point
	for y := 10.0; y < 13; y++ {
		for x := 20.0; x < 25; x++ {
			pts = append(pts, geom.Point{X: x, Y: y})
		}
	}
	box, short := geom.MiniBox(pts)
	fmt.Println(box, short)
	// d = 8*1.5/12 = 1; at this radius Clipper cuts the corners with one chord.
	grown := geom.Unclip(box, 1.5)
	fmt.Printf("%.0f\n", geom.Area(grown))
	// Output:
	// [{20 10} {24 10} {24 12} {20 12}] 2
	// 22
}
