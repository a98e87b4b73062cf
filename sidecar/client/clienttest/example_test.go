package clienttest_test

import (
	"context"
	"fmt"
	"os"

	"github.com/sealocr/sealocr/sidecar/client"
	"github.com/sealocr/sealocr/sidecar/client/clienttest"
)

// ExampleStart runs a fake sidecar outside a test function; in a test, use
// NewServer(t, core), which cleans up by itself.
func ExampleStart() {
	dir, err := os.MkdirTemp("", "clienttest-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	srv, err := clienttest.Start(dir, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	c, err := client.New(client.Config{Server: srv.URL, CAFile: srv.CAFile, Mode: client.ModeOHTTP})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := c.OCR(context.Background(), []byte("GIF89a..."), client.OCROptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	req, n := srv.LastRequest()
	fmt.Println(res.Lines[1].Text, req.Envelope, req.Target, req.ContentType, n)
	// Output: world ohttp /v1/ocr image/gif 1
}
