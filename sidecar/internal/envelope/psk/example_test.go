package psk_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

func Example() {
	secret := bytes.Repeat([]byte{0x42}, psk.KeySize) // load from a secret file in practice
	key, err := psk.NewKey("client-a", secret)
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Now()

	// Client: seal the image for POST /v1/ocr.
	body, opener, err := psk.SealRequest(nil, key, "POST", "/v1/ocr", "image/png", now, []byte("PNG..."))
	if err != nil {
		fmt.Println(err)
		return
	}

	// Sidecar: open, forward upstream, seal the answer.
	keys, err := psk.NewKeySet(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	replay := psk.NewMemoryReplayCache(0, nil)
	req, err := psk.OpenRequest(keys, "POST", "/v1/ocr", body, now, 0, replay)
	if err != nil {
		fmt.Println(psk.ClientMessage) // log err, answer with the fixed message
		return
	}
	resp, err := req.SealResponse(nil, 200, "application/json", []byte(`{"text":"hi"}`))
	if err != nil {
		fmt.Println(err)
		return
	}

	// Client: open the answer.
	status, contentType, plaintext, err := opener.Open(resp)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.KeyID(), req.ContentType(), status, contentType, string(plaintext))
	// Output: client-a image/png 200 application/json {"text":"hi"}
}
