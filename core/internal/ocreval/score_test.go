package ocreval_test

import (
	"math"
	"testing"

	"github.com/sealocr/sealocr/core/internal/ocreval"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, kept, removed string }{
		{"  合计  Total　￥1,463.48 ", "合计 Total ¥1,463.48", "合计Total¥1,463.48"},
		{"地址：上海市", "地址:上海市", "地址:上海市"},
		{"Ｔａｘ ＩＤ", "Tax ID", "TaxID"},
		{"", "", ""},
	} {
		if got := ocreval.Kept(c.in); got != c.kept {
			t.Errorf("Kept(%q) = %q, want %q", c.in, got, c.kept)
		}
		if got := ocreval.Removed(c.in); got != c.removed {
			t.Errorf("Removed(%q) = %q, want %q", c.in, got, c.removed)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "发票", 2}, {"kitten", "sitting", 3},
		{"增值税发票", "增值税普通发票", 2}, {"71.70", "771.70", 1},
	} {
		if got := ocreval.Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

func TestTally(t *testing.T) {
	var tl ocreval.Tally
	if !tl.Add("VAT Invoice", "VAT  Invoice") {
		t.Error("same text with other spacing not exact")
	}
	if !tl.Add("VATInvoice", "VAT Invoice") {
		t.Error("exact is with spaces removed")
	}
	if tl.Add("Shampo", "Shampoo") {
		t.Error("a dropped letter counted exact")
	}
	// kept: 0 + 1 (missing space) + 1 over 11+11+7; removed: 0+0+1 over 10+10+7.
	if tl.DistKept != 2 || tl.CharsKept != 29 || tl.DistRemoved != 1 || tl.CharsRemoved != 27 || tl.Exact != 2 || tl.Lines != 3 {
		t.Fatalf("tally %+v", tl)
	}
	if math.Abs(tl.CERKept()-2.0/29) > 1e-12 || math.Abs(tl.ExactRate()-2.0/3) > 1e-12 {
		t.Errorf("rates %v %v", tl.CERKept(), tl.ExactRate())
	}
}

func box(x0, y0, x1, y1 float64) [4][2]float64 {
	return [4][2]float64{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}
}

func TestScoreDocument(t *testing.T) {
	rows := []ocreval.RefRow{
		{Text: "商品 Item 金额 Amount", Y0: 100, Y1: 120},
		{Text: "Shampoo 71.70", Y0: 140, Y1: 160},
		{Text: "谢谢惠顾", Y0: 180, Y1: 200},
	}
	t.Run("columns split, out of order", func(t *testing.T) {
		preds := []ocreval.Pred{
			{Text: "金额 Amount", Box: box(800, 100, 950, 121)},
			{Text: "71.70", Box: box(880, 141, 950, 159)},
			{Text: "商品 Item", Box: box(50, 99, 150, 120)},
			{Text: "Shampoo", Box: box(50, 140, 160, 160)},
			{Text: "谢谢惠顾", Box: box(400, 181, 500, 201)},
		}
		tl := ocreval.ScoreDocument(rows, preds)
		if tl.Exact != 3 || tl.DistKept != 0 || tl.Spurious != 0 {
			t.Errorf("%v", tl)
		}
	})
	t.Run("merged row, missing row, stray line", func(t *testing.T) {
		preds := []ocreval.Pred{
			{Text: "商品Item 金额Amount", Box: box(50, 100, 950, 120)},
			{Text: "Shampoo 71.70", Box: box(50, 140, 950, 160)},
			{Text: "xx", Box: box(50, 600, 90, 620)}, // far below every row
		}
		tl := ocreval.ScoreDocument(rows, preds)
		// Row 0: two spaces missing; row 2 read as "" (4 deletions); "xx" 2 insertions.
		if tl.Exact != 2 || tl.Spurious != 1 || tl.DistKept != 2+4+2 || tl.DistRemoved != 4+2 {
			t.Errorf("%+v", tl)
		}
	})
}

func TestLineText(t *testing.T) {
	preds := []ocreval.Pred{{Text: "71.70", Box: box(300, 0, 400, 20)}, {Text: "Shampoo", Box: box(0, 2, 200, 22)}}
	if got := ocreval.LineText(preds); got != "Shampoo 71.70" {
		t.Errorf("LineText = %q", got)
	}
}
