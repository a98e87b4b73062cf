package ohttp

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha3"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/core/testkit"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// appendixA is testdata/ohttp_rfc9458_appendixA.json.
type appendixA struct {
	GatewaySkR           string `json:"gateway_skR"`
	KeyConfig            string `json:"key_config"`
	BHTTPRequest         string `json:"bhttp_request"`
	ClientSkE            string `json:"client_skE"`
	ClientPkE            string `json:"client_pkE_enc"`
	HPKEInfo             string `json:"hpke_info"`
	EncapsulatedRequest  string `json:"encapsulated_request"`
	BHTTPResponse        string `json:"bhttp_response"`
	ResponseExportSecret string `json:"response_export_secret"`
	ResponseSalt         string `json:"response_salt"`
	ResponseAEADKey      string `json:"response_aead_key"`
	ResponseAEADNonce    string `json:"response_aead_nonce"`
	EncapsulatedResponse string `json:"encapsulated_response"`
}

func loadAppendixA(tb testing.TB) appendixA {
	tb.Helper()
	a := testkit.Vector[appendixA](tb, "../testdata/ohttp_rfc9458_appendixA.json")
	return a
}

// appendixAGateway builds the gateway of RFC 9458 Appendix A.
func appendixAGateway(tb testing.TB, a appendixA) (*KeyConfig, *Gateway) {
	tb.Helper()
	kc, err := NewKeyConfig(1, KEMX25519HKDFSHA256, unhex(tb, a.GatewaySkR),
		SymmetricSuite{KDFHKDFSHA256, AEADAES128GCM}, SymmetricSuite{KDFHKDFSHA256, AEADChaCha20Poly1305})
	if err != nil {
		tb.Fatal(err)
	}
	g, err := NewGateway(kc)
	if err != nil {
		tb.Fatal(err)
	}
	return kc, g
}

// TestRFC9458AppendixA reproduces the complete example byte for byte: the
// key configuration, the encapsulated request (client side, with the
// example's ephemeral key), its decapsulation by the gateway (crypto/hpke),
// the encapsulated response (with the example's response nonce) and its
// decapsulation by the client.
func TestRFC9458AppendixA(t *testing.T) {
	a := loadAppendixA(t)
	kc, g := appendixAGateway(t, a)

	cfgBytes, err := kc.PublicConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(cfgBytes); got != a.KeyConfig {
		t.Fatalf("key config:\n got %s\nwant %s", got, a.KeyConfig)
	}
	pub, err := ParsePublicKeyConfig(unhex(t, a.KeyConfig))
	if err != nil {
		t.Fatal(err)
	}
	if got := requestInfo(header(1, KEMX25519HKDFSHA256, SymmetricSuite{KDFHKDFSHA256, AEADAES128GCM})); hex.EncodeToString(got) != a.HPKEInfo {
		t.Fatalf("hpke info %x", got)
	}

	suite := SymmetricSuite{KDFHKDFSHA256, AEADAES128GCM}
	encReq, cctx, err := encapsulateRequest(pub, suite, unhex(t, a.BHTTPRequest), fixedSender(unhex(t, a.ClientSkE)))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(encReq); got != a.EncapsulatedRequest {
		t.Fatalf("encapsulated request:\n got %s\nwant %s", got, a.EncapsulatedRequest)
	}
	if hex.EncodeToString(cctx.secret) != a.ResponseExportSecret {
		t.Fatalf("client export secret %x", cctx.secret)
	}

	req, rctx, err := g.DecapsulateRequest(unhex(t, a.EncapsulatedRequest))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(req); got != a.BHTTPRequest {
		t.Fatalf("decapsulated request %s", got)
	}
	if hex.EncodeToString(rctx.secret) != a.ResponseExportSecret {
		t.Fatalf("gateway export secret %x", rctx.secret)
	}

	salt := unhex(t, a.ResponseSalt)
	responseNonce := salt[len(salt)-16:]
	encResp, err := rctx.EncapsulateResponse(bytes.NewReader(responseNonce), unhex(t, a.BHTTPResponse))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(encResp); got != a.EncapsulatedResponse {
		t.Fatalf("encapsulated response:\n got %s\nwant %s", got, a.EncapsulatedResponse)
	}
	resp, err := cctx.DecapsulateResponse(encResp)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(resp) != a.BHTTPResponse {
		t.Fatalf("decapsulated response %x", resp)
	}
}

func TestRoundTripAllSuites(t *testing.T) {
	for _, kem := range []KEM{KEMX25519HKDFSHA256, KEMMLKEM768X25519} {
		kc, err := GenerateKeyConfig(7, kem)
		if err != nil {
			t.Fatal(err)
		}
		g, err := NewGateway(kc)
		if err != nil {
			t.Fatal(err)
		}
		list, err := g.KeyList()
		if err != nil {
			t.Fatal(err)
		}
		cfgs, err := ParseKeyList(list)
		if err != nil || len(cfgs) != 1 {
			t.Fatalf("key list: %v", err)
		}
		for _, s := range cfgs[0].Suites() {
			t.Run(fmt.Sprintf("kem%04x/aead%d", uint16(kem), s.AEAD), func(t *testing.T) {
				msg := []byte("binary http request")
				enc, cctx, err := EncapsulateRequest(cfgs[0], s, msg)
				if err != nil {
					t.Fatal(err)
				}
				got, rctx, err := g.DecapsulateRequest(enc)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("decapsulate: %v", err)
				}
				encResp, err := rctx.EncapsulateResponse(nil, []byte("response"))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := cctx.DecapsulateResponse(encResp)
				if err != nil || string(resp) != "response" {
					t.Fatalf("response: %v", err)
				}
				encResp[len(encResp)-1] ^= 1
				if _, err := cctx.DecapsulateResponse(encResp); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("tampered response: %v", err)
				}
			})
		}
	}
}

func TestGatewayRotation(t *testing.T) {
	oldKC, _ := GenerateKeyConfig(1, KEMX25519HKDFSHA256)
	newKC, _ := GenerateKeyConfig(2, KEMMLKEM768X25519, SymmetricSuite{KDFHKDFSHA256, AEADAES256GCM})
	sameID, _ := GenerateKeyConfig(2, KEMX25519HKDFSHA256)
	g, err := NewGateway(oldKC, newKC, sameID)
	if err != nil {
		t.Fatal(err)
	}
	for _, kc := range []*KeyConfig{oldKC, newKC, sameID} {
		s := kc.PublicConfig().Suites()[0]
		enc, _, err := EncapsulateRequest(kc.PublicConfig(), s, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := g.DecapsulateRequest(enc); err != nil || string(got) != "x" {
			t.Fatalf("%v: %v", kc, err)
		}
	}
	if _, err := NewGateway(oldKC, oldKC); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := NewGateway(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty: %v", err)
	}
}

func TestDecapsulateRequestErrors(t *testing.T) {
	a := loadAppendixA(t)
	_, g := appendixAGateway(t, a)
	good := unhex(t, a.EncapsulatedRequest)
	mod := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"header only", good[:7], ErrMalformed},
		{"short ciphertext", good[:7+32+15], ErrMalformed},
		{"unknown key ID", mod(0, 2), ErrUnknownKey},
		{"unknown KEM", mod(2, 0x21), ErrUnknownKey},
		{"unsupported KDF", mod(4, 2), ErrUnsupported},
		{"suite not offered", mod(6, 2), ErrUnsupported},
		{"offered suite, wrong AEAD for ciphertext", mod(6, 3), ErrDecrypt},
		{"enc changed", mod(7, good[7]^1), ErrDecrypt},
		{"low-order enc", append(append(bytes.Clone(good[:7]), make([]byte, 32)...), good[39:]...), ErrDecrypt},
		{"tag changed", mod(len(good)-1, good[len(good)-1]^1), ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := g.DecapsulateRequest(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestKeyConfigParsing(t *testing.T) {
	a := loadAppendixA(t)
	good := unhex(t, a.KeyConfig)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"unsupported KEM", append([]byte{1, 0, 0x21}, good[3:]...), ErrUnsupported},
		{"short key", good[:20], ErrMalformed},
		{"zero suites", append(bytes.Clone(good[:35]), 0, 0), ErrMalformed},
		{"suite length not multiple of 4", append(bytes.Clone(good[:35]), 0, 3, 0, 1, 0), ErrMalformed},
		{"truncated suites", good[:len(good)-1], ErrMalformed},
		{"trailing byte", append(bytes.Clone(good), 0), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParsePublicKeyConfig(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("key list skips unsupported KEM", func(t *testing.T) {
		other := append([]byte{9, 0, 0x21}, make([]byte, 56+2+4)...)
		var list []byte
		for _, c := range [][]byte{other, good} {
			list = append(list, byte(len(c)>>8), byte(len(c)))
			list = append(list, c...)
		}
		cfgs, err := ParseKeyList(list)
		if err != nil || len(cfgs) != 1 || cfgs[0].KeyID() != 1 {
			t.Fatalf("got %d configs, %v", len(cfgs), err)
		}
		if _, err := ParseKeyList(list[:len(list)-1]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated list: %v", err)
		}
	})
}

func TestPEM(t *testing.T) {
	x, _ := GenerateKeyConfig(1, KEMX25519HKDFSHA256)
	h, _ := GenerateKeyConfig(2, KEMMLKEM768X25519, SymmetricSuite{KDFHKDFSHA256, AEADChaCha20Poly1305})
	var file []byte
	for _, kc := range []*KeyConfig{x, h} {
		b, err := kc.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		file = append(file, b...)
	}
	got, err := ParseKeyConfigsPEM(file)
	if err != nil || len(got) != 2 {
		t.Fatalf("parse: %v", err)
	}
	for i, kc := range []*KeyConfig{x, h} {
		a, _ := kc.PublicConfig().MarshalBinary()
		b, _ := got[i].PublicConfig().MarshalBinary()
		if !bytes.Equal(a, b) {
			t.Fatalf("config %d differs", i)
		}
		enc, _, err := EncapsulateRequest(kc.PublicConfig(), kc.PublicConfig().Suites()[0], []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		g, _ := NewGateway(got[i])
		if _, _, err := g.DecapsulateRequest(enc); err != nil {
			t.Fatalf("reloaded key cannot decapsulate: %v", err)
		}
	}
	mismatch := func() []byte {
		// A PEM block whose private key belongs to another public key.
		other, _ := GenerateKeyConfig(1, KEMX25519HKDFSHA256)
		cfg, _ := x.PublicConfig().MarshalBinary()
		sk, _ := other.priv.Bytes()
		b := append([]byte{1, byte(len(cfg) >> 8), byte(len(cfg))}, cfg...)
		b = append(b, 0, byte(len(sk)))
		b = append(b, sk...)
		return []byte("-----BEGIN " + PEMType + "-----\n" + wrap64(b) + "-----END " + PEMType + "-----\n")
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"other block type", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), ErrMalformed},
		{"garbage after block", append(bytes.Clone(file), "junk"...), ErrMalformed},
		{"mismatched private key", mismatch(), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseKeyConfigsPEM(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("not printed", func(t *testing.T) {
		sk, _ := x.priv.Bytes()
		for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%s"} {
			out := fmt.Sprintf(verb, x)
			if strings.Contains(out, hex.EncodeToString(sk)) || strings.Contains(out, fmt.Sprint(sk[:4])) {
				t.Errorf("%s leaks: %s", verb, out)
			}
		}
	})
}

// wrap64 base64-encodes b with 64-column lines.
func wrap64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 64 {
		out.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	return out.String() + s + "\n"
}

// hpkeVector is one RFC 9180 test vector (full or accumulated form).
type hpkeVector struct {
	Mode        int    `json:"mode"`
	KEM         uint16 `json:"kem_id"`
	KDF         uint16 `json:"kdf_id"`
	AEAD        uint16 `json:"aead_id"`
	Info        string `json:"info"`
	IkmE        string `json:"ikmE"`
	SkEm        string `json:"skEm"`
	SkRm        string `json:"skRm"`
	PkRm        string `json:"pkRm"`
	Enc         string `json:"enc"`
	Encryptions []struct {
		AAD string `json:"aad"`
		CT  string `json:"ct"`
		PT  string `json:"pt"`
	} `json:"encryptions"`
	Exports []struct {
		Context string `json:"exporter_context"`
		L       int    `json:"L"`
		Value   string `json:"exported_value"`
	} `json:"exports"`
	AccEncryptions string `json:"encryptions_accumulated"`
	AccExports     string `json:"exports_accumulated"`
}

func loadHPKE(tb testing.TB, name string) []hpkeVector {
	tb.Helper()
	v := testkit.Vector[[]hpkeVector](tb, "../testdata/"+name)
	return v
}

// usedSuite reports whether a vector uses a suite this package supports.
func usedSuite(v hpkeVector) bool {
	if v.Mode != 0 || v.KEM != uint16(KEMX25519HKDFSHA256) || v.KDF != uint16(KDFHKDFSHA256) {
		return false
	}
	_, err := aeadFor(AEAD(v.AEAD))
	return err == nil
}

// TestRFC9180Subset checks crypto/hpke (recipient) and the reference sender
// against the full RFC 9180 vectors of the suites used here.
func TestRFC9180Subset(t *testing.T) {
	n := 0
	for _, v := range loadHPKE(t, "hpke_rfc9180_x25519_sha256_aesgcm_subset.json") {
		if !usedSuite(v) {
			continue
		}
		n++
		t.Run(fmt.Sprintf("aead%d", v.AEAD), func(t *testing.T) {
			kem := hpke.DHKEM(ecdh.X25519())
			skR, err := kem.NewPrivateKey(unhex(t, v.SkRm))
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(skR.PublicKey().Bytes()) != v.PkRm {
				t.Fatal("pkRm")
			}
			aead, _ := hpke.NewAEAD(v.AEAD)
			info := unhex(t, v.Info)
			enc, sender, err := fixedSender(unhex(t, v.SkEm))(skR.PublicKey(), hpke.HKDFSHA256(), aead, info)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(enc) != v.Enc {
				t.Fatalf("enc %x", enc)
			}
			r, err := hpke.NewRecipient(unhex(t, v.Enc), skR, hpke.HKDFSHA256(), aead, info)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range v.Encryptions {
				ct, _ := sender.Seal(unhex(t, e.AAD), unhex(t, e.PT))
				if hex.EncodeToString(ct) != e.CT {
					t.Fatalf("reference seal %d", i)
				}
				pt, err := r.Open(unhex(t, e.AAD), unhex(t, e.CT))
				if err != nil || hex.EncodeToString(pt) != e.PT {
					t.Fatalf("crypto/hpke open %d: %v", i, err)
				}
			}
			for i, e := range v.Exports {
				got, err := r.Export(string(unhex(t, e.Context)), e.L)
				if err != nil || hex.EncodeToString(got) != e.Value {
					t.Fatalf("crypto/hpke export %d: %v", i, err)
				}
				ref, _ := sender.Export(string(unhex(t, e.Context)), e.L)
				if hex.EncodeToString(ref) != e.Value {
					t.Fatalf("reference export %d", i)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no vectors used")
	}
}

// TestRFC9180Accumulated runs the Go toolchain's accumulated RFC 9180
// vectors for the suites used here (X25519, HKDF-SHA256, all three AEADs):
// the reference sender seals 1000 pseudo-random messages, crypto/hpke opens
// them, and both digests must match.
func TestRFC9180Accumulated(t *testing.T) {
	n := 0
	for _, v := range loadHPKE(t, "hpke_rfc9180_go1.26_accumulated.json") {
		if !usedSuite(v) {
			continue
		}
		n++
		t.Run(fmt.Sprintf("aead%d", v.AEAD), func(t *testing.T) {
			kem := hpke.DHKEM(ecdh.X25519())
			ephemeral, err := kem.DeriveKeyPair(unhex(t, v.IkmE))
			if err != nil {
				t.Fatal(err)
			}
			skE, _ := ephemeral.Bytes()
			skR, err := kem.NewPrivateKey(unhex(t, v.SkRm))
			if err != nil {
				t.Fatal(err)
			}
			aead, _ := hpke.NewAEAD(v.AEAD)
			info := unhex(t, v.Info)
			enc, sender, err := fixedSender(skE)(skR.PublicKey(), hpke.HKDFSHA256(), aead, info)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(enc) != v.Enc {
				t.Fatalf("enc %x", enc)
			}
			r, err := hpke.NewRecipient(enc, skR, hpke.HKDFSHA256(), aead, info)
			if err != nil {
				t.Fatal(err)
			}
			source, sink := sha3.NewSHAKE128(), sha3.NewSHAKE128()
			draw := func() []byte {
				l := make([]byte, 1)
				source.Read(l)
				b := make([]byte, int(l[0]))
				source.Read(b)
				return b
			}
			for range 1000 {
				aad, pt := draw(), draw()
				ct, _ := sender.Seal(aad, pt)
				sink.Write(ct)
				got, err := r.Open(aad, ct)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("crypto/hpke open: %v", err)
				}
			}
			acc := make([]byte, 16)
			sink.Read(acc)
			if hex.EncodeToString(acc) != v.AccEncryptions {
				t.Fatalf("encryptions accumulated %x", acc)
			}
			source, sink = sha3.NewSHAKE128(), sha3.NewSHAKE128()
			for l := range 1000 {
				ctx := string(draw())
				got, err := r.Export(ctx, l)
				if err != nil {
					t.Fatal(err)
				}
				ref, _ := sender.Export(ctx, l)
				if !bytes.Equal(got, ref) {
					t.Fatalf("export %d differs", l)
				}
				sink.Write(got)
			}
			sink.Read(acc)
			if hex.EncodeToString(acc) != v.AccExports {
				t.Fatalf("exports accumulated %x", acc)
			}
		})
	}
	if n != 3 {
		t.Fatalf("%d vectors used, want 3", n)
	}
}
