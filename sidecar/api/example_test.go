package api_test

import (
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/sealocr/sealocr/sidecar/api"
)

// ExampleWrite writes a fixed answer; the cause of the failure stays in the
// log.
func ExampleWrite() {
	err := api.NewError(api.CannotOpen, errors.New("psk: tag mismatch"))
	// log.Info("request refused", zap.Error(err)) — the cause, for the log only.
	w := httptest.NewRecorder()
	api.Write(w, api.AnswerFor(err))
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Body.String())
	// Output: 400 application/json {"error":{"code":"cannot_open","message":"request could not be opened"}}
}
