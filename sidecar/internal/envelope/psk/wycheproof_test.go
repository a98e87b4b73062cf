package psk

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/sealocr/sealocr/core/testkit"
)

// TestWycheproofAESGCM runs the Wycheproof AES-GCM vectors with a 256-bit
// key, 96-bit IV and 128-bit tag (the envelope's parameters) through the
// envelope's AEAD layer.
func TestWycheproofAESGCM(t *testing.T) {
	file := testkit.Vector[struct {
		TestGroups []struct {
			KeySize int `json:"keySize"`
			IVSize  int `json:"ivSize"`
			TagSize int `json:"tagSize"`
			Tests   []struct {
				TcID    int      `json:"tcId"`
				Comment string   `json:"comment"`
				Key     string   `json:"key"`
				IV      string   `json:"iv"`
				AAD     string   `json:"aad"`
				Msg     string   `json:"msg"`
				CT      string   `json:"ct"`
				Tag     string   `json:"tag"`
				Result  string   `json:"result"`
				Flags   []string `json:"flags"`
			} `json:"tests"`
		} `json:"testGroups"`
	}](t, "../testdata/wycheproof_aes_gcm_test.json")
	var valid, invalid int
	for _, g := range file.TestGroups {
		if g.KeySize != 256 || g.IVSize != 96 || g.TagSize != 128 {
			continue
		}
		for _, tc := range g.Tests {
			t.Run(fmt.Sprintf("tc%d", tc.TcID), func(t *testing.T) {
				key, iv, aad := unhex(t, tc.Key), unhex(t, tc.IV), unhex(t, tc.AAD)
				msg, ct := unhex(t, tc.Msg), append(unhex(t, tc.CT), unhex(t, tc.Tag)...)
				pt, err := gcmOpen(SuiteAES256GCM, key, iv, ct, aad)
				switch tc.Result {
				case "valid", "acceptable":
					if err != nil {
						t.Fatalf("%s: open: %v", tc.Comment, err)
					}
					if !bytes.Equal(pt, msg) {
						t.Fatalf("%s: plaintext mismatch", tc.Comment)
					}
					sealed, err := gcmSeal(SuiteAES256GCM, nil, key, iv, msg, aad)
					if err != nil || !bytes.Equal(sealed, ct) {
						t.Fatalf("%s: seal mismatch (%v)", tc.Comment, err)
					}
				case "invalid":
					if err == nil {
						t.Fatalf("%s: invalid vector opened", tc.Comment)
					}
				default:
					t.Fatalf("unknown result %q", tc.Result)
				}
			})
			if tc.Result == "invalid" {
				invalid++
			} else {
				valid++
			}
		}
	}
	if valid == 0 || invalid == 0 {
		t.Fatalf("vectors not exercised: %d valid, %d invalid", valid, invalid)
	}
	t.Logf("%d valid and %d invalid AES-256-GCM vectors", valid, invalid)
}
