package legacycbc

import (
	"bytes"
	"crypto/aes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/core/testkit"
)

// cbcCase is one Wycheproof aes_cbc_pkcs5 test with its key size.
type cbcCase struct {
	KeySize int
	TcID    int    `json:"tcId"`
	Comment string `json:"comment"`
	Key     string `json:"key"`
	IV      string `json:"iv"`
	Msg     string `json:"msg"`
	CT      string `json:"ct"`
	Result  string `json:"result"`
}

func loadCBC(tb testing.TB) []cbcCase {
	tb.Helper()
	file := testkit.Vector[struct {
		TestGroups []struct {
			KeySize int       `json:"keySize"`
			Tests   []cbcCase `json:"tests"`
		} `json:"testGroups"`
	}](tb, "../testdata/wycheproof_aes_cbc_pkcs5_test.json")
	var out []cbcCase
	for _, g := range file.TestGroups {
		for _, tc := range g.Tests {
			tc.KeySize = g.KeySize
			out = append(out, tc)
		}
	}
	return out
}

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// requestBody wraps iv ‖ ct in the legacy request JSON.
func requestBody(iv, ct []byte) []byte {
	b, _ := json.Marshal(requestJSON{Data: base64.StdEncoding.EncodeToString(append(bytes.Clone(iv), ct...)), Algorithm: Algorithm})
	return b
}

// TestWycheproofRaw runs every vector (128-, 192- and 256-bit keys) through
// the raw CBC layer.
func TestWycheproofRaw(t *testing.T) {
	counts := map[string]int{}
	for _, tc := range loadCBC(t) {
		t.Run(fmt.Sprintf("k%d/tc%d", tc.KeySize, tc.TcID), func(t *testing.T) {
			key, iv, msg, ct := unhex(t, tc.Key), unhex(t, tc.IV), unhex(t, tc.Msg), unhex(t, tc.CT)
			block, err := aes.NewCipher(key)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := decryptCBC(block, iv, ct)
			switch tc.Result {
			case "valid":
				if err != nil || !bytes.Equal(pt, msg) {
					t.Fatalf("%s: decrypt: %v", tc.Comment, err)
				}
				enc, err := encryptCBC(block, iv, msg)
				if err != nil || !bytes.Equal(enc, ct) {
					t.Fatalf("%s: encrypt mismatch (%v)", tc.Comment, err)
				}
			case "invalid":
				if err == nil {
					t.Fatalf("%s: invalid vector decrypted", tc.Comment)
				}
			default:
				t.Fatalf("unknown result %q", tc.Result)
			}
		})
		counts[fmt.Sprintf("%d/%s", tc.KeySize, tc.Result)]++
	}
	for _, ks := range []int{128, 192, 256} {
		if counts[fmt.Sprintf("%d/valid", ks)] == 0 || counts[fmt.Sprintf("%d/invalid", ks)] == 0 {
			t.Fatalf("key size %d not exercised: %v", ks, counts)
		}
	}
	t.Logf("vectors: %v", counts)
}

// TestWycheproofJSON runs the 256-bit vectors through Open.
func TestWycheproofJSON(t *testing.T) {
	for _, tc := range loadCBC(t) {
		if tc.KeySize != 256 {
			continue
		}
		t.Run(fmt.Sprintf("tc%d", tc.TcID), func(t *testing.T) {
			key, err := NewKey(unhex(t, tc.Key))
			if err != nil {
				t.Fatal(err)
			}
			pt, err := Open(key, requestBody(unhex(t, tc.IV), unhex(t, tc.CT)))
			if tc.Result == "valid" {
				if err != nil || !bytes.Equal(pt, unhex(t, tc.Msg)) {
					t.Fatalf("%s: %v", tc.Comment, err)
				}
				return
			}
			if err != ErrOpen {
				t.Fatalf("%s: got %v, want exactly ErrOpen", tc.Comment, err)
			}
		})
	}
}

func TestOpenFailuresAreOneError(t *testing.T) {
	key, _ := NewKey(bytes.Repeat([]byte{1}, KeySize))
	other, _ := NewKey(bytes.Repeat([]byte{2}, KeySize))
	good, err := SealRequest(nil, key, []byte("image bytes"))
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, aes.BlockSize)
	block, _ := aes.NewCipher(key.b[:])
	badPad, _ := encryptCBC(block, iv, nil)
	badPad[len(badPad)-1] ^= 0x40 // corrupts the last plaintext byte
	tests := []struct {
		name string
		key  Key
		body []byte
	}{
		{"empty body", key, nil},
		{"not json", key, []byte("data=abc")},
		{"json array", key, []byte(`[]`)},
		{"missing algorithm", key, []byte(`{"data":"AAAA"}`)},
		{"wrong algorithm", key, bytes.Replace(good, []byte(Algorithm), []byte("AES-128-CBC"), 1)},
		{"bad base64", key, []byte(`{"data":"!!!!","algorithm":"AES-256-CBC"}`)},
		{"iv only", key, requestBody(iv, nil)},
		{"not block aligned", key, requestBody(iv, make([]byte, 17))},
		{"bad padding", key, requestBody(iv, badPad)},
		{"wrong key", other, good},
		{"zero key", Key{}, good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(tt.key, tt.body); err != ErrOpen {
				t.Fatalf("got %v, want exactly ErrOpen", err)
			}
		})
	}
}

// TestUnpadLen checks the constant-time padding check against a simple
// reference on every padding value and corruption position.
func TestUnpadLen(t *testing.T) {
	ref := func(b []byte) (int, bool) {
		p := int(b[15])
		if p < 1 || p > 16 {
			return 0, false
		}
		for _, c := range b[16-p:] {
			if int(c) != p {
				return 0, false
			}
		}
		return p, true
	}
	for v := 0; v < 256; v++ {
		for corrupt := -1; corrupt < 16; corrupt++ {
			b := bytes.Repeat([]byte{byte(v)}, 16)
			if corrupt >= 0 {
				b[corrupt] ^= 0x80
			}
			n, ok := unpadLen(b)
			wn, wok := ref(b)
			if (ok == 1) != wok || (wok && n != wn) {
				t.Fatalf("v=%d corrupt=%d: got (%d,%d), want (%d,%v)", v, corrupt, n, ok, wn, wok)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	key, _ := NewKey(bytes.Repeat([]byte{9}, KeySize))
	for _, n := range []int{0, 1, 15, 16, 17, 4096} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			msg := bytes.Repeat([]byte{'x'}, n)
			body, err := SealRequest(nil, key, msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Open(key, body)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("request: %v", err)
			}
			resp, err := Seal(nil, key, msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(resp, []byte(`"status":"success"`)) {
				t.Fatalf("response body %s", resp)
			}
			got, err = OpenResponse(key, resp)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("response: %v", err)
			}
			again, _ := Seal(nil, key, msg)
			if bytes.Equal(again, resp) {
				t.Fatal("IV reused")
			}
		})
	}
}

func TestKey(t *testing.T) {
	if _, err := NewKey(make([]byte, 31)); err == nil {
		t.Error("short key accepted")
	}
	if _, err := NewKey(make([]byte, 32)); err == nil {
		t.Error("zero key accepted")
	}
	k, err := NewKey(bytes.Repeat([]byte{0xcd}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%s", "%d"} {
		if out := fmt.Sprintf(verb, k); strings.Contains(strings.ToLower(out), "cdcd") || strings.Contains(out, "205") {
			t.Errorf("%s leaks: %s", verb, out)
		}
	}
	if !k.Equal(k) || k.Equal(Key{}) {
		t.Error("Equal")
	}
	if _, err := Seal(nil, Key{}, nil); err == nil {
		t.Error("zero Key sealed")
	}
}

func FuzzOpen(f *testing.F) {
	key, err := NewKey(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	for _, tc := range loadCBC(f) {
		if tc.KeySize == 256 {
			f.Add(requestBody(unhex(f, tc.IV), unhex(f, tc.CT)))
		}
	}
	good, _ := SealRequest(nil, key, []byte("seed"))
	f.Add(good)
	macd, _ := SealRequestMAC(nil, key, []byte("seed"))
	f.Add(macd)
	sm4Key, err := NewAlgorithmKey(AlgorithmSM4, bytes.Repeat([]byte{2}, 16))
	if err != nil {
		f.Fatal(err)
	}
	sm4Req, _ := SealRequestMAC(nil, sm4Key, []byte("seed"))
	f.Add(sm4Req)
	keys := []Key{key.WithMACRequired(), sm4Key, key}
	f.Fuzz(func(t *testing.T, body []byte) {
		// OpenAll always yields bytes to forward, and OK only with a key
		// that can seal the answer.
		o := OpenAll(keys, body)
		if o.Plaintext() == nil || (o.OK() && !o.CanSeal()) || o.OK() != (o.Cause() == CauseNone) {
			t.Fatalf("ok=%v canSeal=%v cause=%q plaintext nil=%v", o.OK(), o.CanSeal(), o.Cause(), o.Plaintext() == nil)
		}
		if _, err := Open(key, body); err != nil && err != ErrOpen {
			t.Fatalf("error other than ErrOpen: %v", err)
		}
		if _, err := OpenResponse(key, body); err != nil && err != ErrOpen {
			t.Fatalf("error other than ErrOpen: %v", err)
		}
	})
}
