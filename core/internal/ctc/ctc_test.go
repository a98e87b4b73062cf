package ctc

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// frames builds a steps × classes matrix where step t puts p[t] on class
// idx[t] and spreads the rest evenly.
func frames(classes int, idx []int, p []float32) []float32 {
	out := make([]float32, len(idx)*classes)
	for t, c := range idx {
		rest := (1 - p[t]) / float32(classes-1)
		for k := 0; k < classes; k++ {
			out[t*classes+k] = rest
		}
		out[t*classes+c] = p[t]
	}
	return out
}

func TestDecode(t *testing.T) {
	d := NewDict([]string{"a", "b", "中", " "}) // classes: blank a b 中 space
	tests := []struct {
		name     string
		idx      []int
		p        []float32
		wantText string
		wantConf float64
	}{
		{"collapse repeats", []int{1, 1, 2, 2, 2}, []float32{.9, .8, .7, .6, .5}, "ab", (.9 + .7) / 2},
		{"blank separates repeats", []int{1, 0, 1}, []float32{.9, .9, .7}, "aa", (.9 + .7) / 2},
		{"only blanks", []int{0, 0, 0}, []float32{.9, .9, .9}, "", 0},
		{"multibyte and space", []int{3, 0, 4, 1}, []float32{.99, .5, .8, .6}, "中 a", (.99 + .8 + .6) / 3},
		{"empty", nil, nil, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := d.Decode(frames(d.Classes(), tc.idx, tc.p), len(tc.idx))
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != tc.wantText || math.Abs(r.Confidence-tc.wantConf) > 1e-6 {
				t.Fatalf("got %q %.6f, want %q %.6f", r.Text, r.Confidence, tc.wantText, tc.wantConf)
			}
		})
	}
}

func TestDecodeShapeErrors(t *testing.T) {
	d := NewDict([]string{"a"})
	if _, err := d.Decode(make([]float32, 5), 2); !errors.Is(err, ErrShape) {
		t.Fatalf("Decode: got %v, want ErrShape", err)
	}
	if _, err := d.DecodeBatch(make([]float32, 12), []int64{2, 2, 4}); !errors.Is(err, ErrShape) {
		t.Fatalf("DecodeBatch classes: got %v, want ErrShape", err)
	}
	if _, err := d.DecodeBatch(make([]float32, 11), []int64{2, 2, 3}); !errors.Is(err, ErrShape) {
		t.Fatalf("DecodeBatch size: got %v, want ErrShape", err)
	}
}

func TestDecodeBatch(t *testing.T) {
	d := NewDict([]string{"x", "y"})
	a := frames(3, []int{1, 2}, []float32{.9, .9})
	b := frames(3, []int{2, 2}, []float32{.6, .8})
	rs, err := d.DecodeBatch(append(a, b...), []int64{2, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Text != "xy" || rs[1].Text != "y" || math.Abs(rs[1].Confidence-.6) > 1e-6 {
		t.Fatalf("got %+v", rs)
	}
}

func TestLoadDict(t *testing.T) {
	d, err := LoadDict(strings.NewReader("a\r\nb\n中\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	// blank + 3 + space, as PaddleOCR builds it.
	if d.Classes() != 5 {
		t.Fatalf("classes = %d, want 5", d.Classes())
	}
	r, _ := d.Decode(frames(5, []int{2, 4, 3}, []float32{1, 1, 1}), 3)
	if r.Text != "b 中" {
		t.Fatalf("text %q", r.Text)
	}
	if _, err := LoadDict(strings.NewReader(""), true); err == nil {
		t.Fatal("empty dictionary accepted")
	}
}

func BenchmarkDecode(b *testing.B) {
	chars := make([]string, 6623)
	for i := range chars {
		chars[i] = "字"
	}
	d := NewDict(append(chars, " "))
	idx := make([]int, 40)
	p := make([]float32, 40)
	for i := range idx {
		idx[i], p[i] = (i*37)%d.Classes(), .9
	}
	probs := frames(d.Classes(), idx, p)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Decode(probs, 40); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecodePositions(t *testing.T) {
	d := NewDict([]string{"a", "b"}) // blank a b
	// a a _ _ b b a : a at steps 0-1, b at 4-5, a at 6.
	r, err := d.Decode(frames(3, []int{1, 1, 0, 0, 2, 2, 1}, []float32{.9, .9, .9, .9, .9, .9, .9}), 7)
	if err != nil {
		t.Fatal(err)
	}
	want := []Char{{"a", 0, 1}, {"b", 4, 5}, {"a", 6, 6}}
	if r.Text != "aba" || r.Steps != 7 || len(r.Chars) != len(want) {
		t.Fatalf("got %+v", r)
	}
	for i, c := range r.Chars {
		if c != want[i] {
			t.Fatalf("char %d: got %+v, want %+v", i, c, want[i])
		}
	}
}
