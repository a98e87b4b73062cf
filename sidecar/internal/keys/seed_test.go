package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// TestSeed: two replicas given the same seed have the same keys (a request
// sealed for one opens on the other, the OHTTP key configurations are
// byte-identical); another seed gives other keys; short or bad seeds are
// refused; a file's own OHTTP configurations replace the seed's pair.
func TestSeed(t *testing.T) {
	seed := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	a1, err := Parse([]byte("seed: " + seed(1) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := Parse([]byte("seed: " + seed(1) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse([]byte("seed: " + seed(2) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a1.PSKIDs) != 1 || !strings.HasPrefix(a1.PSKIDs[0], SeedPSKIDPrefix) || len(a1.PSKIDs[0]) != len(SeedPSKIDPrefix)+8 {
		t.Fatalf("PSK IDs %v", a1.PSKIDs)
	}
	if a1.PSKIDs[0] != a2.PSKIDs[0] || a1.PSKIDs[0] == b.PSKIDs[0] {
		t.Errorf("PSK IDs %v %v %v: want equal for one seed, different for another", a1.PSKIDs, a2.PSKIDs, b.PSKIDs)
	}
	list := func(s *Set) []byte {
		l, err := ohttp.MarshalKeyList(s.Public...)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if len(a1.Public) != 2 || a1.Public[0].KeyID() != 1 || a1.Public[1].KeyID() != 2 ||
		a1.Public[1].KEM() != ohttp.KEMMLKEM768X25519 {
		t.Fatalf("OHTTP configs %v", a1.Public)
	}
	if !bytes.Equal(list(a1), list(a2)) || bytes.Equal(list(a1), list(b)) {
		t.Error("OHTTP key configurations: want equal for one seed, different for another")
	}
	now := time.Now()
	body, _, err := psk.SealRequest(nil, a1.PSKKeys[0], http.MethodPost, "/v1/ocr", "image/png", now, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := psk.OpenRequest(a2.PSK, http.MethodPost, "/v1/ocr", body, now, 0, psk.NewMemoryReplayCache(4, nil)); err != nil {
		t.Errorf("sealed with one replica's seed key, opened by another's: %v", err)
	}
	if _, err := psk.OpenRequest(b.PSK, http.MethodPost, "/v1/ocr", body, now, 0, psk.NewMemoryReplayCache(4, nil)); err == nil {
		t.Error("another seed opened the request")
	}
	enc, _, err := ohttp.EncapsulateRequest(a1.Public[0], ohttp.DefaultSuites()[0], []byte("bhttp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a2.OHTTP.DecapsulateRequest(enc); err != nil {
		t.Errorf("OHTTP request for one replica, opened by another: %v", err)
	}

	extra, err := Generate("own")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"short", "seed: " + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n", "at least 32 bytes"},
		{"not base64", "seed: '%%%'\n", "seed is not base64"},
	} {
		_, err := Parse([]byte(tc.file))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalid mentioning %q", tc.name, err, tc.want)
		}
	}
	// A sealctl keygen file given a seed (to rotate from): its own OHTTP
	// configurations stand, the seed's pair (the same key IDs) is left
	// out, and under rotation the periods' pairs come beside them.
	own1, err := Parse(extra)
	if err != nil {
		t.Fatal(err)
	}
	withSeed, err := Parse(append([]byte("seed: "+seed(1)+"\n"), extra...))
	if err != nil {
		t.Fatalf("a keygen file with a seed added: %v", err)
	}
	if !bytes.Equal(list(withSeed), list(own1)) {
		t.Error("a keygen file with a seed: want the file's own OHTTP configurations, not the seed's")
	}
	if len(withSeed.PSKIDs) != len(own1.PSKIDs)+1 || withSeed.PSKIDs[0] != a1.PSKIDs[0] {
		t.Errorf("a keygen file with a seed: PSK IDs %v, want the seed's and the file's %v", withSeed.PSKIDs, own1.PSKIDs)
	}
	rot, err := withSeed.At(now, 10*time.Second)
	if err != nil {
		t.Fatalf("rotation from a keygen file with a seed: %v", err)
	}
	var ids []int
	for _, c := range rot.Public {
		ids = append(ids, int(c.KeyID()))
	}
	if len(ids) < 4 || ids[0] < RotationKeyIDBase || ids[len(ids)-2] != 1 || ids[len(ids)-1] != 2 {
		t.Errorf("rotation from a keygen file with a seed offers key IDs %v, want the period's (>= %d) then the file's 1 and 2", ids, RotationKeyIDBase)
	}
	// A seed with further listed PSK keys (rotation): both work.
	own := "psk:\n  - id: own\n    secret: " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)) + "\n"
	s, err := Parse([]byte("seed: " + seed(1) + "\n" + own))
	if err != nil || len(s.PSKIDs) != 2 || s.PSKIDs[0] != a1.PSKIDs[0] || s.PSKIDs[1] != "own" {
		t.Errorf("seed with a listed key: %v %v", s, err)
	}
}
