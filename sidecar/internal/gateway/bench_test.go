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
//
// Two more rows bound it from below, on the same TLS server and client:
// tls-only is TLS termination alone (the body is read and a short answer
// written: what any HTTPS server pays), tls-forward is a TLS-terminating
// proxy without an envelope (the body is read, sent to the upstream with
// the gateway's own upstream.Proxy, the answer relayed). sidecar-psk minus
// tls-forward is what the envelope costs: the client's seal, the open, the
// response's seal and open. sidecar-psk seals each request into a new
// buffer, as sealctl does; sidecar-psk-reuse seals into one buffer reused
// from request to request (psk.AppendSealRequest), as the direct client
// reuses its payload: in one process the client's fresh megabyte per
// request also slows the server (page faults, collections).
func BenchmarkSidecarOverhead(b *testing.B) {
	f := newFixture(b, false)
	// Room for every request of a long run in the replay store.
	f.gw = New(Options{Keys: staticKeys{f.set}, Upstream: f.up, Replay: psk.NewMemoryReplayCache(1<<20, nil)})
	// Drain the fixture's recording channels: the benchmark sends many.
	f.upstream.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"ok"}`)
	})
	newTLS := func(h http.Handler) (*httptest.Server, *http.Client) {
		srv := httptest.NewUnstartedServer(h)
		srv.StartTLS()
		b.Cleanup(srv.Close)
		c := srv.Client()
		c.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS12
		return srv, c
	}
	gwSrv, gwClient := newTLS(f.gw)
	onlySrv, onlyClient := newTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, held, ok := f.gw.readBody(w, r, "bench") // read, then dropped
		if !ok {
			return
		}
		defer f.gw.bufs.Put(held)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"ok"}`)
	}))
	fwdSrv, fwdClient := newTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, held, ok := f.gw.readBody(w, r, "bench")
		if !ok {
			return
		}
		defer f.gw.bufs.Put(held)
		res := f.gw.forward(r.Context(), "bench", r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), body)
		w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
		w.WriteHeader(res.Status)
		_, _ = w.Write(res.Body)
	}))
	plainClient := &http.Client{}
	key := f.set.PSKKeys[0]
	post := func(b *testing.B, c *http.Client, url, ct string, body []byte) []byte {
		res, err := c.Post(url, ct, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d: %s", res.StatusCode, out)
		}
		return out
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"100KiB", 100 << 10}, {"1MiB", 1 << 20}} {
		payload := bytes.Repeat([]byte{0x5a}, size.n)
		b.Run(size.name+"/direct", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for i := 0; i < b.N; i++ {
				post(b, plainClient, f.upstream.URL+"/v1/ocr", "image/png", payload)
			}
		})
		b.Run(size.name+"/tls-only", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for i := 0; i < b.N; i++ {
				post(b, onlyClient, onlySrv.URL+"/v1/ocr", "image/png", payload)
			}
		})
		b.Run(size.name+"/tls-forward", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for i := 0; i < b.N; i++ {
				post(b, fwdClient, fwdSrv.URL+"/v1/ocr", "image/png", payload)
			}
		})
		b.Run(size.name+"/sidecar-psk-reuse", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			var buf []byte
			for i := 0; i < b.N; i++ {
				body, opener, err := psk.AppendSealRequest(buf[:0], nil, key, "POST", "/v1/ocr", "image/png", time.Now(), payload)
				if err != nil {
					b.Fatal(err)
				}
				buf = body // sent and answered: free for the next request
				out := post(b, gwClient, gwSrv.URL+"/v1/ocr", psk.RequestMediaType, body)
				if _, _, _, err := opener.Open(out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/sidecar-psk", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for i := 0; i < b.N; i++ {
				body, opener, err := psk.SealRequest(nil, key, "POST", "/v1/ocr", "image/png", time.Now(), payload)
				if err != nil {
					b.Fatal(err)
				}
				out := post(b, gwClient, gwSrv.URL+"/v1/ocr", psk.RequestMediaType, body)
				if _, _, _, err := opener.Open(out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
