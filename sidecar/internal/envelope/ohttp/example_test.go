package ohttp_test

import (
	"fmt"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
)

func Example() {
	// Gateway: create (or load with ParseKeyConfigsPEM) a hybrid key.
	kc, err := ohttp.GenerateKeyConfig(1, ohttp.KEMMLKEM768X25519)
	if err != nil {
		fmt.Println(err)
		return
	}
	gw, err := ohttp.NewGateway(kc)
	if err != nil {
		fmt.Println(err)
		return
	}
	keys, _ := gw.KeyList() // served as application/ohttp-keys

	// Client: pick a configuration and suite, encapsulate a Binary HTTP request.
	cfgs, err := ohttp.ParseKeyList(keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	inner, _ := (&bhttp.Request{Method: "POST", Scheme: "https", Authority: "ocr.example", Path: "/v1/ocr", Content: []byte("PNG...")}).MarshalBinary()
	encReq, client, err := ohttp.EncapsulateRequest(cfgs[0], cfgs[0].Suites()[0], inner)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Gateway: decapsulate, answer.
	reqBytes, responder, err := gw.DecapsulateRequest(encReq)
	if err != nil {
		fmt.Println(err)
		return
	}
	req, _ := bhttp.ParseRequest(reqBytes, bhttp.Limits{})
	respBytes, _ := (&bhttp.Response{Status: 200, Content: []byte(`{"text":"hi"}`)}).MarshalBinary()
	encResp, err := responder.EncapsulateResponse(nil, respBytes)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Client: decapsulate the response.
	out, err := client.DecapsulateResponse(encResp)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, _ := bhttp.ParseResponse(out, bhttp.Limits{})
	fmt.Println(req.Path, resp.Status, string(resp.Content))
	// Output: /v1/ocr 200 {"text":"hi"}
}
