package web

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// rotationPeriod is the sidecar's rotation period of t (keys.Period, which
// the core may not import): periods start at whole multiples since the
// Unix epoch.
func rotationPeriod(t time.Time, d time.Duration) int64 { return t.UnixNano() / int64(d) }

// TestBrowserAcrossRotation loads the page from a sidecar whose OHTTP keys
// rotate every 10 s, waits until the configuration the page fetched is two
// periods old (refused by the gateway), and uploads: the page is refused
// once, fetches the new configuration by itself, seals afresh and reads the
// image; the key it shows is the new one.
func TestBrowserAcrossRotation(t *testing.T) {
	const period = 10 * time.Second
	chromiumPath(t)
	coreURL := startCore(t)
	keyFile := filepath.Join(t.TempDir(), "keys.yaml")
	seed := base64.StdEncoding.EncodeToString([]byte("browser rotation seed, not secret"[:32]))
	if err := os.WriteFile(keyFile, []byte("seed: "+seed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sc := startSidecarEnv(t, coreURL, "SEALOCR_KEYS_FILE="+keyFile, "SEALOCR_OHTTP_ROTATION="+period.String())
	gateway := sc.url + "/.well-known/ohttp-gateway"
	ctx := browserFor(t, sc.spki, 3*time.Minute)
	watchConsole(t, ctx, gateway) // the one refusal of the stale key is expected
	requests := recordRequests(ctx)

	// Load the page early in a period, so that the key it fetches is not
	// the next period's (offered in the last quarter).
	p0 := rotationPeriod(time.Now(), period) + 1
	time.Sleep(time.Until(time.Unix(0, p0*int64(period)).Add(time.Second)))
	if err := chromedp.Do(ctx,
		chromedp.Navigate(sc.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="ohttp"] #key-info`)),
	); err != nil {
		t.Fatalf("page did not find the OHTTP gateway: %v", err)
	}
	before := text(t, ctx, "#key-desc")
	if p := rotationPeriod(time.Now(), period); p != p0 {
		t.Fatalf("the page loaded in period %d, want %d", p, p0)
	}
	// Two periods on, the page's configuration is refused.
	time.Sleep(time.Until(time.Unix(0, (p0+2)*int64(period)).Add(time.Second)))

	msg := upload(t, ctx, pageImage)
	if !strings.Contains(msg, "encrypted") {
		t.Errorf("status %q does not say the request was encrypted", msg)
	}
	if got := text(t, ctx, "#lines"); !strings.Contains(got, pageExpected) {
		t.Errorf("recognised lines %q lack %q", got, pageExpected)
	}
	after := text(t, ctx, "#key-desc")
	if after == before {
		t.Errorf("the page still shows the key it loaded with (%s)", before)
	}
	var posts, keyFetches int
	for _, r := range requests() {
		switch {
		case r.method == http.MethodPost && r.url == gateway:
			posts++
		case r.method == http.MethodGet && r.url == gateway:
			keyFetches++
		case strings.Contains(r.url, "/v1/ocr"):
			t.Errorf("request in the clear: %s %s", r.method, r.url)
		}
	}
	if posts != 2 || keyFetches != 2 {
		t.Errorf("%d POSTs and %d key fetches, want 2 and 2 (refused under the old key, refetched, sealed afresh)", posts, keyFetches)
	}
	t.Logf("key before: %s; after two rotations: %s", before, after)
}
