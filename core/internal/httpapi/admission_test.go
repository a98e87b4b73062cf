package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/api"
)

// errorCode returns the code of an error answer.
func errorCode(body []byte) string {
	s := string(body)
	i := strings.Index(s, `"code":"`)
	if i < 0 {
		return ""
	}
	s = s[i+len(`"code":"`):]
	return s[:strings.IndexByte(s, '"')]
}

// holdRun starts a request that blocks inside the engine until release is
// closed, and waits until it holds its worker slot.
func holdRun(t *testing.T, a *API, img []byte) (done chan struct{}) {
	t.Helper()
	done = make(chan struct{})
	go func() {
		defer close(done)
		do(t, a, http.MethodPost, "/v1/ocr", "image/png", img)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(a.slots) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the held request never took a slot")
		}
		time.Sleep(time.Millisecond)
	}
	return done
}

// TestAdmissionBeforeDecoding: with the one worker busy and no queue, a
// request is refused busy before its image is looked at; a corrupt image
// gets busy too (the old core decoded first and answered not_an_image,
// holding the decoded pixels meanwhile).
func TestAdmissionBeforeDecoding(t *testing.T) {
	block := make(chan struct{})
	a := New(&stubEngine{block: block}, Options{Workers: 1, Queue: -1})
	done := holdRun(t, a, pngBytes(t, 16, 16))
	corrupt := pngBytes(t, 300, 300)
	corrupt = corrupt[:len(corrupt)-20]
	res, body := do(t, a, http.MethodPost, "/v1/ocr", "image/png", corrupt)
	if res.StatusCode != http.StatusServiceUnavailable || errorCode(body) != api.CodeBusy {
		t.Errorf("corrupt image while the worker is busy: %d %s, want 503 busy", res.StatusCode, body)
	}
	close(block)
	<-done
	res, body = do(t, a, http.MethodPost, "/v1/ocr", "image/png", corrupt)
	if errorCode(body) != api.CodeNotAnImage {
		t.Errorf("corrupt image on an idle core: %d %s, want not_an_image", res.StatusCode, body)
	}
}
