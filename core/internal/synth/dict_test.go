package synth

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealocr/sealocr/models"
)

// TestCharactersInDictionary: every character the generator prints is one
// PP-OCRv4's recogniser can emit, so a perfect reader can match every
// label. It draws the text of many documents and lines without printing
// them.
func TestCharactersInDictionary(t *testing.T) {
	dir := models.ModelsDir(models.DefaultCacheDir(os.Getenv))
	if v := os.Getenv("SEALOCR_MODELS"); v != "" {
		dir = v
	}
	f, err := os.Open(filepath.Join(dir, "ppocr_keys_v1.txt"))
	if err != nil {
		t.Fatalf("dictionary (run `make models`): %v", err)
	}
	defer f.Close()
	dict := map[rune]bool{' ': true}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, r := range sc.Text() {
			dict[r] = true
		}
	}
	missing := map[rune]bool{}
	seen := map[rune]bool{}
	check := func(text string) {
		for _, r := range text {
			seen[r] = true
			if !dict[r] {
				missing[r] = true
			}
		}
	}
	for i := range 300 {
		g := gen{rand.New(rand.NewPCG(uint64(i), streamDocument<<32))}
		for _, row := range documentRows(g) {
			for _, c := range row.cells {
				check(c.text)
			}
		}
		for range 10 {
			check(g.lineText())
			check(g.enLineText())
		}
		for _, row := range enDocumentRows(g, g.enFace()) {
			for _, c := range row.cells {
				check(c.text)
			}
		}
	}
	if len(seen) < 300 {
		t.Errorf("only %d distinct characters drawn", len(seen))
	}
	var m []rune
	for r := range missing {
		m = append(m, r)
	}
	if len(m) > 0 {
		t.Errorf("characters not in the dictionary: %q", string(m))
	}
}
