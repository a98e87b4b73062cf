package psk

import (
	"bytes"
	"testing"
	"time"
)

// fuzzCase is a keyring and the one body (with its plaintext) that may open
// under it.
type fuzzCase struct {
	ks        *KeySet
	body      []byte
	plaintext []byte
}

// fuzzCases returns the AES-256-GCM vector and the SM4 suite vectors, which
// share key ID, time, method and target, each with its own keyring.
func fuzzCases(tb testing.TB) (pskVector, []fuzzCase) {
	v := loadVector(tb)
	key, err := NewKey(v.KeyID, unhex(tb, v.Key))
	if err != nil {
		tb.Fatal(err)
	}
	cases := []fuzzCase{{testKeySet(tb, key), unhex(tb, v.RequestBody), unhex(tb, v.Plaintext)}}
	for _, sv := range loadSuiteVectors(tb) {
		cases = append(cases, fuzzCase{testKeySet(tb, sv.key(tb)), unhex(tb, sv.RequestBody), unhex(tb, sv.Plaintext)})
	}
	return v, cases
}

func FuzzOpenRequest(f *testing.F) {
	v, cases := fuzzCases(f)
	now := time.Unix(v.Time, 0)
	for _, c := range cases {
		f.Add(c.body)
		f.Add(c.body[:minRequestSize])
		f.Add(c.body[:minRequestSize+1])
		for _, s := range []byte{0, 1, 2, 3, 4, 0xff} { // every suite byte, known or not
			b := bytes.Clone(c.body)
			b[3] = s
			f.Add(b)
		}
	}
	f.Add([]byte("SP\x01"))
	f.Add([]byte("SP\x02"))
	f.Add([]byte("SP\x02\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range cases {
			req, err := OpenRequest(c.ks, v.Method, v.Target, b, now, 0, NewMemoryReplayCache(4, nil))
			if err != nil {
				continue
			}
			// Only the genuine body for this keyring can authenticate.
			if !bytes.Equal(b, c.body) || !bytes.Equal(req.Plaintext(), c.plaintext) {
				t.Fatalf("forged body opened: %x", b)
			}
		}
	})
}

func FuzzOpenResponse(f *testing.F) {
	type respCase struct {
		opener    *ResponseOpener
		body      []byte
		plaintext []byte
	}
	v := loadVector(f)
	key, err := NewKey(v.KeyID, unhex(f, v.Key))
	if err != nil {
		f.Fatal(err)
	}
	opener := func(k Key, pv pskVector) *ResponseOpener {
		rnd := bytes.NewReader(append(unhex(f, pv.Salt), unhex(f, pv.Nonce)...))
		_, o, err := SealRequest(rnd, k, pv.Method, pv.Target, pv.ContentType, time.Unix(pv.Time, 0), unhex(f, pv.Plaintext))
		if err != nil {
			f.Fatal(err)
		}
		return o
	}
	cases := []respCase{{opener(key, v), unhex(f, v.ResponseBody), unhex(f, v.ResponsePlaintext)}}
	for _, sv := range loadSuiteVectors(f) {
		cases = append(cases, respCase{opener(sv.key(f), sv.pskVector), unhex(f, sv.ResponseBody), unhex(f, sv.ResponsePlaintext)})
	}
	for _, c := range cases {
		f.Add(c.body)
		f.Add(c.body[:minResponseSize])
		for _, s := range []byte{0, 1, 2, 3, 4} {
			b := bytes.Clone(c.body)
			b[3] = s
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range cases {
			_, _, pt, err := c.opener.Open(b)
			if err != nil {
				continue
			}
			if !bytes.Equal(b, c.body) || !bytes.Equal(pt, c.plaintext) {
				t.Fatalf("forged response opened: %x", b)
			}
		}
	})
}
