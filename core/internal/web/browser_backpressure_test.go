package web

// Browser tests of the page under load (issue 15: a busy or rate-limited
// answer shows a countdown and is retried; issue 12 item 5: confidence
// figures never overlap wrapped text), in real headless Chromium against
// the real core and sidecar.

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// longLines are the lines of the 48-line test page: every third one long
// enough to wrap in the results list at 1280 px.
func longLines() []string {
	words := []string{"invoice", "delivery", "printed", "matter", "taxes", "included", "paid", "by", "bank",
		"transfer", "order", "number", "customer", "account", "total", "amount", "due", "date", "shipping", "address"}
	out := make([]string, 48)
	for i := range out {
		n := 3
		if i%3 == 0 {
			n = 11
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Line %d", i+1)
		for k := range n {
			b.WriteString(" " + words[(i*7+k*3)%len(words)])
		}
		out[i] = b.String()
	}
	return out
}

// renderPage renders lines, black on white, into a PNG file under dir.
func renderPage(t *testing.T, dir string, lines []string) string {
	t.Helper()
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 22, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	const lineH, margin = 36, 30
	img := image.NewRGBA(image.Rect(0, 0, 1100, 2*margin+lineH*len(lines)))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: face}
	for i, l := range lines {
		d.Dot = fixed.P(margin, margin+lineH*i+26)
		d.DrawString(l)
	}
	p := filepath.Join(dir, "48-lines.png")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := png.Encode(out, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// layoutReport is what the page's geometry check returns.
type layoutReport struct {
	Items   int      `json:"items"`
	Wrapped int      `json:"wrapped"`
	Bad     []string `json:"bad"`
}

// layoutCheck measures the results list: for every item, the confidence
// figure's rectangle must lie inside the item and intersect no line box of
// any item's text (a Range's client rectangles, one per wrapped line), and
// the text must not stick out of its item.
const layoutCheck = `(() => {
  const items = [...document.querySelectorAll("#lines li")];
  // One rectangle per line the text occupies, whatever its display.
  const lineBoxes = (el) => { const r = document.createRange(); r.selectNodeContents(el); return [...r.getClientRects()].filter((b) => b.width > 0); };
  const texts = items.map((li) => lineBoxes(li.querySelector(".line-text")));
  const hit = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const outside = (a, b) => a.left < b.left - 0.5 || a.right > b.right + 0.5 || a.top < b.top - 0.5 || a.bottom > b.bottom + 0.5;
  const bad = [];
  let wrapped = 0;
  items.forEach((li, i) => {
    const box = li.getBoundingClientRect();
    const conf = li.querySelector(".conf").getBoundingClientRect();
    if (texts[i].length > 1) wrapped++;
    if (conf.width === 0 || conf.height === 0) bad.push("line " + (i + 1) + ": no confidence figure");
    if (outside(conf, box)) bad.push("line " + (i + 1) + ": figure outside its item");
    texts[i].forEach((r) => { if (outside(r, box)) bad.push("line " + (i + 1) + ": text outside its item"); });
    texts.forEach((rs, j) => rs.forEach((r) => {
      if (hit(conf, r)) bad.push("figure of line " + (i + 1) + " overlaps the text of line " + (j + 1));
    }));
  });
  return { items: items.length, wrapped, bad };
})()`

// TestBrowserLongResultLayout: 48 recognised lines, many wrapping, at
// 1280 px: no confidence figure overlaps any text.
func TestBrowserLongResultLayout(t *testing.T) {
	chromiumPath(t)
	page := renderPage(t, t.TempDir(), longLines())
	// 48 lines take a while on a shared 2-core machine.
	coreURL := startCore(t, "--timeout", "4m")
	ctx := browserFor(t, "", 5*time.Minute)
	watchConsole(t, ctx, coreURL+"/.well-known/ohttp-gateway")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(coreURL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="plain"] #transport-detail`)),
	); err != nil {
		t.Fatalf("page: %v", err)
	}
	upload(t, ctx, page)
	rep, err := chromedp.Run(ctx, chromedp.Evaluate[layoutReport](layoutCheck))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "webui-48-lines.png")
	if rep.Items < 44 || rep.Wrapped < 5 {
		t.Fatalf("%d items, %d wrapped: the page does not show the case under test", rep.Items, rep.Wrapped)
	}
	for _, b := range rep.Bad {
		t.Error(b)
	}
	t.Logf("%d lines, %d wrapped, %d layout faults", rep.Items, rep.Wrapped, len(rep.Bad))
}

// uploadResult picks file and waits for the page to settle on a result or
// an error; it returns the message's kind and text.
func uploadResult(t *testing.T, ctx context.Context, file string) (string, string) {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	// Forget the previous outcome, so that only this upload's can match.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("message").dataset.kind = "", true)`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{abs})); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#message[data-kind="done"], #message[data-kind="error"]`))); err != nil {
		t.Fatalf("waiting for the result: %v", err)
	}
	kind, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("message").dataset.kind`))
	if err != nil {
		t.Fatal(err)
	}
	return kind, text(t, ctx, "#message")
}

// recordMessages makes the page keep every text the status line shows,
// for messages() to read.
const recordMessages = `(() => {
  window.__messages = [];
  const m = document.getElementById("message");
  new MutationObserver(() => window.__messages.push(m.textContent)).observe(m, { childList: true, characterData: true, subtree: true });
  return true;
})()`

func messages(t *testing.T, ctx context.Context) []string {
	t.Helper()
	m, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__messages.splice(0)`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// metricValue sums the samples of name in a Prometheus exposition.
func metricValue(t *testing.T, url, name string) float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var sum float64
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, name+" ") || strings.HasPrefix(l, name+"{") {
			if v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// holdSlots keeps the sidecar busy with n POSTs that each declare a body of
// holdBytes and send all of it but the last byte (the budget counts what
// arrived, not what was declared), until release is called. The sidecar
// reads bodies before it gives out request slots, so the hold is on its
// byte budget (SEALOCR_MAX_BUFFERED_BYTES = n × holdBytes, and the same
// per client, since they all come from one address; a body_grace longer
// than the test): every other body gets 503 busy meanwhile.
func holdSlots(t *testing.T, sc sidecarInfo, n int) (release func()) {
	t.Helper()
	host := strings.TrimPrefix(sc.url, "https://")
	var conns []io.Closer
	release = func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	t.Cleanup(release)
	for range n {
		c, err := tls.Dial("tcp", host, &tls.Config{RootCAs: sc.pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "POST /v1/ocr HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: application/sealocr-psk\r\nContent-Length: "+strconv.Itoa(holdBytes)+"\r\n\r\n"+strings.Repeat("x", holdBytes-1)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, sc.metrics, "sealocr_sidecar_buffered_bytes") < float64(n*(holdBytes-1)) {
		if time.Now().After(deadline) {
			t.Fatalf("the held requests did not take the byte budget: %v of %d bytes buffered",
				metricValue(t, sc.metrics, "sealocr_sidecar_buffered_bytes"), n*(holdBytes-1))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return release
}

// holdBytes is what each holdSlots request reserves: the sidecar's first
// body buffer (64 KiB), so that no held body grows its buffer, which
// counts the old and the new buffer while it copies.
const holdBytes = 64 << 10

// countPosts counts the page's POSTs to url.
func countPosts(reqs []request, url string) int {
	n := 0
	for _, r := range reqs {
		if r.method == http.MethodPost && r.url == url {
			n++
		}
	}
	return n
}

// TestBrowserBusy: through the sidecar, a rate-limited answer shows a
// countdown and the page retries by itself; a server that stays busy gets
// a few retries, then a clear final message; once it has room, the same
// upload works.
func TestBrowserBusy(t *testing.T) {
	chromiumPath(t)
	coreURL := startCore(t)
	// A: at most one OHTTP request per 6 s. B: a byte budget of four held
	// bodies, and request slots to spare (per client too: the held bodies
	// and the page come from one address), so that the page's requests are
	// refused by the budget alone.
	limited := startSidecarEnv(t, coreURL, "SEALOCR_RATE_LIMIT=10/m", "SEALOCR_RATE_LIMIT_BURST=1")
	narrow := startSidecarEnv(t, coreURL, "SEALOCR_MAX_CONCURRENT=16", "SEALOCR_MAX_CONCURRENT_PER_CLIENT=16", "SEALOCR_RATE_LIMIT=off",
		"SEALOCR_MAX_BUFFERED_BYTES="+strconv.Itoa(4*holdBytes), "SEALOCR_MAX_BUFFERED_BYTES_PER_CLIENT="+strconv.Itoa(4*holdBytes),
		"SEALOCR_MAX_BODY_BYTES="+strconv.Itoa(holdBytes), "SEALOCR_BODY_GRACE=10m")
	ctx := browserFor(t, limited.spki+","+narrow.spki, 3*time.Minute)
	gwA, gwB := limited.url+"/.well-known/ohttp-gateway", narrow.url+"/.well-known/ohttp-gateway"
	// 429 and 503 answers are logged by Chromium as failed loads.
	watchConsole(t, ctx, gwA, gwB)
	requests := recordRequests(ctx)

	open := func(base string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="ohttp"] #key-info`)),
			chromedp.SetValue(chromedp.ID("mode"), "line"),
		); err != nil {
			t.Fatalf("page at %s: %v", base, err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](recordMessages)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("rate limited, then retried", func(t *testing.T) {
		open(limited.url)
		if kind, msg := uploadResult(t, ctx, lineImage); kind != "done" {
			t.Fatalf("first upload: %s %q", kind, msg)
		}
		before := countPosts(requests(), gwA)
		kind, msg := uploadResult(t, ctx, lineImage) // the bucket is empty: 429, Retry-After up to 6 s
		seen := messages(t, ctx)
		if kind != "done" || !strings.Contains(text(t, ctx, "#lines"), lineExpected) {
			t.Fatalf("second upload: %s %q (messages %q)", kind, msg, seen)
		}
		if !containsPrefix(seen, "Too many requests, retrying in ") {
			t.Errorf("no countdown among the messages %q", seen)
		}
		if n := countPosts(requests(), gwA) - before; n < 2 {
			t.Errorf("%d POSTs for the second upload, want a retry", n)
		}
		if n := metricValue(t, limited.metrics, "sealocr_sidecar_rate_limited_total"); n < 1 {
			t.Errorf("the sidecar refused %v requests", n)
		}
	})

	t.Run("busy, then a final message, then recovered", func(t *testing.T) {
		open(narrow.url)
		release := holdSlots(t, narrow, 4)
		before := countPosts(requests(), gwB)
		start := time.Now()
		kind, msg := uploadResult(t, ctx, lineImage)
		seen := messages(t, ctx)
		if kind != "error" || msg != "The server is still busy after 4 retries; nothing was recognised. Try again in a minute." {
			t.Errorf("final message: %s %q", kind, msg)
		}
		for n := 1; n <= 4; n++ {
			if want := fmt.Sprintf("The server is busy, retrying in 1 s (retry %d of 4)…", n); !containsPrefix(seen, want) {
				t.Errorf("messages %q lack %q", seen, want)
			}
		}
		if el := time.Since(start); el < 4*time.Second {
			t.Errorf("gave up after %s; four retries with Retry-After 1 s take at least 4 s", el)
		}
		if n := countPosts(requests(), gwB) - before; n != 5 {
			t.Errorf("%d POSTs, want 1 + 4 retries", n)
		}
		screenshot(t, ctx, "webui-busy.png")
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
			t.Fatal(err)
		}
		if got := text(t, ctx, "#message"); !strings.Contains(got, "服务器仍然繁忙") {
			t.Errorf("final message in Chinese %q", got)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
			t.Fatal(err)
		}

		release()
		if kind, msg := uploadResult(t, ctx, lineImage); kind != "done" {
			t.Errorf("after the load went: %s %q", kind, msg)
		}
	})
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
