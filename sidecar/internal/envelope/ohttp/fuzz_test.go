package ohttp

import (
	"bytes"
	"testing"
)

func FuzzParsePublicKeyConfig(f *testing.F) {
	a := loadAppendixA(f)
	good := unhex(f, a.KeyConfig)
	f.Add(good)
	f.Add(append([]byte{0, byte(len(good))}, good...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParsePublicKeyConfig(b); err == nil {
			again, err := c.MarshalBinary()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encode differs: %x (%v)", again, err)
			}
		}
		if cfgs, err := ParseKeyList(b); err == nil {
			for _, c := range cfgs {
				if _, err := c.MarshalBinary(); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func FuzzDecapsulateRequest(f *testing.F) {
	a := loadAppendixA(f)
	_, g := appendixAGateway(f, a)
	good := unhex(f, a.EncapsulatedRequest)
	f.Add(good)
	f.Add(good[:7])
	f.Fuzz(func(t *testing.T, b []byte) {
		req, rctx, err := g.DecapsulateRequest(b)
		if err != nil {
			return
		}
		// Forgery check: only the genuine request, or one under a fresh
		// ephemeral key that the fuzzer cannot produce, may open.
		if !bytes.Equal(b, good) || !bytes.Equal(req, unhex(t, a.BHTTPRequest)) {
			t.Fatalf("forged request opened: %x", b)
		}
		if _, err := rctx.EncapsulateResponse(nil, req); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecapsulateResponse(f *testing.F) {
	a := loadAppendixA(f)
	pub, err := ParsePublicKeyConfig(unhex(f, a.KeyConfig))
	if err != nil {
		f.Fatal(err)
	}
	_, cctx, err := encapsulateRequest(pub, SymmetricSuite{KDFHKDFSHA256, AEADAES128GCM}, unhex(f, a.BHTTPRequest), fixedSender(unhex(f, a.ClientSkE)))
	if err != nil {
		f.Fatal(err)
	}
	good := unhex(f, a.EncapsulatedResponse)
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := cctx.DecapsulateResponse(b); err == nil && !bytes.Equal(b, good) {
			t.Fatalf("forged response opened: %x", b)
		}
	})
}

func FuzzParseKeyConfigsPEM(f *testing.F) {
	kc, err := NewKeyConfig(1, KEMX25519HKDFSHA256, unhex(f, loadAppendixA(f).GatewaySkR))
	if err != nil {
		f.Fatal(err)
	}
	p, err := kc.MarshalPEM()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseKeyConfigsPEM(b)
	})
}
