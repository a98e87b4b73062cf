package main

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// BenchmarkEncryptedPath is BenchmarkSidecarOverhead (sidecar/internal/gateway)
// as deployed: a real sidecar process (this test binary, with the
// replicas tests' configuration: local TLS files, logs at warn, rate limit
// off) in front of a stand-in core in the test process. A PSK request of
// each size goes through it over HTTP/1.1 and over HTTP/2; direct is the
// same body sent plainly to the core. The client, the sidecar and the core
// share the machine's cores.
func BenchmarkEncryptedPath(b *testing.B) {
	core := newStandInCore(b)
	_, set, env, client := sharedSetup(b)
	env["SEALOCR_UPSTREAM"], env["SEALOCR_LOG_LEVEL"] = core.URL, "warn"
	env["SEALOCR_RATE_LIMIT"] = "off"
	env["SEALOCR_STATE_DIR"] = b.TempDir()
	r := startReplica(b, "sidecar", env, client)
	r.waitHealthy(b, 60*time.Second)
	plain := &http.Client{}
	key := set.PSKKeys[0]
	for _, sz := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"100KiB", 100 << 10}, {"1MiB", 1 << 20}} {
		payload := bytes.Repeat([]byte{0x5a}, sz.n)
		b.Run(sz.name+"/direct", func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			for i := 0; i < b.N; i++ {
				res, err := plain.Post(core.URL+"/v1/ocr", "image/png", bytes.NewReader(payload))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
		for _, proto := range []string{"h1", "h2"} {
			c := client
			if proto == "h1" {
				t := client.Transport.(*http.Transport).Clone()
				t.ForceAttemptHTTP2 = false
				t.TLSClientConfig.NextProtos = []string{"http/1.1"}
				c = &http.Client{Transport: t}
			}
			b.Run(sz.name+"/sidecar-psk-"+proto, func(b *testing.B) {
				b.SetBytes(int64(sz.n))
				for i := 0; i < b.N; i++ {
					body, opener, err := psk.SealRequest(nil, key, "POST", "/v1/ocr", "image/png", time.Now(), payload)
					if err != nil {
						b.Fatal(err)
					}
					res, err := c.Post(r.url+"/v1/ocr", psk.RequestMediaType, bytes.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					out, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if _, _, _, err := opener.Open(out); err != nil {
						b.Fatalf("status %d: %v %s", res.StatusCode, err, out)
					}
					if res.Proto[5] != map[string]byte{"h1": '1', "h2": '2'}[proto] {
						b.Fatal(res.Proto)
					}
				}
			})
		}
	}
}
