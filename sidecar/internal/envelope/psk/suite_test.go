package psk

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
)

// suiteVector is one entry of testdata/psk_sm4_vectors.json.
type suiteVector struct {
	Suite string `json:"suite"`
	pskVector
}

func loadSuiteVectors(tb testing.TB) []suiteVector {
	tb.Helper()
	f := testkit.Vector[struct {
		Vectors []suiteVector `json:"vectors"`
	}](tb, "../testdata/psk_sm4_vectors.json")
	if len(f.Vectors) == 0 {
		tb.Fatal("no vectors")
	}
	return f.Vectors
}

// vectorKey returns the key of a suite vector.
func (v suiteVector) key(tb testing.TB) Key {
	tb.Helper()
	s, err := ParseSuite(v.Suite)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := NewSuiteKey(v.KeyID, s, unhex(tb, v.Key))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func testSuiteKey(tb testing.TB, id string, s Suite, fill byte) Key {
	tb.Helper()
	k, err := NewSuiteKey(id, s, bytes.Repeat([]byte{fill}, s.KeySize()))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// TestSM4Vectors reproduces the SM4 suite vectors byte for byte: request,
// response, and both directions of opening.
func TestSM4Vectors(t *testing.T) {
	for _, v := range loadSuiteVectors(t) {
		t.Run(v.Suite, func(t *testing.T) {
			key := v.key(t)
			now := time.Unix(v.Time, 0)
			rnd := bytes.NewReader(append(unhex(t, v.Salt), unhex(t, v.Nonce)...))
			body, opener, err := SealRequest(rnd, key, v.Method, v.Target, v.ContentType, now, unhex(t, v.Plaintext))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(body); got != v.RequestBody {
				t.Fatalf("request body:\n got %s\nwant %s", got, v.RequestBody)
			}
			req, err := OpenRequest(testKeySet(t, key), v.Method, v.Target, body, now, 0, NewMemoryReplayCache(8, nil))
			if err != nil {
				t.Fatal(err)
			}
			if req.Suite().String() != v.Suite || !bytes.Equal(req.Plaintext(), unhex(t, v.Plaintext)) {
				t.Fatal("opened request differs")
			}
			resp, err := req.SealResponse(bytes.NewReader(unhex(t, v.ResponseNonce)), v.ResponseStatus, v.ResponseContentType, unhex(t, v.ResponsePlaintext))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(resp); got != v.ResponseBody {
				t.Fatalf("response body:\n got %s\nwant %s", got, v.ResponseBody)
			}
			st, ct, pt, err := opener.Open(resp)
			if err != nil || st != v.ResponseStatus || ct != v.ResponseContentType || !bytes.Equal(pt, unhex(t, v.ResponsePlaintext)) {
				t.Fatalf("opened response differs: %v", err)
			}
		})
	}
}

// TestSM4VectorsIndependent recomputes the SM4 suite vectors with
// sidecar/e2e/interop/psk_sm4_vector.mjs, an implementation that shares no
// code with this package (sm-crypto SM4, Node's HKDF/SHA-256/SM3, its own
// GCM). It fails when node or sm-crypto is missing.
func TestSM4VectorsIndependent(t *testing.T) {
	node := testkit.NeedTool(t, "node", "apt-get install -y npm")
	dir, _ := filepath.Abs("../../../e2e/interop")
	testkit.NeedFile(t, filepath.Join(dir, "node_modules", "sm-crypto", "package.json"), "npm ci in sidecar/e2e/interop")
	file, _ := filepath.Abs("../testdata/psk_sm4_vectors.json")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "psk_sm4_vector.mjs", file)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("psk_sm4_vector.mjs: %v: %s", err, stderr.String())
	}
	var got []struct {
		RequestBody  string `json:"request_body"`
		ResponseBody string `json:"response_body"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := loadSuiteVectors(t)
	if len(got) != len(want) {
		t.Fatalf("%d results for %d vectors", len(got), len(want))
	}
	for i, v := range want {
		if got[i].RequestBody != v.RequestBody {
			t.Errorf("%s request:\nindependent %s\nvector      %s", v.Suite, got[i].RequestBody, v.RequestBody)
		}
		if got[i].ResponseBody != v.ResponseBody {
			t.Errorf("%s response:\nindependent %s\nvector      %s", v.Suite, got[i].ResponseBody, v.ResponseBody)
		}
	}
}

func TestParseSuite(t *testing.T) {
	for name, want := range map[string]Suite{
		"": SuiteAES256GCM, "aes-256-gcm": SuiteAES256GCM, "AES-256-GCM": SuiteAES256GCM,
		"sm4-gcm": SuiteSM4GCM, "SM4-GCM": SuiteSM4GCM, "sm4-gcm-sm3": SuiteSM4GCMSM3,
	} {
		if got, err := ParseSuite(name); err != nil || got != want {
			t.Errorf("ParseSuite(%q) = %v, %v", name, got, err)
		}
	}
	for _, name := range []string{"sm4", "aes-128-gcm", "sm4-cbc", " sm4-gcm"} {
		if _, err := ParseSuite(name); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSuite(%q): %v", name, err)
		}
	}
	for _, s := range Suites() {
		if p, err := ParseSuite(s.String()); err != nil || p != s {
			t.Errorf("%v does not round-trip", s)
		}
	}
	if Suite(0).Valid() || Suite(4).Valid() || Suite(0).KeySize() != 0 {
		t.Error("invalid suites accepted")
	}
	if SuiteSM4GCM.KeySize() != 16 || SuiteSM4GCMSM3.KeySize() != 16 || SuiteAES256GCM.KeySize() != 32 {
		t.Error("key sizes")
	}
}

func TestNewSuiteKey(t *testing.T) {
	tests := []struct {
		name  string
		suite Suite
		n     int
		ok    bool
	}{
		{"aes 32", SuiteAES256GCM, 32, true},
		{"aes 16", SuiteAES256GCM, 16, false},
		{"sm4 16", SuiteSM4GCM, 16, true},
		{"sm4 32", SuiteSM4GCM, 32, false},
		{"sm4 15", SuiteSM4GCM, 15, false},
		{"sm3 16", SuiteSM4GCMSM3, 16, true},
		{"sm3 24", SuiteSM4GCMSM3, 24, false},
		{"unknown suite", Suite(9), 16, false},
		{"zero suite", Suite(0), 32, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewSuiteKey("k", tt.suite, bytes.Repeat([]byte{1}, tt.n))
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("got %v", err)
			}
			if err == nil && k.Suite() != tt.suite {
				t.Fatalf("suite %v", k.Suite())
			}
		})
	}
	if _, err := NewSuiteKey("k", SuiteSM4GCM, make([]byte, 16)); !errors.Is(err, ErrInvalid) {
		t.Errorf("all-zero SM4 key: %v", err)
	}
	a, b := testSuiteKey(t, "k", SuiteSM4GCM, 1), testSuiteKey(t, "k", SuiteSM4GCMSM3, 1)
	if a.Equal(b) || !a.Equal(a) {
		t.Error("Equal must compare suites")
	}
}

// TestSuiteRoundTrip seals and opens with every suite and checks the
// framing: version 1 for AES-256-GCM, version 2 and the suite byte
// otherwise, in the request and in the response.
func TestSuiteRoundTrip(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.String(), func(t *testing.T) {
			key := testSuiteKey(t, "k1", s, 7)
			body, opener, err := SealRequest(nil, key, "POST", "/v1/ocr", "image/png", t0, []byte("image bytes"))
			if err != nil {
				t.Fatal(err)
			}
			wantPrefix := []byte{'S', 'P', 1}
			wantRespPrefix := []byte{'S', 'R', 1}
			extra := 0
			if s != SuiteAES256GCM {
				wantPrefix = []byte{'S', 'P', 2, byte(s)}
				wantRespPrefix = []byte{'S', 'R', 2, byte(s)}
				extra = 1
			}
			if !bytes.HasPrefix(body, wantPrefix) {
				t.Fatalf("request starts %x", body[:4])
			}
			if want := len("image bytes") + 57 + extra + len("k1") + len("image/png"); len(body) != want {
				t.Fatalf("request size %d, want %d", len(body), want)
			}
			req, err := OpenRequest(testKeySet(t, key), "POST", "/v1/ocr", body, t0, 0, NewMemoryReplayCache(8, nil))
			if err != nil {
				t.Fatal(err)
			}
			if req.Suite() != s {
				t.Fatalf("request suite %v", req.Suite())
			}
			resp, err := req.SealResponse(nil, 200, "application/json", []byte(`{"text":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(resp, wantRespPrefix) {
				t.Fatalf("response starts %x", resp[:4])
			}
			if want := len(`{"text":"x"}`) + 34 + extra + len("application/json"); len(resp) != want {
				t.Fatalf("response size %d, want %d", len(resp), want)
			}
			if st, _, pt, err := opener.Open(resp); err != nil || st != 200 || string(pt) != `{"text":"x"}` {
				t.Fatalf("open response: %d %q %v", st, pt, err)
			}
		})
	}
}

// TestSuiteRefusals covers the suite byte: unknown suites, a second
// encoding of AES-256-GCM, suite swaps between request and key, and
// responses framed with another suite.
func TestSuiteRefusals(t *testing.T) {
	aes := testSuiteKey(t, "aes", SuiteAES256GCM, 7)
	sm4k := testSuiteKey(t, "sm4", SuiteSM4GCM, 7)
	sm3k := testSuiteKey(t, "sm3", SuiteSM4GCMSM3, 7)
	ks := testKeySet(t, aes, sm4k, sm3k)
	seal := func(k Key) ([]byte, *ResponseOpener) {
		body, o, err := SealRequest(nil, k, "POST", "/v1/ocr", "image/png", t0, []byte("img"))
		if err != nil {
			t.Fatal(err)
		}
		return body, o
	}
	sm4Body, sm4Opener := seal(sm4k)
	sm3Body, _ := seal(sm3k)
	aesBody, _ := seal(aes)
	withSuite := func(b []byte, s byte) []byte {
		b = bytes.Clone(b)
		b[3] = s
		return b
	}
	// toV2 inserts a suite byte into a version 1 body; toV1 removes it.
	toV2 := func(b []byte, s byte) []byte {
		return append([]byte{'S', 'P', 2, s}, b[3:]...)
	}
	toV1 := func(b []byte) []byte {
		return append([]byte{'S', 'P', 1}, b[4:]...)
	}
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"unknown suite 0x04", withSuite(sm4Body, 4), ErrMalformed},
		{"suite 0x00", withSuite(sm4Body, 0), ErrMalformed},
		{"suite 0xff", withSuite(sm4Body, 0xff), ErrMalformed},
		{"version 2 naming AES-256-GCM", toV2(aesBody, 1), ErrMalformed},
		{"version 3", append([]byte{'S', 'P', 3}, sm4Body[3:]...), ErrMalformed},
		{"sm4-gcm request relabelled sm4-gcm-sm3", withSuite(sm4Body, byte(SuiteSM4GCMSM3)), ErrSuiteMismatch},
		{"sm4-gcm-sm3 request relabelled sm4-gcm", withSuite(sm3Body, byte(SuiteSM4GCM)), ErrSuiteMismatch},
		{"AES request relabelled sm4-gcm", toV2(aesBody, byte(SuiteSM4GCM)), ErrSuiteMismatch},
		{"sm4-gcm request relabelled AES (version 1)", toV1(sm4Body), ErrSuiteMismatch},
		{"truncated version 2", sm4Body[:minRequestSize], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenRequest(ks, "POST", "/v1/ocr", tt.body, t0, 0, NewMemoryReplayCache(8, nil))
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrOpen) {
				t.Fatalf("got %v, want %v and ErrOpen", err, tt.want)
			}
		})
	}
	t.Run("every byte flip refused", func(t *testing.T) {
		for _, body := range [][]byte{sm4Body, sm3Body} {
			for i := range body {
				b := bytes.Clone(body)
				b[i] ^= 1
				if _, err := OpenRequest(ks, "POST", "/v1/ocr", b, t0, 0, NewMemoryReplayCache(8, nil)); !errors.Is(err, ErrOpen) {
					t.Fatalf("byte %d: got %v", i, err)
				}
			}
		}
	})
	t.Run("same secret, other suite", func(t *testing.T) {
		// A server that holds the key under sm4-gcm-sm3 refuses an
		// sm4-gcm request sealed with the same bytes.
		other := testKeySet(t, testSuiteKey(t, "sm4", SuiteSM4GCMSM3, 7))
		if _, err := OpenRequest(other, "POST", "/v1/ocr", sm4Body, t0, 0, NewMemoryReplayCache(8, nil)); !errors.Is(err, ErrSuiteMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("response framing", func(t *testing.T) {
		req, err := OpenRequest(ks, "POST", "/v1/ocr", sm4Body, t0, 0, NewMemoryReplayCache(8, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := req.SealResponse(nil, 200, "text/plain", []byte("ok"))
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{
			"other suite byte": func() []byte { b := bytes.Clone(resp); b[3] = byte(SuiteSM4GCMSM3); return b }(),
			"AES suite byte":   func() []byte { b := bytes.Clone(resp); b[3] = 1; return b }(),
			"version 1":        append([]byte{'S', 'R', 1}, resp[4:]...),
			"short":            resp[:responseHdrSize+1+TagSize-1],
		} {
			if _, _, _, err := sm4Opener.Open(b); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: got %v", name, err)
			}
		}
		for i := 4; i < len(resp); i++ {
			b := bytes.Clone(resp)
			b[i] ^= 1
			if _, _, _, err := sm4Opener.Open(b); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("byte %d: got %v", i, err)
			}
		}
	})
}

// TestSM4VectorMatchesSpec keeps the SM4 examples printed in
// sidecar/PROTOCOL.md section 5.2 identical to the vectors.
func TestSM4VectorMatchesSpec(t *testing.T) {
	for _, v := range loadSuiteVectors(t) {
		got := specBlock(t, "<!-- psk-sm4-vector:"+v.Suite+":begin -->", "<!-- psk-sm4-vector:"+v.Suite+":end -->")
		for k, w := range map[string]string{"suite": v.Suite, "key": v.Key, "request_body": v.RequestBody, "response_body": v.ResponseBody} {
			if got[k] != w {
				t.Errorf("PROTOCOL.md %s %s = %q, want %q", v.Suite, k, got[k], w)
			}
		}
	}
}

// TestRefusalWorkIsUniform plays an attacker who probes key IDs and suites:
// a wrong secret, an unknown key ID and a known key ID under another suite
// must cost the server the same work (key derivation and a GCM open of the
// header's suite), or the refusal's timing would tell which key IDs exist
// and which suite each has. Allocation counts stand in for the work: a path
// that skipped the decryption would allocate less.
func TestRefusalWorkIsUniform(t *testing.T) {
	for _, suite := range Suites() {
		t.Run(suite.String(), func(t *testing.T) {
			var other Suite = SuiteAES256GCM
			if suite == SuiteAES256GCM {
				other = SuiteSM4GCM
			}
			ks := testKeySet(t, testSuiteKey(t, "k1", suite, 7), testSuiteKey(t, "k2", other, 7))
			seal := func(k Key) []byte {
				body, _, err := SealRequest(nil, k, "POST", "/v1/ocr", "image/png", t0, bytes.Repeat([]byte{1}, 4096))
				if err != nil {
					t.Fatal(err)
				}
				return body
			}
			cases := []struct {
				name string
				body []byte
				want error
			}{
				{"wrong secret", seal(testSuiteKey(t, "k1", suite, 9)), ErrDecrypt},
				{"unknown key ID", seal(testSuiteKey(t, "k3", suite, 7)), ErrUnknownKey},
				{"key ID of another suite", seal(testSuiteKey(t, "k2", suite, 7)), ErrSuiteMismatch},
			}
			allocs := make([]float64, len(cases))
			for i, c := range cases {
				rc := NewMemoryReplayCache(8, nil)
				if _, err := OpenRequest(ks, "POST", "/v1/ocr", c.body, t0, 0, rc); !errors.Is(err, c.want) {
					t.Fatalf("%s: got %v, want %v", c.name, err, c.want)
				}
				allocs[i] = testing.AllocsPerRun(200, func() {
					_, _ = OpenRequest(ks, "POST", "/v1/ocr", c.body, t0, 0, rc)
				})
			}
			// The yardstick: an expired request is refused before any
			// decryption. The decryption must cost clearly more than the
			// tolerance, or this test could not see a skipped one.
			expired := testing.AllocsPerRun(200, func() {
				_, _ = OpenRequest(ks, "POST", "/v1/ocr", cases[0].body, t0.Add(time.Hour), 0, NewMemoryReplayCache(8, nil))
			})
			// sync.Pool drops items at random under the race detector, which
			// adds the odd allocation; one is tolerated.
			const tolerance = 1
			if allocs[0]-expired <= 2*tolerance {
				t.Fatalf("a decryption costs only %v allocations more than no decryption; the comparison has no teeth", allocs[0]-expired)
			}
			for i := range cases[1:] {
				if d := allocs[i+1] - allocs[0]; d > tolerance || d < -tolerance {
					t.Errorf("%s costs %v allocations, %s %v: the paths differ", cases[i+1].name, allocs[i+1], cases[0].name, allocs[0])
				}
			}
			t.Logf("allocations per refusal: %v; without decryption: %v", allocs, expired)
		})
	}
}
