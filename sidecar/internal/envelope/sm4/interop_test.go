package sm4

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
)

// The interop tests run real outside implementations: Debian's OpenSSL 3
// (default provider: SM4-CBC, SM4-CTR) and sm-crypto from npm (pinned in
// sidecar/e2e/interop/package.json, installed by .ci/testdeps.sh). They fail
// when a tool is missing.

// needTool returns the path of name, failing the test without it.
func needTool(t *testing.T, name string) string {
	t.Helper()
	pkg := map[string]string{"node": "npm"}[name]
	if pkg == "" {
		pkg = name
	}
	return testkit.NeedTool(t, name, "apt-get install -y "+pkg)
}

// run executes a tool with stdin and returns stdout; a failure is fatal.
func run(t *testing.T, dir string, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// pad and unpad apply PKCS#7 for the CBC cross-checks (OpenSSL and
// sm-crypto pad by default, as the legacy JSON format does).
func pad(b []byte) []byte {
	n := BlockSize - len(b)%BlockSize
	return append(bytes.Clone(b), bytes.Repeat([]byte{byte(n)}, n)...)
}

func unpad(t *testing.T, b []byte) []byte {
	t.Helper()
	if len(b) == 0 || len(b)%BlockSize != 0 {
		t.Fatalf("length %d", len(b))
	}
	n := int(b[len(b)-1])
	if n < 1 || n > BlockSize || !bytes.Equal(b[len(b)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		t.Fatalf("bad padding %x", b[len(b)-BlockSize:])
	}
	return b[:len(b)-n]
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

var cbcLengths = []int{0, 1, 15, 16, 17, 31, 32, 100, 1000, 4096 + 3}

// TestCBCOpenSSL encrypts with this package and decrypts with
// `openssl enc -d -sm4-cbc`, and the other way round.
func TestCBCOpenSSL(t *testing.T) {
	openssl := needTool(t, "openssl")
	for _, n := range cbcLengths {
		t.Run(fmt.Sprintf("%dB", n), func(t *testing.T) {
			key, iv, msg := random(t, KeySize), random(t, BlockSize), random(t, n)
			kh, ivh := hex.EncodeToString(key), hex.EncodeToString(iv)

			ct, err := EncryptCBC(key, iv, pad(msg))
			if err != nil {
				t.Fatal(err)
			}
			if got := run(t, "", ct, openssl, "enc", "-d", "-sm4-cbc", "-K", kh, "-iv", ivh); !bytes.Equal(got, msg) {
				t.Fatalf("openssl decrypted our ciphertext to %x", got)
			}

			theirs := run(t, "", msg, openssl, "enc", "-e", "-sm4-cbc", "-K", kh, "-iv", ivh)
			if !bytes.Equal(theirs, ct) {
				t.Fatalf("ciphertexts differ:\nopenssl %x\nours    %x", theirs, ct)
			}
			pt, err := DecryptCBC(key, iv, theirs)
			if err != nil || !bytes.Equal(unpad(t, pt), msg) {
				t.Fatalf("decrypting openssl's ciphertext: %v", err)
			}
		})
	}
}

// TestCBCSMCrypto does the same against sm-crypto, an independent
// JavaScript implementation of SM4 (sidecar/e2e/interop/sm4_cbc.mjs), in
// two node runs: one decrypting ours, one encrypting the same messages.
func TestCBCSMCrypto(t *testing.T) {
	node := needTool(t, "node")
	dir, err := filepath.Abs("../../../e2e/interop")
	if err != nil {
		t.Fatal(err)
	}
	testkit.NeedFile(t, filepath.Join(dir, "node_modules", "sm-crypto", "package.json"), "npm ci in sidecar/e2e/interop")
	type op struct {
		Op   string `json:"op"`
		Key  string `json:"key"`
		IV   string `json:"iv"`
		Data string `json:"data"`
	}
	type tc struct{ key, iv, msg, ct []byte }
	var cases []tc
	var decOps, encOps []op
	for _, n := range cbcLengths {
		c := tc{key: random(t, KeySize), iv: random(t, BlockSize), msg: random(t, n)}
		ct, err := EncryptCBC(c.key, c.iv, pad(c.msg))
		if err != nil {
			t.Fatal(err)
		}
		c.ct = ct
		cases = append(cases, c)
		kh, ivh := hex.EncodeToString(c.key), hex.EncodeToString(c.iv)
		decOps = append(decOps, op{"decrypt", kh, ivh, hex.EncodeToString(ct)})
		encOps = append(encOps, op{"encrypt", kh, ivh, hex.EncodeToString(c.msg)})
	}
	call := func(ops []op) []string {
		in, err := json.Marshal(ops)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		if err := json.Unmarshal(run(t, dir, in, node, "sm4_cbc.mjs"), &out); err != nil || len(out) != len(ops) {
			t.Fatalf("sm4_cbc.mjs output: %v (%d results)", err, len(out))
		}
		return out
	}
	decrypted, encrypted := call(decOps), call(encOps)
	for i, c := range cases {
		if decrypted[i] != hex.EncodeToString(c.msg) {
			t.Errorf("%dB: sm-crypto decrypted our ciphertext to %s", len(c.msg), decrypted[i])
		}
		theirs := unhex(t, encrypted[i])
		if !bytes.Equal(theirs, c.ct) {
			t.Errorf("%dB: ciphertexts differ:\nsm-crypto %x\nours      %x", len(c.msg), theirs, c.ct)
			continue
		}
		pt, err := DecryptCBC(c.key, c.iv, theirs)
		if err != nil || !bytes.Equal(unpad(t, pt), c.msg) {
			t.Errorf("%dB: decrypting sm-crypto's ciphertext: %v", len(c.msg), err)
		}
	}
}

// opensslCTR returns SM4-CTR(key, counter block, data) from
// `openssl enc -sm4-ctr`.
func opensslCTR(t *testing.T, openssl string, key, ctr, data []byte) []byte {
	t.Helper()
	return run(t, "", data, openssl, "enc", "-sm4-ctr", "-K", hex.EncodeToString(key), "-iv", hex.EncodeToString(ctr))
}

// referenceGCM computes SM4-GCM (NIST SP 800-38D, 96-bit nonce, 128-bit
// tag) from OpenSSL's SM4-CTR and the GHASH below, sharing no code with
// NewGCM or the gmsm library.
func referenceGCM(t *testing.T, openssl string, key, nonce, plaintext, aad []byte) []byte {
	t.Helper()
	zero := make([]byte, 16)
	h := opensslCTR(t, openssl, key, zero, zero) // E_K(0^128)
	j0 := append(bytes.Clone(nonce), 0, 0, 0, 1)
	ekj0 := opensslCTR(t, openssl, key, j0, zero)
	ctr := append(bytes.Clone(nonce), 0, 0, 0, 2) // inc32(J0); short inputs never carry out of the low 32 bits
	var ct []byte
	if len(plaintext) > 0 {
		ct = opensslCTR(t, openssl, key, ctr, plaintext)
	}
	tag := ghash(h, aad, ct)
	for i := range tag {
		tag[i] ^= ekj0[i]
	}
	return append(ct, tag...)
}

// ghash is GHASH_H(A, C) per SP 800-38D section 6.4, written bit by bit
// (Algorithm 1) for clarity, not speed.
func ghash(h, a, c []byte) []byte {
	var y [16]byte
	blocks := func(b []byte) {
		for len(b) > 0 {
			var x [16]byte
			n := copy(x[:], b)
			b = b[n:]
			for i := range y {
				y[i] ^= x[i]
			}
			y = gfMul(y, [16]byte(h))
		}
	}
	blocks(a)
	blocks(c)
	var l [16]byte
	binary.BigEndian.PutUint64(l[:8], uint64(len(a))*8)
	binary.BigEndian.PutUint64(l[8:], uint64(len(c))*8)
	blocks(l[:])
	return y[:]
}

// gfMul multiplies in GF(2^128) with the GCM bit order (SP 800-38D
// Algorithm 1): bit 0 is the most significant bit of byte 0.
func gfMul(x, y [16]byte) [16]byte {
	var z [16]byte
	v := y
	for i := 0; i < 128; i++ {
		if x[i/8]&(0x80>>(i%8)) != 0 {
			for j := range z {
				z[j] ^= v[j]
			}
		}
		lsb := v[15] & 1
		for j := 15; j > 0; j-- {
			v[j] = v[j]>>1 | v[j-1]<<7
		}
		v[0] >>= 1
		if lsb != 0 {
			v[0] ^= 0xe1 // R = 11100001 ‖ 0^120
		}
	}
	return z
}

// TestGCMOpenSSLReference checks the reference construction against the
// published vectors first (so that a bug in it cannot hide), then compares
// NewGCM with it on random keys, nonces, AAD and lengths.
func TestGCMOpenSSLReference(t *testing.T) {
	openssl := needTool(t, "openssl")
	for i, v := range loadVectors(t).GCM {
		t.Run(fmt.Sprintf("vector%d", i+1), func(t *testing.T) {
			got := referenceGCM(t, openssl, unhex(t, v.Key), unhex(t, v.Nonce), unhex(t, v.Plaintext), unhex(t, v.AAD))
			if want := v.Ciphertext + v.Tag; hex.EncodeToString(got) != want {
				t.Fatalf("%s: reference\n got %x\nwant %s", v.Source, got, want)
			}
		})
	}
	for _, tc := range []struct{ aad, pt int }{{0, 0}, {0, 1}, {13, 16}, {16, 17}, {20, 64}, {1, 1000}, {300, 4099}} {
		t.Run(fmt.Sprintf("random/aad%d-pt%d", tc.aad, tc.pt), func(t *testing.T) {
			key, nonce, aad, pt := random(t, KeySize), random(t, NonceSize), random(t, tc.aad), random(t, tc.pt)
			a, err := NewGCM(key)
			if err != nil {
				t.Fatal(err)
			}
			want := referenceGCM(t, openssl, key, nonce, pt, aad)
			if got := a.Seal(nil, nonce, pt, aad); !bytes.Equal(got, want) {
				t.Fatalf("NewGCM differs from OpenSSL SM4-CTR + GHASH:\n got %x\nwant %x", got, want)
			}
			if got, err := a.Open(nil, nonce, want, aad); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("open reference ciphertext: %v", err)
			}
		})
	}
}
