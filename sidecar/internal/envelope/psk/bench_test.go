package psk

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"
	"time"
)

var benchSizes = []int{1 << 10, 100 << 10, 1 << 20}

// BenchmarkPSK measures a full exchange: seal request, open request, seal
// response, open response, each of the given size.
func BenchmarkPSK(b *testing.B) {
	key := testKey(b, "bench", 3)
	ks := testKeySet(b, key)
	for _, n := range benchSizes {
		payload := make([]byte, n)
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			rc := NewMemoryReplayCache(1<<24, nil) // a cap, not a preallocation
			now := time.Now()
			b.SetBytes(int64(2 * n))
			b.ReportAllocs()
			for b.Loop() {
				body, opener, err := SealRequest(nil, key, "POST", "/v1/ocr", "image/png", now, payload)
				if err != nil {
					b.Fatal(err)
				}
				req, err := OpenRequest(ks, "POST", "/v1/ocr", body, now, 0, rc)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := req.SealResponse(nil, 200, "application/json", payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, _, err := opener.Open(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawAES256GCM is the baseline: two seals and two opens of the same
// sizes with a fixed key and nonce.
func BenchmarkRawAES256GCM(b *testing.B) {
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, 12)
	for _, n := range benchSizes {
		payload := make([]byte, n)
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(2 * n))
			b.ReportAllocs()
			for b.Loop() {
				for range 2 {
					ct := a.Seal(nil, nonce, payload, nil)
					if _, err := a.Open(nil, nonce, ct, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
