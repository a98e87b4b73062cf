package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The English set: business lines as invoices, statements and letters
// print them (invoice and account numbers, IBANs in groups of four, BICs,
// company names ending in "Ltd." or "S.A.", amounts, dates, short
// sentences), in the Latin faces Debian ships. All names are made up here.

var enFirms = []string{
	"Harlow & Finch", "Nordwind Logistik", "Bellamy Freight", "Quayside Paper", "Orion Metrics",
	"Castellane Vins", "Brightwater Foods", "Kestrel Optics", "Ironbridge Tools", "Larkspur Textiles",
	"Meridian Print", "Oakhurst Timber", "Pemberton Legal", "Redfern Analytics", "Saltmarsh Ceramics",
	"Tidewell Marine", "Ulverston Mills", "Vantage Courier", "Whitcombe Dental", "Yardley Instruments",
}

var enSuffixes = []string{"Ltd.", "Inc.", "S.A.", "GmbH", "LLC", "PLC", "B.V.", "S.p.A.", "Co.", "AG", "S.A.R.L.", "Pty Ltd."}

var enStreets = []string{
	"Baker Street", "Mill Lane", "Harbour Road", "Kingsway", "Rue de la Paix", "Station Approach",
	"Church Street", "Queen's Parade", "Albion Place", "Market Square", "Elm Grove", "Canal Walk",
}

var enTowns = []string{
	"London EC1A 4HD", "Leeds LS1 4AP", "Dublin D02 X285", "Paris 75002", "Hamburg 20095", "Rotterdam 3011 AD",
	"Bristol BS1 5TR", "Lyon 69002", "Madrid 28013", "Milan 20121", "Boston, MA 02110", "Austin, TX 78701",
}

var enGoods = []string{
	"Office Chair", "Standing Desk", "Printer Paper A4", "Toner Cartridge", "Consulting Services",
	"Annual Licence", "Freight Charges", "Packaging Material", "Travel Expenses", "Maintenance Contract",
	"Laptop Stand", "Monitor Arm", "Cable Management Kit", "Software Support", "Training Session",
}

var enSentences = []string{
	"Thank you for your correspondence.", "Payment is due within 30 days.",
	"Please quote the invoice number with your payment.", "All prices include VAT where applicable.",
	"Goods remain our property until paid in full.", "We look forward to working with you again.",
	"Kind regards, Accounts Department", "Interest is charged on overdue invoices.",
	"If you have any questions, please contact us.", "This invoice was issued electronically.",
	"Delivery within 5 working days.", "Returns are accepted within 14 days.",
}

var enMonths = []string{"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"}

var enCurrencies = []string{"EUR", "GBP", "USD", "CHF"}

var ibanCountries = []struct {
	cc  string
	len int // total IBAN length
}{{"DE", 22}, {"FR", 27}, {"GB", 22}, {"NL", 18}, {"ES", 24}, {"IT", 27}, {"BE", 16}, {"CH", 21}, {"AT", 20}}

func (g gen) upper(n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('A' + g.r.IntN(26)))
	}
	return b.String()
}

// iban is an IBAN printed in groups of four.
func (g gen) iban() string {
	c := ibanCountries[g.pick(len(ibanCountries))]
	raw := c.cc + g.digits(c.len-2)
	var groups []string
	for i := 0; i < len(raw); i += 4 {
		groups = append(groups, raw[i:min(i+4, len(raw))])
	}
	return strings.Join(groups, " ")
}

func (g gen) bic() string {
	s := g.upper(6) + g.upperDigits(2)
	if g.pick(2) == 0 {
		s += g.upperDigits(3)
	}
	return s
}

func (g gen) firm() string {
	return enFirms[g.pick(len(enFirms))] + " " + enSuffixes[g.pick(len(enSuffixes))]
}

// amount is a money amount with thousands separators, e.g. "1,234.50".
func (g gen) amount() string {
	cents := 100 + g.pick(2_500_000)
	units := fmt.Sprint(cents / 100)
	var b strings.Builder
	for i, r := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return fmt.Sprintf("%s.%02d", b.String(), cents%100)
}

func (g gen) enDate() string {
	y, m, d := g.date()
	switch g.pick(3) {
	case 0:
		return fmt.Sprintf("%d %s %d", d, enMonths[m-1], y)
	case 1:
		return fmt.Sprintf("%d-%02d-%02d", y, m, d)
	}
	return fmt.Sprintf("%02d/%02d/%d", d, m, y)
}

// enLineText is one English business line.
func (g gen) enLineText() string {
	cur := enCurrencies[g.pick(len(enCurrencies))]
	switch g.pick(14) {
	case 0:
		return fmt.Sprintf("Invoice No. %d-%04d", 2021+g.pick(5), g.pick(10000))
	case 1:
		return "IBAN " + g.iban()
	case 2:
		return "BIC: " + g.bic()
	case 3:
		return g.firm()
	case 4:
		return fmt.Sprintf("%d %s, %s", 1+g.pick(240), enStreets[g.pick(len(enStreets))], enTowns[g.pick(len(enTowns))])
	case 5:
		return []string{"Date: ", "Due date: ", "Issued on ", "Delivery date: "}[g.pick(4)] + g.enDate()
	case 6:
		return []string{"Total: ", "Amount due: ", "Subtotal ", "Balance "}[g.pick(4)] + g.amount() + " " + cur
	case 7:
		return enSentences[g.pick(len(enSentences))]
	case 8:
		return fmt.Sprintf("Tel. +44 %s %s %s", g.digits(2), g.digits(4), g.digits(4))
	case 9:
		return fmt.Sprintf("VAT No. %s %s %s %s", []string{"GB", "DE", "FR", "NL"}[g.pick(4)], g.digits(3), g.digits(4), g.digits(2))
	case 10:
		return fmt.Sprintf("%d x %s %s", 1+g.pick(12), enGoods[g.pick(len(enGoods))], g.amount())
	case 11:
		return fmt.Sprintf("Order ref. PO-%s/%s", g.digits(5), g.upper(1))
	case 12:
		return fmt.Sprintf("Account No. %s %s %s", g.digits(4), g.digits(4), g.digits(4))
	}
	return fmt.Sprintf("Dear %s %s,", []string{"Mr.", "Ms.", "Dr."}[g.pick(3)], []string{"Ashworth", "Delacroix", "Fenwick", "Gallagher", "Huxley", "Okafor", "Moreau", "Lindqvist"}[g.pick(8)])
}

// latinFace draws one of the Latin typefaces.
func (g gen) latinFace() Typeface {
	faces := LatinFaces()
	return faces[g.pick(len(faces))]
}

// enLine prints one English single-line image at 18–36 px in a Latin
// face: margins of 6–50 pixels left and right and 4–30 above and below;
// half the lines clean, half with one or two of low contrast, blur, noise
// and JPEG, and a rotation within ±2° a quarter of the time.
func enLine(f *Fonts, r *rand.Rand, name string) Line {
	g := gen{r}
	text := g.enLineText()
	tf := g.latinFace()
	size := 18 + g.pick(19)
	fc := f.face(tf, size)
	m := fc.Metrics()
	asc, desc := m.Ascent.Ceil(), m.Descent.Ceil()
	w := textWidth(fc, text)
	ml, mr := 6+g.pick(45), 6+g.pick(45)
	mt, mb := 4+g.pick(27), 4+g.pick(27)
	bg, ink := uint8(232+g.pick(24)), uint8(g.pick(60))
	deg := []string{tf.String(), fmt.Sprintf("%dpx", size)}
	degraded := g.pick(2) == 0
	fx := [4]bool{}
	if degraded {
		fx[g.pick(4)] = true
		if g.pick(2) == 0 {
			fx[g.pick(4)] = true
		}
	}
	if fx[fxLowContrast] {
		bg = uint8(175 + g.pick(51))
		ink = bg - uint8(70+g.pick(41))
		deg = append(deg, "lowcontrast")
	}
	img := canvas(ml+w+mr, mt+asc+desc+mb, bg)
	box := drawText(img, fc, ml, mt+asc, text, ink)
	if degraded && g.pick(2) == 0 {
		a := (r.Float64()*2 - 1) * 2
		rot := newRotation(img.Rect.Dx(), img.Rect.Dy(), a)
		img = rotate(img, rot, bg)
		box = rot.rect(box)
		deg = append(deg, fmt.Sprintf("rot=%.2f", a))
	}
	return g.finishLine(img, fx, effects{blur: 0.4, noise: 3, jpeg: 50, jpegSpan: 41}, deg, name, text, box)
}

// enDocumentRows draws the content of one English invoice or letter in
// the regular face tf (headings in bold where the family has one): 18–30
// rows.
func enDocumentRows(g gen, tf Typeface) []rowSpec {
	bold := tf
	switch tf {
	case LiberationSans:
		bold = LiberationSansBold
	case DejaVuSans:
		bold = DejaVuSansBold
	case NimbusSans:
		bold = NimbusSansBold
	}
	one := func(text string, at align) rowSpec {
		x := marginX
		if at == right {
			x = colAmount
		}
		return rowSpec{cells: []cell{{text, at, x}}, tf: tf, scale: 1}
	}
	pair := func(l, r string) rowSpec {
		return rowSpec{cells: []cell{{l, left, marginX}, {r, right, colAmount}}, tf: tf, scale: 1}
	}
	firm := g.firm()
	h := one(firm, left)
	h.tf, h.scale = bold, 1.3
	rows := []rowSpec{h,
		one(fmt.Sprintf("%d %s, %s", 1+g.pick(240), enStreets[g.pick(len(enStreets))], enTowns[g.pick(len(enTowns))]), left),
		one(fmt.Sprintf("Tel. +44 %s %s %s", g.digits(2), g.digits(4), g.digits(4)), left),
		pair(fmt.Sprintf("Invoice No. %d-%04d", 2021+g.pick(5), g.pick(10000)), "Date: "+g.enDate()),
		pair(fmt.Sprintf("Order ref. PO-%s/%s", g.digits(5), g.upper(1)), "Due date: "+g.enDate()),
	}
	head := rowSpec{cells: []cell{{"Description", left, marginX}, {"Qty", right, colQty}, {"Price", right, colPrice}, {"Amount", right, colAmount}},
		tf: bold, scale: 1, rule: true}
	rows = append(rows, head)
	cur := enCurrencies[g.pick(len(enCurrencies))]
	n := 4 + g.pick(8)
	for range n {
		rows = append(rows, rowSpec{cells: []cell{
			{enGoods[g.pick(len(enGoods))], left, marginX}, {fmt.Sprint(1 + g.pick(9)), right, colQty},
			{g.amount(), right, colPrice}, {g.amount(), right, colAmount}}, tf: tf, scale: 1})
	}
	sub := pair("Subtotal", g.amount())
	sub.rule = true
	total := pair("Total "+cur, g.amount())
	total.tf = bold
	rows = append(rows, sub, pair("VAT 20%", g.amount()), total,
		one("IBAN "+g.iban(), left), one("BIC: "+g.bic(), left),
		one(enSentences[g.pick(len(enSentences))], left),
		one(enSentences[g.pick(len(enSentences))], left))
	return rows
}

// enFace draws the regular face of an English page: the Latin faces that
// are not bold.
func (g gen) enFace() Typeface {
	var regular []Typeface
	for _, tf := range LatinFaces() {
		if !strings.Contains(tf.String(), "Bold") {
			regular = append(regular, tf)
		}
	}
	return regular[g.pick(len(regular))]
}

// baselineOffset is how far below the middle of a row of height h, in a
// face of size sz, the baseline of tf goes: Noto CJK centres its ink about
// 0.36 em above the baseline, Latin capitals and digits about 0.35 em.
func baselineOffset(tf Typeface, sz int) float64 {
	if tf.Latin() {
		return 0.35 * float64(sz)
	}
	return 0.36 * float64(sz)
}
