package sm4

import (
	"bytes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/sealocr/sealocr/core/testkit"
)

// vectors is testdata/sm4_vectors.json.
type vectors struct {
	Block []struct {
		Source     string `json:"source"`
		Key        string `json:"key"`
		Plaintext  string `json:"plaintext"`
		Ciphertext string `json:"ciphertext"`
		Iterations int    `json:"iterations"`
	} `json:"block"`
	CBC []struct {
		Source     string `json:"source"`
		Key        string `json:"key"`
		IV         string `json:"iv"`
		Plaintext  string `json:"plaintext"`
		Ciphertext string `json:"ciphertext"`
	} `json:"cbc"`
	GCM []gcmVector `json:"gcm"`
}

type gcmVector struct {
	Source     string `json:"source"`
	Key        string `json:"key"`
	Nonce      string `json:"nonce"`
	AAD        string `json:"aad"`
	Plaintext  string `json:"plaintext"`
	Ciphertext string `json:"ciphertext"`
	Tag        string `json:"tag"`
}

func loadVectors(tb testing.TB) vectors {
	tb.Helper()
	v := testkit.Vector[vectors](tb, "../testdata/sm4_vectors.json")
	if len(v.Block) == 0 || len(v.CBC) == 0 || len(v.GCM) == 0 {
		tb.Fatal("vector file incomplete")
	}
	return v
}

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestBlockVectors checks GB/T 32907-2016 Appendix A. The 1,000,000-round
// example (encryption only) runs unless -short.
func TestBlockVectors(t *testing.T) {
	for i, v := range loadVectors(t).Block {
		t.Run(fmt.Sprintf("example%d", i+1), func(t *testing.T) {
			if v.Iterations > 1 {
				if testing.Short() {
					t.Skip("1,000,000 rounds; runs without -short")
				}
				t.Parallel() // seconds under -race: overlap it with the interop tests
			}
			b, err := NewCipher(unhex(t, v.Key))
			if err != nil {
				t.Fatal(err)
			}
			buf := unhex(t, v.Plaintext)
			for range v.Iterations {
				b.Encrypt(buf, buf)
			}
			if got := hex.EncodeToString(buf); got != v.Ciphertext {
				t.Fatalf("%s: encrypt got %s, want %s", v.Source, got, v.Ciphertext)
			}
			if v.Iterations > 1 {
				return // the decryption direction is covered by example 1, CBC and GCM
			}
			b.Decrypt(buf, buf)
			if got := hex.EncodeToString(buf); got != v.Plaintext {
				t.Fatalf("%s: decrypt got %s", v.Source, got)
			}
		})
	}
}

func TestCBCVectors(t *testing.T) {
	for i, v := range loadVectors(t).CBC {
		t.Run(fmt.Sprintf("example%d", i+1), func(t *testing.T) {
			key, iv := unhex(t, v.Key), unhex(t, v.IV)
			ct, err := EncryptCBC(key, iv, unhex(t, v.Plaintext))
			if err != nil || hex.EncodeToString(ct) != v.Ciphertext {
				t.Fatalf("%s: encrypt %x (%v)", v.Source, ct, err)
			}
			pt, err := DecryptCBC(key, iv, ct)
			if err != nil || hex.EncodeToString(pt) != v.Plaintext {
				t.Fatalf("%s: decrypt %x (%v)", v.Source, pt, err)
			}
		})
	}
}

// blockOnly hides the optional NewGCM method of the gmsm block, so that
// cipher.NewGCM takes the standard library's generic GCM code.
type blockOnly struct{ cipher.Block }

// TestGCMVectors checks RFC 8998 A.1 and GB/T 36624-2018 C.5, through
// NewGCM and through the standard library's generic GCM over the same block,
// and that any change to ciphertext, tag, nonce or AAD is refused.
func TestGCMVectors(t *testing.T) {
	for i, v := range loadVectors(t).GCM {
		key, nonce, aad := unhex(t, v.Key), unhex(t, v.Nonce), unhex(t, v.AAD)
		pt, want := unhex(t, v.Plaintext), append(unhex(t, v.Ciphertext), unhex(t, v.Tag)...)
		b, err := NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		generic, err := cipher.NewGCM(blockOnly{b})
		if err != nil {
			t.Fatal(err)
		}
		fast, err := NewGCM(key)
		if err != nil {
			t.Fatal(err)
		}
		for name, a := range map[string]cipher.AEAD{"NewGCM": fast, "generic": generic} {
			t.Run(fmt.Sprintf("vector%d/%s", i+1, name), func(t *testing.T) {
				if a.NonceSize() != NonceSize || a.Overhead() != TagSize {
					t.Fatalf("nonce %d overhead %d", a.NonceSize(), a.Overhead())
				}
				if got := a.Seal(nil, nonce, pt, aad); !bytes.Equal(got, want) {
					t.Fatalf("%s: seal\n got %x\nwant %x", v.Source, got, want)
				}
				got, err := a.Open(nil, nonce, want, aad)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("%s: open %x (%v)", v.Source, got, err)
				}
				for j := range want {
					bad := bytes.Clone(want)
					bad[j] ^= 0x80
					if _, err := a.Open(nil, nonce, bad, aad); err == nil {
						t.Fatalf("byte %d flipped: opened", j)
					}
				}
				badNonce := bytes.Clone(nonce)
				badNonce[0] ^= 1
				if _, err := a.Open(nil, badNonce, want, aad); err == nil {
					t.Fatal("other nonce: opened")
				}
				if _, err := a.Open(nil, nonce, want, append(bytes.Clone(aad), 0)); err == nil {
					t.Fatal("other AAD: opened")
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	for _, n := range []int{0, 15, 17, 32} {
		if _, err := NewCipher(make([]byte, n)); !errors.Is(err, ErrKeySize) {
			t.Errorf("key of %d bytes: %v", n, err)
		}
		if _, err := NewGCM(make([]byte, n)); !errors.Is(err, ErrKeySize) {
			t.Errorf("GCM key of %d bytes: %v", n, err)
		}
	}
	key := make([]byte, KeySize)
	if _, err := EncryptCBC(key, make([]byte, 16), make([]byte, 15)); !errors.Is(err, ErrBlocks) {
		t.Errorf("partial block: %v", err)
	}
	if _, err := DecryptCBC(key, make([]byte, 12), make([]byte, 16)); !errors.Is(err, ErrBlocks) {
		t.Errorf("short IV: %v", err)
	}
}

// TestSM3 checks the SM3 hash against GB/T 32905-2016 Appendix A.1 ("abc").
func TestSM3(t *testing.T) {
	h := NewSM3()
	h.Write([]byte("abc"))
	const want = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("SM3(abc) = %s", got)
	}
	if h.Size() != SM3Size || h.BlockSize() != 64 {
		t.Fatalf("size %d block %d", h.Size(), h.BlockSize())
	}
}
