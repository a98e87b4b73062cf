package psk

import (
	"fmt"
	"testing"
	"time"
)

var benchSizes = []int{1 << 10, 100 << 10, 1 << 20}

// BenchmarkPSK measures a full exchange for every suite, side by side per
// size: seal request, open request, seal response, open response, each of
// the given size. MB/s counts both directions.
func BenchmarkPSK(b *testing.B) {
	for _, n := range benchSizes {
		payload := make([]byte, n)
		for _, s := range Suites() {
			key := testSuiteKey(b, "bench", s, 3)
			ks := testKeySet(b, key)
			b.Run(fmt.Sprintf("%dKiB/%s", n>>10, s), func(b *testing.B) {
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
}

// BenchmarkRawGCM is the baseline: two seals and two opens of the same
// sizes with a fixed key and nonce, AES-256-GCM beside SM4-GCM, through the
// same constructor the envelope uses.
func BenchmarkRawGCM(b *testing.B) {
	nonce := make([]byte, NonceSize)
	for _, n := range benchSizes {
		payload := make([]byte, n)
		for _, s := range []Suite{SuiteAES256GCM, SuiteSM4GCM} {
			a, err := newAEAD(s, make([]byte, s.KeySize()))
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%dKiB/%s", n>>10, s), func(b *testing.B) {
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
}
