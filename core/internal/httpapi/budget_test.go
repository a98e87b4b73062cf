package httpapi

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/api"
)

func memUsed(a *API) int64 {
	a.mem.mu.Lock()
	defer a.mem.mu.Unlock()
	return a.mem.used
}

// TestMemoryBudget: an image larger than the whole budget is refused
// too_many_pixels; one that fits the budget but not what another request
// holds is refused busy; the memory comes back when a request ends.
func TestMemoryBudget(t *testing.T) {
	img := pngBytes(t, 300, 300) // gray: 1 + 4 + 12 bytes per pixel, 1.53 MB
	t.Run("never fits", func(t *testing.T) {
		a := New(&stubEngine{}, Options{MemoryBudget: 1 << 20})
		res, body := do(t, a, http.MethodPost, "/v1/ocr", "image/png", img)
		if res.StatusCode != http.StatusUnprocessableEntity || errorCode(body) != api.CodeTooManyPixels {
			t.Fatalf("got %d %s, want 422 too_many_pixels", res.StatusCode, body)
		}
	})
	t.Run("busy while held", func(t *testing.T) {
		block := make(chan struct{})
		// While it runs, the held request keeps its page (12 bytes per
		// pixel; the decoder's 5 went back after decoding): 2 MiB leaves
		// less than the 17 bytes per pixel the second one needs. (With
		// 2.5 MiB the test passed only when it caught the decoding moment.)
		a := New(&stubEngine{block: block}, Options{Workers: 2, MemoryBudget: 2 << 20})
		done := holdRun(t, a, img)
		// The slot comes first, then the decoded bytes (17 B/px for a
		// moment), then what the pipeline holds while it runs: the float32
		// page, 12 B/px, which is what the held request keeps.
		deadline := time.Now().Add(5 * time.Second)
		for memUsed(a) < 300*300*12 {
			if time.Now().After(deadline) {
				t.Fatalf("the held request has %d bytes of the budget, want at least %d", memUsed(a), 300*300*12)
			}
			time.Sleep(time.Millisecond)
		}
		res, body := do(t, a, http.MethodPost, "/v1/ocr", "image/png", img)
		if res.StatusCode != http.StatusServiceUnavailable || errorCode(body) != api.CodeBusy || res.Header.Get("Retry-After") == "" {
			t.Errorf("second image: %d %s, want 503 busy with Retry-After", res.StatusCode, body)
		}
		close(block)
		<-done
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, body := do(t, a, http.MethodPost, "/v1/ocr", "image/png", img); res.StatusCode != http.StatusOK {
				t.Errorf("after the first ended: %d %s, want 200", res.StatusCode, body)
			}
		}()
		wg.Wait()
		if used := memUsed(a); used != 0 {
			t.Errorf("%d bytes of the budget still held after every request ended", used)
		}
	})
}
