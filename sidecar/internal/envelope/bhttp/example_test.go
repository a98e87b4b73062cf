package bhttp_test

import (
	"fmt"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
)

func ExampleParseRequest() {
	req := &bhttp.Request{Method: "POST", Scheme: "https", Authority: "ocr.example", Path: "/v1/ocr",
		Header: []bhttp.Field{{Name: "content-type", Value: "image/png"}}, Content: []byte("PNG...")}
	b, err := req.MarshalBinary()
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := bhttp.ParseRequest(b, bhttp.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Method, got.Path, got.Header[0].Value, len(got.Content))
	// Output: POST /v1/ocr image/png 6
}
