package legacycbc

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/core/testkit"
)

// macVector is testdata/legacy_mac_vector.json, computed with openssl and
// Python's hmac/hashlib, independently of this package.
type macVector struct {
	Key, Algorithm, IV, Plaintext, Ciphertext string
	MACInfo                                   string `json:"mac_info"`
	KMAC                                      string `json:"k_mac"`
	MAC                                       string
	RequestBody                               string `json:"request_body"`
	ResponseIV                                string `json:"response_iv"`
	ResponsePlaintext                         string `json:"response_plaintext"`
	ResponseCiphertext                        string `json:"response_ciphertext"`
	ResponseMAC                               string `json:"response_mac"`
	ResponseBody                              string `json:"response_body"`
}

func loadMACVector(t *testing.T) macVector {
	t.Helper()
	v := testkit.Vector[macVector](t, "../testdata/legacy_mac_vector.json")
	return v
}

// TestMACVector checks k_mac, the request MAC, the request body, and the
// response body (sealed with the vector's IV) against the vector.
func TestMACVector(t *testing.T) {
	v := loadMACVector(t)
	if v.MACInfo != MACInfo {
		t.Fatalf("info %q, want %q", v.MACInfo, MACInfo)
	}
	key, err := NewKey(unhex(t, v.Key))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(key.mac[:]); got != v.KMAC {
		t.Fatalf("k_mac %s, want %s", got, v.KMAC)
	}
	body, err := SealRequestMAC(bytes.NewReader(unhex(t, v.IV)), key, unhex(t, v.Plaintext))
	if err != nil || string(body) != v.RequestBody {
		t.Fatalf("request body %s (%v), want %s", body, err, v.RequestBody)
	}
	if !checkMAC(key, v.Algorithm, unhex(t, v.IV), unhex(t, v.Ciphertext), unhex(t, v.MAC)) {
		t.Fatal("vector MAC does not verify")
	}
	o := OpenAll([]Key{key.WithMACRequired()}, []byte(v.RequestBody))
	if !o.OK() || !bytes.Equal(o.Plaintext(), unhex(t, v.Plaintext)) {
		t.Fatalf("open: ok=%v cause=%q", o.OK(), o.Cause())
	}
	resp, err := o.Seal(bytes.NewReader(unhex(t, v.ResponseIV)), unhex(t, v.ResponsePlaintext))
	if err != nil || string(resp) != v.ResponseBody {
		t.Fatalf("response body %s (%v), want %s", resp, err, v.ResponseBody)
	}
	pt, err := OpenResponseTo(key, body, resp)
	if err != nil || !bytes.Equal(pt, unhex(t, v.ResponsePlaintext)) {
		t.Fatalf("OpenResponseTo: %q %v", pt, err)
	}
}

// TestMACVectorMatchesSpec keeps the example printed in PROTOCOL.md
// identical to the vector.
func TestMACVectorMatchesSpec(t *testing.T) {
	v := loadMACVector(t)
	spec, err := os.ReadFile("../../../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(spec)
	begin, end := "<!-- legacy-mac-vector:begin -->", "<!-- legacy-mac-vector:end -->"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("markers %s not found in PROTOCOL.md", begin)
	}
	got := map[string]string{}
	last := ""
	for _, raw := range strings.Split(s[i+len(begin):j], "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "```") {
			continue
		}
		if strings.HasPrefix(raw, " ") { // continuation of a long value
			got[last] += line
			continue
		}
		name, val, _ := strings.Cut(line, "=")
		last = strings.TrimSpace(name)
		got[last] = strings.TrimSpace(val)
	}
	for k, w := range map[string]string{
		"key": v.Key, "algorithm": `"` + v.Algorithm + `"`, "iv": v.IV, "plaintext": v.Plaintext,
		"ciphertext": v.Ciphertext, "info": `"` + v.MACInfo + `"`, "k_mac": v.KMAC, "mac": v.MAC,
		"request_body": v.RequestBody, "response_iv": v.ResponseIV, "response_plaintext": v.ResponsePlaintext,
		"response_ciphertext": v.ResponseCiphertext, "response_mac": v.ResponseMAC, "response_body": v.ResponseBody,
	} {
		if got[k] != w {
			t.Errorf("PROTOCOL.md %s = %q, want %q", k, got[k], w)
		}
	}
}

// TestOpenAll checks the outcome of every kind of request against keys of
// both algorithms and MAC policies, and that the forwarded bytes never
// reveal the padding: a bad-padding request forwards the whole decrypted
// buffer, of the ciphertext's length.
func TestOpenAll(t *testing.T) {
	aesKey, _ := NewKey(bytes.Repeat([]byte{1}, 32))
	macKey, _ := NewKey(bytes.Repeat([]byte{2}, 32))
	macKey = macKey.WithMACRequired()
	sm4Key, err := NewAlgorithmKey(AlgorithmSM4, bytes.Repeat([]byte{3}, 16))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKey(bytes.Repeat([]byte{9}, 32))
	all := []Key{aesKey, macKey, sm4Key}
	img := []byte("an image of some length")

	seal := func(k Key, mac bool) []byte {
		var b []byte
		var err error
		if mac {
			b, err = SealRequestMAC(nil, k, img)
		} else {
			b, err = SealRequest(nil, k, img)
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tamper := func(body []byte, f func(iv, ct []byte)) []byte {
		var r requestJSON
		_ = json.Unmarshal(body, &r)
		raw, _ := base64.StdEncoding.DecodeString(r.Data)
		f(raw[:16], raw[16:])
		r.Data = base64.StdEncoding.EncodeToString(raw)
		b, _ := json.Marshal(r)
		return b
	}
	// A fixed IV: under aesKey this decrypts to invalid padding (a random
	// IV would give valid padding once in about 256 runs).
	wrongKey, err := SealRequest(bytes.NewReader(make([]byte, 16)), other, img)
	if err != nil {
		t.Fatal(err)
	}
	// The same for the MAC-required key's request without a MAC, which
	// aesKey is tried on first: a random IV made this case flaky.
	macNoMAC, err := SealRequest(bytes.NewReader(make([]byte, 16)), macKey, img)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		keys    []Key
		body    []byte
		ok      bool
		cause   string
		sealKey *Key // nil: cannot seal
		fwdLen  int  // -1: the image
	}{
		{"aes", all, seal(aesKey, false), true, CauseNone, &aesKey, -1},
		{"aes with mac", all, seal(aesKey, true), true, CauseNone, &aesKey, -1},
		{"mac-required key with mac", all, seal(macKey, true), true, CauseNone, &macKey, -1},
		{"mac-required key without mac: aesKey decrypts garbage", all, macNoMAC, false, CauseUnopened, &aesKey, 32},
		{"mac-required key without mac, alone", []Key{macKey}, seal(macKey, false), false, CauseUnauthenticated, nil, 32},
		{"wrong mac", all, tamper(seal(aesKey, true), func(iv, _ []byte) { iv[0] ^= 1 }), false, CauseUnauthenticated, nil, 32},
		{"sm4", all, seal(sm4Key, false), true, CauseNone, &sm4Key, -1},
		{"sm4 with mac", all, seal(sm4Key, true), true, CauseNone, &sm4Key, -1},
		{"wrong key", []Key{aesKey}, wrongKey, false, CauseUnopened, &aesKey, 32},
		// The pad byte 0x09 becomes 0x89.
		{"bad padding", []Key{aesKey}, tamper(seal(aesKey, false), func(_, ct []byte) { ct[len(ct)-17] ^= 0x80 }), false, CauseUnopened, &aesKey, 32},
		{"not json", all, []byte("{"), false, CauseMalformed, nil, 16},
		{"unknown algorithm", all, bytes.Replace(seal(aesKey, false), []byte(Algorithm), []byte("AES-128-CBC"), 1), false, CauseMalformed, nil, 32},
		{"mac not 32 bytes", all, bytes.Replace(seal(aesKey, false), []byte(`"algorithm"`), []byte(`"mac":"AAAA","algorithm"`), 1), false, CauseMalformed, nil, 32},
		{"no keys", nil, seal(aesKey, false), false, CauseUnauthenticated, nil, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := OpenAll(tc.keys, tc.body)
			if o.OK() != tc.ok || o.Cause() != tc.cause || o.CanSeal() != (tc.sealKey != nil) {
				t.Fatalf("ok=%v cause=%q canSeal=%v", o.OK(), o.Cause(), o.CanSeal())
			}
			if tc.fwdLen < 0 {
				if !bytes.Equal(o.Plaintext(), img) {
					t.Fatalf("plaintext %q", o.Plaintext())
				}
			} else if len(o.Plaintext()) != tc.fwdLen {
				t.Fatalf("forwards %d bytes, want %d", len(o.Plaintext()), tc.fwdLen)
			}
			if tc.sealKey == nil {
				if _, err := o.Seal(nil, []byte("x")); !errors.Is(err, ErrOpen) {
					t.Fatalf("seal without a key: %v", err)
				}
				return
			}
			resp, err := o.Seal(nil, []byte(`{"text":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := OpenResponseTo(*tc.sealKey, tc.body, resp); err != nil || string(pt) != `{"text":"x"}` {
				t.Fatalf("response under the chosen key: %q %v", pt, err)
			}
		})
	}
}

// TestOpenMACRequired: Open with a MAC-required key refuses a request
// without a MAC and accepts one with it.
func TestOpenMACRequired(t *testing.T) {
	k, _ := NewKey(bytes.Repeat([]byte{5}, 32))
	req := k.WithMACRequired()
	plain, _ := SealRequest(nil, k, []byte("img"))
	macd, _ := SealRequestMAC(nil, k, []byte("img"))
	if _, err := Open(req, plain); err != ErrOpen {
		t.Fatalf("no MAC: %v", err)
	}
	if got, err := Open(req, macd); err != nil || string(got) != "img" {
		t.Fatalf("with MAC: %q %v", got, err)
	}
	if got, err := Open(k, macd); err != nil || string(got) != "img" {
		t.Fatalf("optional key with MAC: %q %v", got, err)
	}
}
