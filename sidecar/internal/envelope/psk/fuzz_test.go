package psk

import (
	"bytes"
	"testing"
	"time"
)

func FuzzOpenRequest(f *testing.F) {
	v := loadVector(f)
	key, err := NewKey(v.KeyID, unhex(f, v.Key))
	if err != nil {
		f.Fatal(err)
	}
	ks := testKeySet(f, key)
	now := time.Unix(v.Time, 0)
	body := unhex(f, v.RequestBody)
	f.Add(body)
	f.Add(body[:minRequestSize])
	f.Add([]byte("SP\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := OpenRequest(ks, v.Method, v.Target, b, now, 0, NewMemoryReplayCache(4, nil))
		if err != nil {
			return
		}
		// Only the genuine body can authenticate.
		if !bytes.Equal(b, body) || !bytes.Equal(req.Plaintext(), unhex(t, v.Plaintext)) {
			t.Fatalf("forged body opened: %x", b)
		}
	})
}

func FuzzOpenResponse(f *testing.F) {
	v := loadVector(f)
	key, err := NewKey(v.KeyID, unhex(f, v.Key))
	if err != nil {
		f.Fatal(err)
	}
	rnd := bytes.NewReader(append(unhex(f, v.Salt), unhex(f, v.Nonce)...))
	_, opener, err := SealRequest(rnd, key, v.Method, v.Target, v.ContentType, time.Unix(v.Time, 0), unhex(f, v.Plaintext))
	if err != nil {
		f.Fatal(err)
	}
	resp := unhex(f, v.ResponseBody)
	f.Add(resp)
	f.Add(resp[:minResponseSize])
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, pt, err := opener.Open(b)
		if err != nil {
			return
		}
		if !bytes.Equal(b, resp) || !bytes.Equal(pt, unhex(t, v.ResponsePlaintext)) {
			t.Fatalf("forged response opened: %x", b)
		}
	})
}
