package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
)

func seedFile(b byte) []byte {
	return []byte("seed: " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) + "\n")
}

// TestRotation: two replicas given one seed offer byte-identical key lists
// in every period with new key IDs per period, the next period's pair in
// the last quarter of a period; a request under the previous, current or
// next period's configuration opens, one two periods away gets
// ErrUnknownKey; another seed shares nothing.
func TestRotation(t *testing.T) {
	const d = 10 * time.Second
	a, err := Parse(seedFile(1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(seedFile(1))
	if err != nil {
		t.Fatal(err)
	}
	other, err := Parse(seedFile(2))
	if err != nil {
		t.Fatal(err)
	}
	list := func(s *Set) []byte {
		l, err := ohttp.MarshalKeyList(s.Public...)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	at := func(s *Set, now time.Time) *Set {
		r, err := s.At(now, d)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t0 := time.Unix(1_800_000_000, 0) // a whole multiple of 10 s
	p0 := Period(t0, d)
	seen := map[uint8]bool{}
	var prev []ohttp.PublicKeyConfig
	for i := range 3 {
		now := t0.Add(time.Duration(i)*d + time.Second)
		ra, rb := at(a, now), at(b, now.Add(4*time.Second)) // another replica, another moment of the period
		if !bytes.Equal(list(ra), list(rb)) {
			t.Errorf("period %d: replicas offer different key lists", i)
		}
		if bytes.Equal(list(ra), list(at(other, now))) {
			t.Errorf("period %d: another seed offers the same list", i)
		}
		if len(ra.Public) != 2 || ra.Public[0].KeyID() != RotationKeyID(p0+int64(i)) || ra.Public[1].KeyID() != ra.Public[0].KeyID()+1 ||
			ra.Public[0].KEM() != ohttp.KEMX25519HKDFSHA256 || ra.Public[1].KEM() != ohttp.KEMMLKEM768X25519 {
			t.Fatalf("period %d: offered %v", i, ra.Public)
		}
		if seen[ra.Public[0].KeyID()] {
			t.Errorf("period %d: key ID %d used before", i, ra.Public[0].KeyID())
		}
		seen[ra.Public[0].KeyID()] = true
		if ra.KeyListMaxAge <= 0 || ra.KeyListMaxAge > d {
			t.Errorf("period %d: max-age %s", i, ra.KeyListMaxAge)
		}
		if prev != nil && prev[0].KeyID() == ra.Public[0].KeyID() {
			t.Errorf("period %d: key ID did not change", i)
		}
		prev = ra.Public
		// Last quarter: the next pair is offered after the current one.
		late := at(a, t0.Add(time.Duration(i+1)*d-2*time.Second))
		if len(late.Public) != 4 || late.Public[0].KeyID() != ra.Public[0].KeyID() || late.Public[2].KeyID() != RotationKeyID(p0+int64(i)+1) {
			t.Errorf("period %d, last quarter: offered %v", i, late.Public)
		}
	}

	// Acceptance: periods p-1, p, p+1 open; p-2 and p+2 do not.
	now := t0.Add(5 * d)
	p := Period(now, d)
	gw := at(a, now).OHTTP
	for q := p - 3; q <= p+3; q++ {
		cfgs := at(a, time.Unix(0, q*int64(d))).Public
		enc, _, err := ohttp.EncapsulateRequest(cfgs[0], cfgs[0].Suites()[0], []byte("inner"))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = gw.DecapsulateRequest(enc)
		want := q >= p-1 && q <= p+1
		switch {
		case want && err != nil:
			t.Errorf("period %+d: refused: %v", q-p, err)
		case !want && !errors.Is(err, ohttp.ErrUnknownKey):
			t.Errorf("period %+d: %v, want ErrUnknownKey", q-p, err)
		}
	}
}

func TestRotationStore(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/keys.yaml"
	writeKeys(t, path, seedFile(3))
	s, err := NewStore(path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_001, 0)
	if err := s.SetRotation(5*time.Second, func() time.Time { return now }); !errors.Is(err, ErrRotation) {
		t.Errorf("5 s rotation: %v", err)
	}
	if err := s.SetRotation(10*time.Second, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	c1, c2 := s.Current(), s.Current()
	if c1 != c2 {
		t.Error("two calls in one period derived twice")
	}
	now = now.Add(10 * time.Second)
	if c3 := s.Current(); c3 == c1 || c3.Public[0].KeyID() == c1.Public[0].KeyID() {
		t.Error("the next period kept the keys")
	}

	noSeed := dir + "/plain.yaml"
	b, err := Generate("k")
	if err != nil {
		t.Fatal(err)
	}
	writeKeys(t, noSeed, b)
	s2, err := NewStore(noSeed, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.SetRotation(time.Minute, nil); !errors.Is(err, ErrRotation) {
		t.Errorf("rotation without a seed: %v", err)
	}
}

func writeKeys(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
