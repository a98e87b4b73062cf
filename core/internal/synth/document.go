package synth

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"strings"
)

// Document page size in pixels: a receipt or invoice scanned at about
// 120 dpi.
const (
	DocWidth  = 1000
	DocHeight = 1400
)

// Run is one stretch of text that a detector should find as one box: the
// words of a field, separated by single spaces.
type Run struct {
	Text string
	Box  image.Rectangle // the ink's bounds in the final image
}

// Row is one printed line of a document: one run, or several runs in
// columns (an item's name, quantity, unit price and amount).
type Row struct{ Runs []Run }

// Text is the row as one line: its runs left to right, joined by a space.
func (r Row) Text() string {
	parts := make([]string, len(r.Runs))
	for i, run := range r.Runs {
		parts[i] = run.Text
	}
	return strings.Join(parts, " ")
}

// Box is the union of the row's run boxes.
func (r Row) Box() image.Rectangle {
	var b image.Rectangle
	for _, run := range r.Runs {
		b = b.Union(run.Box)
	}
	return b
}

// Document is one generated receipt or invoice.
type Document struct {
	Name         string // file name, with the extension of its encoding
	Data         []byte // the encoded image (PNG or JPEG)
	Rows         []Row  // top to bottom
	Degradations string // what was done to the page, e.g. "rot=0.42 noise=4.1 jpeg=85"
}

// align says where a run sits on its row.
type align int

const (
	left   align = iota // x is the run's left edge
	right               // x is the run's right edge
	center              // the run is centred on the page
)

type cell struct {
	text string
	at   align
	x    int // in units of the page width, 0..1000
}

type rowSpec struct {
	cells []cell
	tf    Typeface
	scale float64 // font size relative to the body
	rule  bool    // a ruled line above the row
}

const (
	marginX   = 50
	marginTop = 60
	marginBot = 60
	colQty    = 490
	colPrice  = 700
	colAmount = DocWidth - marginX
	pitch     = 1.6 // row height per font size
)

// bodySize is the body font size that fits the rows on the page (at most
// 30 pixels).
func bodySize(specs []rowSpec) int {
	var units float64
	for _, s := range specs {
		units += s.scale
	}
	return min(30, int(float64(DocHeight-marginTop-marginBot)/(pitch*units)))
}

// place returns the left edge of each cell of s printed at body size.
func (s rowSpec) place(f *Fonts, size int) (xs, ws []int) {
	fc := f.face(s.tf, int(math.Round(float64(size)*s.scale)))
	for _, c := range s.cells {
		w := textWidth(fc, c.text)
		x := c.x
		switch c.at {
		case right:
			x -= w
		case center:
			x = (DocWidth - w) / 2
		}
		xs, ws = append(xs, x), append(ws, w)
	}
	return xs, ws
}

// splitCrowded moves the cells of a row that would come closer than two
// ems to the previous cell onto a row of their own, so every run on a row
// stands apart as printed columns do.
func splitCrowded(f *Fonts, specs []rowSpec, size int) []rowSpec {
	var out []rowSpec
	for _, s := range specs {
		xs, ws := s.place(f, size)
		start := 0
		for i := 1; i < len(s.cells); i++ {
			if xs[i]-(xs[i-1]+ws[i-1]) < 2*size {
				part := s
				part.cells = s.cells[start:i]
				out = append(out, part)
				s.rule = false
				start = i
			}
		}
		s.cells = s.cells[start:]
		out = append(out, s)
	}
	return out
}

// document lays out and prints one receipt or invoice: mixed Chinese and
// English in Noto CJK, or with english an English invoice in one Latin
// face.
func document(f *Fonts, r *rand.Rand, name string, english bool) Document {
	g := gen{r}
	var specs []rowSpec
	if english {
		specs = enDocumentRows(g, g.enFace())
	} else {
		specs = documentRows(g)
	}

	specs = splitCrowded(f, specs, bodySize(specs))
	size := bodySize(specs)

	bg := uint8(232 + g.pick(24))
	ink := uint8(g.pick(60))
	img := canvas(DocWidth, DocHeight, bg)
	var rows []Row
	y := float64(marginTop)
	for _, s := range specs {
		sz := int(math.Round(float64(size) * s.scale))
		fc := f.face(s.tf, sz)
		h := pitch * float64(sz)
		if s.rule {
			hrule(img, marginX, DocWidth-marginX, int(y)-1, 2, ink)
		}
		base := int(y + 0.5*h + baselineOffset(s.tf, sz))
		var row Row
		xs, _ := s.place(f, size)
		for i, c := range s.cells {
			row.Runs = append(row.Runs, Run{Text: c.text, Box: drawText(img, fc, xs[i], base, c.text, ink)})
		}
		rows = append(rows, row)
		y += h
	}

	var deg []string
	if g.pick(2) == 0 {
		a := (r.Float64()*2 - 1) * 0.8
		rot := newRotationKeep(DocWidth, DocHeight, a)
		img = rotate(img, rot, bg)
		for i := range rows {
			for j := range rows[i].Runs {
				rows[i].Runs[j].Box = rot.rect(rows[i].Runs[j].Box)
			}
		}
		deg = append(deg, fmt.Sprintf("rot=%.2f", a))
	}
	if g.pick(4) == 0 {
		s := 0.5 + 0.3*r.Float64()
		blur(img, s)
		deg = append(deg, fmt.Sprintf("blur=%.2f", s))
	}
	if g.pick(2) == 0 {
		s := 2 + 4*r.Float64()
		noise(img, r, s)
		deg = append(deg, fmt.Sprintf("noise=%.1f", s))
	}
	q := 0
	if g.pick(2) == 0 {
		q = 75 + g.pick(18)
		deg = append(deg, fmt.Sprintf("jpeg=%d", q))
	}
	data, ext := encode(img, q)
	return Document{Name: name + ext, Data: data, Rows: rows, Degradations: strings.Join(deg, " ")}
}

// documentRows draws the content of one document: a header, the shop's
// details, 20–40 rows in all with the item table, totals and footer.
func documentRows(g gen) []rowSpec {
	total := 20 + g.pick(21)
	invoice := g.pick(2) == 0
	s := shops[g.pick(len(shops))]
	var rows []rowSpec
	one := func(text string, at align) rowSpec {
		x := marginX
		if at == right {
			x = colAmount
		}
		return rowSpec{cells: []cell{{text, at, x}}, tf: SansRegular, scale: 1}
	}
	pair := func(l, r string) rowSpec {
		return rowSpec{cells: []cell{{l, left, marginX}, {r, right, colAmount}}, tf: SansRegular, scale: 1}
	}

	h := one(s.zh+" "+s.en, center)
	h.tf, h.scale = SansBold, 1.35
	rows = append(rows, h)
	if invoice {
		t := one("增值税电子普通发票 VAT Electronic Invoice", center)
		t.scale = 1.1
		rows = append(rows, t, pair("发票代码 Code: "+g.digits(12), "发票号码 No. "+g.digits(8)))
	} else {
		t := one("购物小票 Sales Receipt", center)
		t.scale = 1.1
		rows = append(rows, t, pair("单号 No. "+g.upperDigits(4)+g.digits(10), "机号 POS "+g.digits(2)))
	}
	rows = append(rows,
		pair(g.dateText(), "收款员 Cashier: "+g.person()),
		one(g.address(), left),
		one(g.phone(), left))

	footer := []rowSpec{
		pair("小计 Subtotal", ""), // amounts filled in below
		pair("税额 Tax 13%", ""),
		pair("合计 Total", ""),
	}
	pay := payments[g.pick(len(payments))]
	footer = append(footer,
		pair("支付方式 Payment: "+pay.zh+" "+pay.en, ""),
		one("销售方 Seller: "+g.company(), left),
		one("纳税人识别号 Tax ID: 9131"+g.upperDigits(14), left),
		one(thanks[g.pick(len(thanks))], center))
	if g.pick(2) == 0 {
		footer = append(footer, one("会员卡号 Member No. "+g.digits(4)+" "+g.digits(4)+" "+g.digits(4), left))
	}

	head := rowSpec{cells: []cell{{"商品 Item", left, marginX}, {"数量 Qty", right, colQty}, {"单价 Price", right, colPrice}, {"金额 Amount", right, colAmount}},
		tf: SansBold, scale: 1, rule: true}
	rows = append(rows, head)
	sum := 0
	for n := 0; n < 3 || len(rows)+len(footer) < total; n++ {
		it := items[g.pick(len(items))]
		q := 1 + g.pick(4)
		price := it.price * (80 + g.pick(41)) / 100
		sum += q * price
		name := g.itemName(it)
		room := len(rows)+len(footer)+2 <= total
		if ems(name) > 12 && !room {
			name = it.zh
		}
		cells := []cell{{fmt.Sprint(q), right, colQty}, {yuan(price), right, colPrice}, {yuan(q * price), right, colAmount}}
		if room && (ems(name) > 12 || g.pick(6) == 0) {
			// A long name gets a row of its own, as till receipts print it.
			rows = append(rows, one(name, left))
		} else {
			cells = append([]cell{{name, left, marginX}}, cells...)
		}
		rows = append(rows, rowSpec{cells: cells, tf: SansRegular, scale: 1})
	}
	tax := sum * 13 / 113
	footer[0].cells[1].text = yuan(sum)
	footer[1].cells[1].text = yuan(tax)
	footer[2].cells[1].text = "¥" + yuan(sum)
	footer[2].tf = SansBold
	footer[3].cells[1].text = yuan(sum)
	footer[0].rule = true
	footer[4].rule = true
	return append(rows, footer...)
}

// ems estimates the printed width of s in ems: a Chinese character is one
// em, a Latin letter, digit or space about half.
func ems(s string) float64 {
	var n float64
	for _, r := range s {
		if r < 0x2e80 {
			n += 0.55
		} else {
			n++
		}
	}
	return n
}
