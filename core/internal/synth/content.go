package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The vocabulary of the receipts and invoices: shops, goods, places and
// people as they appear on mainland Chinese till receipts and VAT invoices,
// with the English words such documents print beside them. Every character
// is in PP-OCRv4's dictionary (a test checks). Words are separated by real
// spaces where a printed document would leave a gap, including between a
// Chinese and a Latin run ("发票号码 No.").

type shop struct{ zh, en string }

var shops = []shop{
	{"全家便利店", "FamilyMart"}, {"罗森便利店", "Lawson"}, {"好德便利店", "Alldays"},
	{"盒马鲜生", "Freshippo"}, {"永辉超市", "Yonghui Superstore"}, {"华润万家", "Vanguard"},
	{"星巴克咖啡", "Starbucks Coffee"}, {"麦当劳", "McDonald's"}, {"屈臣氏", "Watsons"},
	{"海底捞火锅", "Haidilao Hot Pot"}, {"西西弗书店", "Sisyphe Books"}, {"优衣库", "UNIQLO"},
	{"联华超市", "Lianhua Supermarket"}, {"喜茶", "HEYTEA"}, {"宜家家居", "IKEA Home"},
}

type item struct {
	zh, en string
	price  int // in fen, a typical unit price
}

var items = []item{
	{"纯臻营养护发素", "Shampoo", 3585}, {"农夫山泉矿泉水", "Mineral Water", 200}, {"伊利纯牛奶", "Pure Milk", 550},
	{"全麦面包", "Whole Wheat Bread", 1290}, {"有机鸡蛋", "Organic Eggs", 2680}, {"东北大米", "Rice 5kg", 4990},
	{"冷榨花生油", "Peanut Oil", 8990}, {"绿茶饮料", "Green Tea", 350}, {"美式咖啡", "Americano", 2700},
	{"拿铁咖啡", "Caffe Latte", 3200}, {"牛肉汉堡", "Beef Burger", 2350}, {"薯条", "French Fries", 1150},
	{"草莓酸奶", "Strawberry Yogurt", 890}, {"洗衣液", "Laundry Detergent", 4590}, {"抽纸", "Tissue 3 Packs", 1590},
	{"牙膏", "Toothpaste", 1280}, {"电动牙刷", "Electric Toothbrush", 19900}, {"苹果", "Apples 1kg", 1380},
	{"香蕉", "Bananas", 690}, {"三文鱼刺身", "Salmon Sashimi", 6800}, {"黑巧克力", "Dark Chocolate", 2590},
	{"笔记本", "Notebook A5", 990}, {"中性笔", "Gel Pen 0.5mm", 350}, {"充电线", "USB-C Cable", 3900},
	{"保温杯", "Vacuum Cup 500ml", 12900}, {"雨伞", "Umbrella", 5900}, {"纯棉T恤", "Cotton T-Shirt", 7900},
	{"运动袜", "Sport Socks", 2900}, {"维生素C片", "Vitamin C", 6500}, {"口罩", "Face Masks 10pcs", 1990},
}

var cities = []struct{ zh, district, road string }{
	{"上海市", "浦东新区", "张杨路"}, {"北京市", "朝阳区", "建国路"}, {"广州市", "天河区", "天河路"},
	{"深圳市", "南山区", "科技园路"}, {"杭州市", "西湖区", "文三路"}, {"成都市", "锦江区", "春熙路"},
	{"南京市", "鼓楼区", "中山北路"}, {"武汉市", "江汉区", "解放大道"}, {"苏州市", "姑苏区", "观前街"},
}

var surnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙"}
var givenNames = []string{"芳", "伟", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "婷"}
var payments = []struct{ zh, en string }{
	{"微信支付", "WeChat Pay"}, {"支付宝", "Alipay"}, {"银联卡", "UnionPay Card"}, {"现金", "Cash"},
}
var companies = []string{"贸易有限公司", "商贸有限公司", "餐饮管理有限公司", "科技有限公司", "连锁超市有限公司"}
var companyHeads = []string{"华联", "新世纪", "东方", "恒泰", "锦程", "宏达", "百信", "鑫源"}
var thanks = []string{"谢谢惠顾 Thank you!", "欢迎再次光临 Welcome back", "请保留小票 Please keep your receipt",
	"退换货请凭小票 Returns with receipt only", "祝您生活愉快 Have a nice day"}

// gen draws the document's text from one random stream.
type gen struct{ r *rand.Rand }

func (g gen) pick(n int) int { return g.r.IntN(n) }

func (g gen) digits(n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('0' + g.r.IntN(10)))
	}
	return b.String()
}

func (g gen) upperDigits(n int) string {
	const alnum = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	var b strings.Builder
	for range n {
		b.WriteByte(alnum[g.r.IntN(len(alnum))])
	}
	return b.String()
}

func yuan(fen int) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

func (g gen) date() (y, m, d int) { return 2021 + g.pick(5), 1 + g.pick(12), 1 + g.pick(28) }

func (g gen) dateText() string {
	y, m, d := g.date()
	switch g.pick(3) {
	case 0:
		return fmt.Sprintf("开票日期 Date: %d年%02d月%02d日", y, m, d)
	case 1:
		return fmt.Sprintf("日期 Date: %d-%02d-%02d", y, m, d)
	}
	return fmt.Sprintf("交易时间 %d/%02d/%02d %02d:%02d:%02d", y, m, d, 8+g.pick(14), g.pick(60), g.pick(60))
}

func (g gen) person() string {
	return surnames[g.pick(len(surnames))] + givenNames[g.pick(len(givenNames))]
}

func (g gen) address() string {
	c := cities[g.pick(len(cities))]
	no := 1 + g.pick(999)
	switch g.pick(3) {
	case 0:
		return fmt.Sprintf("地址 Add: %s%s%s%d号", c.zh, c.district, c.road, no)
	case 1:
		return fmt.Sprintf("地址: %s%s%s%d号 %d室", c.zh, c.district, c.road, no, 101+g.pick(2000))
	}
	return fmt.Sprintf("Address: %s %s Room %d", c.road, fmt.Sprint(no)+"号", 101+g.pick(2000))
}

func (g gen) phone() string {
	if g.pick(2) == 0 {
		return fmt.Sprintf("电话 Tel: 0%s-%s-%s", g.digits(2), g.digits(4), g.digits(4))
	}
	return fmt.Sprintf("服务热线 Hotline: 400-%s-%s", g.digits(3), g.digits(4))
}

func (g gen) company() string {
	c := cities[g.pick(len(cities))]
	return c.zh[:len(c.zh)-len("市")] + companyHeads[g.pick(len(companyHeads))] + companies[g.pick(len(companies))]
}

// itemName is an item's printed name: Chinese, English or both.
func (g gen) itemName(it item) string {
	switch g.pick(4) {
	case 0:
		return it.zh
	case 1:
		return it.en
	}
	return it.zh + " " + it.en
}

// lineText is one free-standing line for the single-line set: any of the
// fields a receipt prints, or an item row run together.
func (g gen) lineText() string {
	switch g.pick(9) {
	case 0:
		return g.dateText()
	case 1:
		return g.address()
	case 2:
		return g.phone()
	case 3:
		return "发票号码 No. " + g.digits(8+g.pick(13))
	case 4:
		s := shops[g.pick(len(shops))]
		return s.zh + " " + s.en
	case 5:
		return "销售方 Seller: " + g.company()
	case 6:
		return thanks[g.pick(len(thanks))]
	case 7:
		p := payments[g.pick(len(payments))]
		return fmt.Sprintf("%s %s %s", p.zh, p.en, yuan(100+g.pick(99900)))
	}
	it := items[g.pick(len(items))]
	q := 1 + g.pick(5)
	price := it.price * (80 + g.pick(41)) / 100
	return fmt.Sprintf("%s x%d %s", g.itemName(it), q, yuan(q*price))
}
