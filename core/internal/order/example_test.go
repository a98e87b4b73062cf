package order_test

import (
	"fmt"

	"github.com/sealocr/sealocr/core/internal/geom"
	"github.com/sealocr/sealocr/core/internal/order"
)

func ExampleReadingOrder() {
	box := func(x, y float64) geom.Quad {
		return geom.Quad{{X: x, Y: y}, {X: x + 80, Y: y}, {X: x + 80, Y: y + 20}, {X: x, Y: y + 20}}
	}
	quads := []geom.Quad{box(200, 52), box(10, 50), box(200, 8), box(10, 10)}
	fmt.Println(order.ReadingOrder(quads))
	// Output: [3 2 1 0]
}
