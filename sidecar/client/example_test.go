package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sealocr/sealocr/sidecar/client"
	"github.com/sealocr/sealocr/sidecar/client/clienttest"
)

// startSidecar stands in for a running sidecar in the examples: it returns
// the server URL, its CA file and key file.
func startSidecar() (srv *clienttest.Server, stop func()) {
	dir, err := os.MkdirTemp("", "sealocr-example-")
	if err != nil {
		panic(err)
	}
	srv, err = clienttest.Start(dir, nil)
	if err != nil {
		panic(err)
	}
	return srv, func() { srv.Close(); os.RemoveAll(dir) }
}

// Example sends an image sealed with a pre-shared key.
func Example() {
	srv, stop := startSidecar()
	defer stop()

	keys, err := client.LoadKeys(srv.KeysFile) // e.g. ~/.local/state/sealocr/keys.yaml
	if err != nil {
		fmt.Println(err)
		return
	}
	key, err := keys.PSK("") // the first pre-shared key
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := client.New(client.Config{
		Server: srv.URL,    // default https://127.0.0.1:8443
		CAFile: srv.CAFile, // e.g. ~/.local/state/sealocr/ca.pem
		PSKKey: key,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	image := []byte("\x89PNG\r\n\x1a\n...") // os.ReadFile("scan.png") in practice
	res, err := c.OCR(context.Background(), image, client.OCROptions{Mode: client.DocumentMode})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Text)
	// Output:
	// hello
	// world
}

// Example_oblivious uses Oblivious HTTP, pinning the gateway key that was
// checked out of band (here, listed with OHTTPKeys).
func Example_oblivious() {
	srv, stop := startSidecar()
	defer stop()

	lister, err := client.New(client.Config{Server: srv.URL, CAFile: srv.CAFile, Mode: client.ModeOHTTP})
	if err != nil {
		fmt.Println(err)
		return
	}
	infos, err := lister.OHTTPKeys(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}

	c, err := client.New(client.Config{
		Server:               srv.URL,
		CAFile:               srv.CAFile,
		Mode:                 client.ModeOHTTP,
		PinnedKeyFingerprint: infos[0].Fingerprint,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := c.OCR(context.Background(), []byte("\x89PNG\r\n\x1a\n..."), client.OCROptions{Mode: client.LineMode})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(res.Lines), res.Lines[0].Text)
	// Output: 2 hello
}

// ExampleClient_OHTTPKeys lists the gateway's key configurations.
func ExampleClient_OHTTPKeys() {
	srv, stop := startSidecar()
	defer stop()

	c, err := client.New(client.Config{Server: srv.URL, CAFile: srv.CAFile, Mode: client.ModeOHTTP})
	if err != nil {
		fmt.Println(err)
		return
	}
	infos, err := c.OHTTPKeys(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range infos {
		fmt.Println(k.ID, k.KEM, k.Suites[0], len(k.Fingerprint))
	}
	// Output:
	// 1 X25519 HKDF-SHA256/AES-256-GCM 64
	// 2 MLKEM768-X25519 HKDF-SHA256/AES-256-GCM 64
}

// ExampleServerError tells an error of the core, sealed in the response,
// from a refusal by the sidecar.
func ExampleServerError() {
	srv, stop := startSidecar()
	defer stop()

	keys, err := client.LoadKeys(srv.KeysFile)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, _ := keys.PSK("")
	c, err := client.New(client.Config{Server: srv.URL, CAFile: srv.CAFile, PSKKey: key})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.OCR(context.Background(), []byte("plain text, not an image"), client.OCROptions{})
	var se *client.ServerError
	switch {
	case errors.As(err, &se):
		fmt.Println(se.Status, se.Code, se.Sealed)
	case errors.Is(err, client.ErrOpenResponse):
		fmt.Println("response could not be authenticated")
	case err != nil:
		fmt.Println("transport error")
	}
	// Output: 400 not_an_image true
}

// ExampleNewPSKKey builds a key from a secret held elsewhere (a secret
// store, an environment variable). It prints as its ID only.
func ExampleNewPSKKey() {
	secret := make([]byte, 32)
	secret[0] = 1 // from a secret store in practice
	key, err := client.NewPSKKey("client-a", secret)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v %s\n", key, key.ID())
	// Output: client.PSKKey(client-a) client-a
}

// ExampleOCROptions_onRetry shows the retries of a call against a server
// that is busy: the client waits and sends the image again, sealed afresh,
// and the caller hears the last answer only when the retries run out.
func ExampleOCROptions_onRetry() {
	srv, stop := startSidecar()
	defer stop()
	srv.Fail(503, "busy", "the server is busy, retry later", 0) // every request, until turned off

	keys, err := client.LoadKeys(srv.KeysFile)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, _ := keys.PSK("")
	c, err := client.New(client.Config{Server: srv.URL, CAFile: srv.CAFile, PSKKey: key,
		MaxRetries: 3, RetryBaseDelay: 10 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // bounds every attempt and wait
	defer cancel()
	_, err = c.OCR(ctx, pngImage(), client.OCROptions{OnRetry: func(r client.RetryInfo) {
		fmt.Println("attempt", r.Attempt, "after", r.Err)
		if r.Attempt == 3 {
			srv.Fail(0, "", "", 0) // the server has room again
		}
	}})
	fmt.Println("busy:", client.IsBusy(err), "error:", err)
	// Output:
	// attempt 2 after sealocr client: server answered 503 busy: the server is busy, retry later
	// attempt 3 after sealocr client: server answered 503 busy: the server is busy, retry later
	// busy: false error: <nil>
}
