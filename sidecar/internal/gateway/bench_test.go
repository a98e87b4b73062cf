package gateway

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// BenchmarkSidecarOverhead compares a request sent through the gateway (TLS,
// PSK seal and open both ways, forward) with the same request sent plainly
// and directly to the same upstream. The ratio is the sidecar's cost.
func BenchmarkSidecarOverhead(b *testing.B) {
	f := newFixture(b, false)
	// Drain the fixture's recording channels: the benchmark sends many.
	f.upstream.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"ok"}`)
	})
	srv := httptest.NewUnstartedServer(f.gw)
	srv.StartTLS()
	defer srv.Close()
	tlsClient := srv.Client()
	tlsClient.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS12
	plainClient := &http.Client{}
	key := f.set.PSKKeys[0]
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"100KiB", 100 << 10}, {"1MiB", 1 << 20}} {
		payload := bytes.Repeat([]byte{0x5a}, size.n)
		b.Run(size.name+"/direct", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for i := 0; i < b.N; i++ {
				res, err := plainClient.Post(f.upstream.URL+"/v1/ocr", "image/png", bytes.NewReader(payload))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
		b.Run(size.name+"/sidecar-psk", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for i := 0; i < b.N; i++ {
				body, opener, err := psk.SealRequest(nil, key, "POST", "/v1/ocr", "image/png", time.Now(), payload)
				if err != nil {
					b.Fatal(err)
				}
				res, err := tlsClient.Post(srv.URL+"/v1/ocr", psk.RequestMediaType, bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if _, _, _, err := opener.Open(out); err != nil {
					b.Fatalf("status %d: %v", res.StatusCode, err)
				}
			}
		})
	}
}
