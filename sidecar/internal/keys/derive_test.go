package keys

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDeriveKey: files that hold the same keys derive the same bytes,
// however they are written (a comment, another order, PEM blocks in
// another order); a file with other keys derives other bytes; a seed
// decides alone, so replicas sharing a seed agree while a rotation adds a
// key to one file first. Before, the Redis hash key came from the file's
// raw bytes and an operator's comment split the replicas' rate-limit
// buckets (audit finding #7).
func TestDeriveKey(t *testing.T) {
	gen, err := Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	var f File
	if err := yaml.Unmarshal(gen, &f); err != nil {
		t.Fatal(err)
	}
	second, err := Generate("k2")
	if err != nil {
		t.Fatal(err)
	}
	var f2 File
	if err := yaml.Unmarshal(second, &f2); err != nil {
		t.Fatal(err)
	}
	f.PSK = append(f.PSK, PSKEntry{ID: "k2", Secret: f2.PSK[0].Secret})
	write := func(f File, comment string) []byte {
		b, err := yaml.Marshal(&f)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte(comment), b...)
	}
	derive := func(data []byte) []byte {
		t.Helper()
		s, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.DeriveKey("test label", 32)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := derive(write(f, ""))

	reordered := f
	reordered.PSK = []PSKEntry{f.PSK[1], f.PSK[0]}
	blocks := strings.SplitAfter(f.OHTTP, "-----END OHTTP PRIVATE KEY CONFIG-----\n")
	reordered.OHTTP = blocks[1] + blocks[0] + blocks[2]
	if reordered.OHTTP == f.OHTTP {
		t.Fatal("the PEM blocks were not reordered")
	}
	for name, data := range map[string][]byte{
		"comment":   write(f, "# edited by an operator on Tuesday\n"),
		"reordered": write(reordered, ""),
	} {
		if got := derive(data); !bytes.Equal(got, base) {
			t.Errorf("%s: derived other bytes from the same keys", name)
		}
	}

	other := f
	other.PSK = f.PSK[:1]
	if bytes.Equal(derive(write(other, "")), base) {
		t.Error("a file without one of the keys derived the same bytes")
	}
	renamed := f
	renamed.PSK = []PSKEntry{f.PSK[0], {ID: "k3", Secret: f.PSK[1].Secret}}
	if bytes.Equal(derive(write(renamed, "")), base) {
		t.Error("a key under another ID derived the same bytes")
	}
	if a, b := derive(write(f, "")), derive(write(f, "")); !bytes.Equal(a, b) {
		t.Error("one file derived two values")
	}
	s, err := Parse(write(f, ""))
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := s.DeriveKey("another label", 32); bytes.Equal(k2, base) {
		t.Error("two labels derived the same bytes")
	}

	seed := "seed: " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\n"
	seedOnly := derive([]byte(seed))
	withExtra := derive([]byte(seed + "psk:\n  - id: extra\n    secret: " + f.PSK[0].Secret + "\n"))
	if !bytes.Equal(seedOnly, withExtra) {
		t.Error("a seed file with one more key derived other bytes than the seed alone")
	}
	if bytes.Equal(seedOnly, derive([]byte("seed: "+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32))+"\n"))) {
		t.Error("two seeds derived the same bytes")
	}
}
