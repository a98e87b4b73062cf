package web

// Browser tests of the page's Date field (RFC 9458 section 6.5): against a
// sidecar that refuses OHTTP requests without Date (ohttp_require_date),
// the page's requests are served; a page whose clock is wrong recovers
// through the gateway's date problem. Real headless Chromium against the
// real core and sidecar.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// skewClock returns a script that moves the page's clock by skew: Date.now()
// and new Date() read the device's time plus skew, as on a device whose
// clock is wrong.
func skewClock(skew time.Duration) string {
	return fmt.Sprintf(`(() => {
  const skew = %d;
  const Real = Date;
  class Skewed extends Real {
    constructor(...args) { if (args.length === 0) super(Real.now() + skew); else super(...args); }
    static now() { return Real.now() + skew; }
  }
  globalThis.Date = Skewed;
})();`, skew.Milliseconds())
}

// TestBrowserOHTTPDate runs the page against a sidecar started with
// SEALOCR_OHTTP_REQUIRE_DATE=true, with the device's clock right, 10
// minutes slow (beyond the 5-minute window) and 2 minutes fast (beyond the
// 30 seconds accepted ahead). Each upload must be served; with a wrong
// clock the first one takes two POSTs (the date problem, then the request
// with the corrected Date) and the next one a single POST, the offset
// learnt.
func TestBrowserOHTTPDate(t *testing.T) {
	chromiumPath(t)
	coreURL := startCore(t)
	sc := startSidecarEnv(t, coreURL, "SEALOCR_OHTTP_REQUIRE_DATE=true")
	gateway := sc.url + "/.well-known/ohttp-gateway"

	for _, tc := range []struct {
		name       string
		skew       time.Duration
		firstPosts int
	}{
		{"clock right", 0, 1},
		{"clock 10 min slow", -10 * time.Minute, 2},
		{"clock 2 min fast", 2 * time.Minute, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := browserFor(t, sc.spki, 120*time.Second)
			watchConsole(t, ctx)
			requests := recordRequests(ctx)
			if tc.skew != 0 {
				if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
					page.AddScriptToEvaluateOnNewDocumentParams{Source: skewClock(tc.skew)}); err != nil {
					t.Fatalf("clock skew script: %v", err)
				}
			}
			if err := chromedp.Do(ctx,
				chromedp.Navigate(sc.url+"/"),
				chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="ohttp"] #key-info`)),
				chromedp.SetValue(chromedp.ID("mode"), "line"),
			); err != nil {
				t.Fatalf("page did not find the OHTTP gateway: %v", err)
			}
			if tc.skew != 0 {
				// The skew is in force in the page.
				got, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Date.now()`))
				if err != nil {
					t.Fatal(err)
				}
				off := time.Until(time.UnixMilli(int64(got)))
				if d := off - tc.skew; d < -5*time.Second || d > 5*time.Second {
					t.Fatalf("page clock is off by %v, want %v", off, tc.skew)
				}
			}

			// count returns the page's GETs and POSTs of the gateway.
			count := func() (gets, posts int) {
				for _, r := range requests() {
					if r.url != gateway {
						continue
					}
					switch r.method {
					case http.MethodGet:
						gets++
					case http.MethodPost:
						posts++
					}
				}
				return
			}

			for i, want := range []int{tc.firstPosts, 1} {
				_, postsBefore := count()
				if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById("message").dataset.kind = ""`)); err != nil {
					t.Fatal(err)
				}
				upload(t, ctx, lineImage)
				if got := text(t, ctx, "#lines"); !strings.Contains(got, lineExpected) {
					t.Errorf("upload %d: recognised lines %q lack %q", i+1, got, lineExpected)
				}
				if _, posts := count(); posts-postsBefore != want {
					t.Errorf("upload %d: %d POSTs to the gateway, want %d (requests: %v)",
						i+1, posts-postsBefore, want, requests())
				}
			}
			// The key list was fetched once: no retry went through the
			// key-change path (RFC 9458 section 5.3).
			if gets, _ := count(); gets != 1 {
				t.Errorf("%d GETs of the key list, want 1", gets)
			}
		})
	}
}
