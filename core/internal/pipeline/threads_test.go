package pipeline

import (
	"testing"

	"github.com/sealocr/sealocr/core/internal/recognize"
)

// TestRecOptions: sessions of one thread read a line per run; more
// threads, or a batch set explicitly, keep the batch.
func TestRecOptions(t *testing.T) {
	for _, c := range []struct {
		threads, batch, want int
	}{
		{1, 0, 1},
		{1, 4, 4},
		{2, 0, 0}, // the recognizer's default (6)
		{0, 0, 0}, // all cores
	} {
		if got := recOptions(c.threads, recognize.Options{Batch: c.batch}).Batch; got != c.want {
			t.Errorf("threads %d, batch %d: batch %d, want %d", c.threads, c.batch, got, c.want)
		}
	}
}
