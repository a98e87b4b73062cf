package psk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
)

// pskVector is testdata/psk_v1_vector.json.
type pskVector struct {
	KeyID               string `json:"key_id"`
	Key                 string `json:"key"`
	Time                int64  `json:"time"`
	Method              string `json:"method"`
	Target              string `json:"target"`
	ContentType         string `json:"content_type"`
	Salt                string `json:"salt"`
	Nonce               string `json:"nonce"`
	Plaintext           string `json:"plaintext"`
	RequestBody         string `json:"request_body"`
	ResponseStatus      int    `json:"response_status"`
	ResponseContentType string `json:"response_content_type"`
	ResponseNonce       string `json:"response_nonce"`
	ResponsePlaintext   string `json:"response_plaintext"`
	ResponseBody        string `json:"response_body"`
}

func loadVector(tb testing.TB) pskVector {
	tb.Helper()
	v := testkit.Vector[pskVector](tb, "../testdata/psk_v1_vector.json")
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

func testKey(tb testing.TB, id string, fill byte) Key {
	tb.Helper()
	k, err := NewKey(id, bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func testKeySet(tb testing.TB, keys ...Key) *KeySet {
	tb.Helper()
	ks, err := NewKeySet(keys...)
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

var t0 = time.Unix(1735689600, 0)

func TestVector(t *testing.T) {
	v := loadVector(t)
	key, err := NewKey(v.KeyID, unhex(t, v.Key))
	if err != nil {
		t.Fatal(err)
	}
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
	if !bytes.Equal(req.Plaintext(), unhex(t, v.Plaintext)) || req.ContentType() != v.ContentType || req.KeyID() != v.KeyID {
		t.Fatal("opened request differs")
	}
	resp, err := req.SealResponse(bytes.NewReader(unhex(t, v.ResponseNonce)), v.ResponseStatus, v.ResponseContentType, unhex(t, v.ResponsePlaintext))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(resp); got != v.ResponseBody {
		t.Fatalf("response body:\n got %s\nwant %s", got, v.ResponseBody)
	}
	status, ct, pt, err := opener.Open(unhex(t, v.ResponseBody))
	if err != nil {
		t.Fatal(err)
	}
	if status != v.ResponseStatus || ct != v.ResponseContentType || !bytes.Equal(pt, unhex(t, v.ResponsePlaintext)) {
		t.Fatal("opened response differs")
	}
}

// specBlock returns the name = value lines of sidecar/PROTOCOL.md between
// the markers, joining continuation lines of long hex values.
func specBlock(t *testing.T, begin, end string) map[string]string {
	t.Helper()
	spec, err := os.ReadFile("../../../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(spec)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("markers %s not found in PROTOCOL.md", begin)
	}
	got := map[string]string{}
	last := ""
	for _, line := range strings.Split(s[i+len(begin):j], "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "```") {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			// Continuation of a long hex value.
			got[last] += line
			continue
		}
		last = strings.TrimSpace(name)
		got[last] = strings.Trim(strings.TrimSpace(val), `"`)
	}
	return got
}

// TestVectorMatchesSpec keeps the example printed in sidecar/PROTOCOL.md
// identical to the vector that TestVector checks.
func TestVectorMatchesSpec(t *testing.T) {
	v := loadVector(t)
	got := specBlock(t, "<!-- psk-v1-vector:begin -->", "<!-- psk-v1-vector:end -->")
	want := map[string]string{
		"key_id":                v.KeyID,
		"key":                   v.Key,
		"time":                  strconv.FormatInt(v.Time, 10),
		"method":                v.Method,
		"target":                v.Target,
		"content_type":          v.ContentType,
		"salt":                  v.Salt,
		"nonce":                 v.Nonce,
		"plaintext":             v.Plaintext,
		"request_body":          v.RequestBody,
		"response_status":       strconv.Itoa(v.ResponseStatus),
		"response_content_type": v.ResponseContentType,
		"response_nonce":        v.ResponseNonce,
		"response_plaintext":    v.ResponsePlaintext,
		"response_body":         v.ResponseBody,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("PROTOCOL.md %s = %q, want %q", k, got[k], w)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	key := testKey(t, "k1", 7)
	ks := testKeySet(t, key)
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		plaintext   []byte
	}{
		{"empty", "POST", "/", "", nil},
		{"image", "POST", "/v1/ocr?lang=de&mode=fast", "image/png", bytes.Repeat([]byte{0x89}, 4096)},
		{"long target", "PUT", "/" + strings.Repeat("a", MaxTargetLen-1), strings.Repeat("t", MaxContentTypeLen), []byte("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, opener, err := SealRequest(nil, key, tt.method, tt.target, tt.contentType, t0, tt.plaintext)
			if err != nil {
				t.Fatal(err)
			}
			req, err := OpenRequest(ks, tt.method, tt.target, body, t0.Add(time.Minute), 0, NewMemoryReplayCache(8, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(req.Plaintext(), tt.plaintext) || req.ContentType() != tt.contentType || !req.Timestamp().Equal(t0) {
				t.Fatal("mismatch")
			}
			resp, err := req.SealResponse(nil, 422, "application/json", []byte(`{"error":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			st, ct, pt, err := opener.Open(resp)
			if err != nil || st != 422 || ct != "application/json" || string(pt) != `{"error":"x"}` {
				t.Fatalf("response: %d %q %q %v", st, ct, pt, err)
			}
		})
	}
}

func TestOpenRequestRefusals(t *testing.T) {
	key := testKey(t, "k1", 7)
	other := testKey(t, "k1", 8)
	ks := testKeySet(t, key)
	seal := func(k Key, ts time.Time) []byte {
		body, _, err := SealRequest(nil, k, "POST", "/v1/ocr", "image/png", ts, []byte("img"))
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	good := seal(key, t0)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		body   []byte
		method string
		target string
		now    time.Time
		want   error
	}{
		{"empty", nil, "POST", "/v1/ocr", t0, ErrMalformed},
		{"truncated", good[:minRequestSize-1], "POST", "/v1/ocr", t0, ErrMalformed},
		{"tag cut", good[:len(good)-TagSize], "POST", "/v1/ocr", t0, ErrMalformed},
		{"bad magic", flip(0), "POST", "/v1/ocr", t0, ErrMalformed},
		{"bad version", flip(2), "POST", "/v1/ocr", t0, ErrMalformed},
		{"key ID length", flip(3), "POST", "/v1/ocr", t0, ErrMalformed},
		{"unknown key", flip(4), "POST", "/v1/ocr", t0, ErrUnknownKey},
		{"timestamp changed", flip(3 + 1 + 2 + 7), "POST", "/v1/ocr", t0, ErrDecrypt},
		{"salt changed", flip(3 + 1 + 2 + 8), "POST", "/v1/ocr", t0, ErrDecrypt},
		{"ciphertext changed", flip(len(good) - TagSize - 1), "POST", "/v1/ocr", t0, ErrDecrypt},
		{"tag changed", flip(len(good) - 1), "POST", "/v1/ocr", t0, ErrDecrypt},
		{"other method", good, "PUT", "/v1/ocr", t0, ErrDecrypt},
		{"other target", good, "POST", "/v1/ocr?x", t0, ErrDecrypt},
		{"empty method", good, "", "/v1/ocr", t0, ErrMalformed},
		{"target too long", good, "POST", strings.Repeat("a", MaxTargetLen+1), t0, ErrMalformed},
		{"wrong key", seal(other, t0), "POST", "/v1/ocr", t0, ErrDecrypt},
		{"too old", good, "POST", "/v1/ocr", t0.Add(DefaultWindow + time.Second), ErrExpired},
		{"too new", good, "POST", "/v1/ocr", t0.Add(-DefaultWindow - time.Second), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenRequest(ks, tt.method, tt.target, tt.body, tt.now, 0, NewMemoryReplayCache(8, nil))
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrOpen) {
				t.Fatalf("got %v, want %v and ErrOpen", err, tt.want)
			}
		})
	}
	t.Run("window edge accepted", func(t *testing.T) {
		if _, err := OpenRequest(ks, "POST", "/v1/ocr", good, t0.Add(DefaultWindow), 0, NewMemoryReplayCache(8, nil)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("every byte flip refused", func(t *testing.T) {
		for i := range good {
			if _, err := OpenRequest(ks, "POST", "/v1/ocr", flip(i), t0, 0, NewMemoryReplayCache(8, nil)); !errors.Is(err, ErrOpen) {
				t.Fatalf("byte %d: got %v", i, err)
			}
		}
	})
	t.Run("replay", func(t *testing.T) {
		rc := NewMemoryReplayCache(8, func() time.Time { return t0 })
		if _, err := OpenRequest(ks, "POST", "/v1/ocr", good, t0, 0, rc); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenRequest(ks, "POST", "/v1/ocr", good, t0, 0, rc); !errors.Is(err, ErrReplay) {
			t.Fatalf("got %v, want ErrReplay", err)
		}
	})
	t.Run("forgeries do not fill the replay cache", func(t *testing.T) {
		rc := NewMemoryReplayCache(8, nil)
		for i := 0; i < 20; i++ {
			_, _ = OpenRequest(ks, "POST", "/v1/ocr", flip(len(good)-1), t0, 0, rc)
		}
		if rc.Len() != 0 {
			t.Fatalf("cache holds %d entries", rc.Len())
		}
	})
	t.Run("nil replay cache", func(t *testing.T) {
		if _, err := OpenRequest(ks, "POST", "/v1/ocr", good, t0, 0, nil); !errors.Is(err, ErrNoReplayCache) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestResponseBinding(t *testing.T) {
	key := testKey(t, "k1", 7)
	ks := testKeySet(t, key)
	rc := NewMemoryReplayCache(8, nil)
	open := func(target string) (*Request, *ResponseOpener) {
		body, opener, err := SealRequest(nil, key, "POST", target, "image/png", t0, []byte("img"))
		if err != nil {
			t.Fatal(err)
		}
		req, err := OpenRequest(ks, "POST", target, body, t0, 0, rc)
		if err != nil {
			t.Fatal(err)
		}
		return req, opener
	}
	reqA, openerA := open("/a")
	reqB, _ := open("/b")
	respA, err := reqA.SealResponse(nil, 200, "application/json", []byte("A"))
	if err != nil {
		t.Fatal(err)
	}
	respB, err := reqB.SealResponse(nil, 200, "application/json", []byte("B"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(respA)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"response to another request", respB, ErrDecrypt},
		{"empty", nil, ErrMalformed},
		{"short", respA[:minResponseSize-1], ErrMalformed},
		{"request magic", flip(1), ErrMalformed},
		{"nonce changed", flip(3), ErrDecrypt},
		{"inner changed", flip(responseHdrSize), ErrDecrypt},
		{"tag changed", flip(len(respA) - 1), ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := openerA.Open(tt.body); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("invalid status", func(t *testing.T) {
		for _, s := range []int{0, 99, 600, 70000} {
			if _, err := reqA.SealResponse(nil, s, "", nil); !errors.Is(err, ErrInvalid) {
				t.Errorf("status %d: got %v", s, err)
			}
		}
	})
}

func TestNewKey(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		secret []byte
		ok     bool
	}{
		{"ok", "svc-a.2025", bytes.Repeat([]byte{1}, 32), true},
		{"max id", strings.Repeat("k", MaxKeyIDLen), bytes.Repeat([]byte{1}, 32), true},
		{"empty id", "", bytes.Repeat([]byte{1}, 32), false},
		{"long id", strings.Repeat("k", MaxKeyIDLen+1), bytes.Repeat([]byte{1}, 32), false},
		{"space in id", "a b", bytes.Repeat([]byte{1}, 32), false},
		{"non-ascii id", "ké", bytes.Repeat([]byte{1}, 32), false},
		{"short secret", "a", make([]byte, 31), false},
		{"long secret", "a", make([]byte, 33), false},
		{"zero secret", "a", make([]byte, 32), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKey(tt.id, tt.secret)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("got %v", err)
			}
		})
	}
	if _, err := NewKeySet(testKey(t, "a", 1), testKey(t, "a", 2)); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("duplicate: got %v", err)
	}
	if _, err := NewKeySet(Key{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero key: got %v", err)
	}
	if _, _, err := SealRequest(nil, Key{}, "POST", "/", "", t0, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("seal with zero key: got %v", err)
	}
}

func TestSecretsNotPrinted(t *testing.T) {
	secret := bytes.Repeat([]byte{0xab}, KeySize)
	key, err := NewKey("visible-id", secret)
	if err != nil {
		t.Fatal(err)
	}
	body, opener, err := SealRequest(nil, key, "POST", "/", "text/plain", t0, []byte("top secret payload"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := OpenRequest(testKeySet(t, key), "POST", "/", body, t0, 0, NewMemoryReplayCache(8, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{key, &key, opener, req, testKeySet(t, key)} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171, 171") ||
				strings.Contains(out, "\xab\xab") || strings.Contains(out, "top secret") {
				t.Errorf("%T with %s leaks: %s", v, verb, out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(key), "visible-id") {
		t.Error("key ID should be printed")
	}
	if s := key.LogValue().String(); strings.Contains(s, "abab") {
		t.Errorf("LogValue leaks: %s", s)
	}
	if !key.Equal(key) || key.Equal(testKey(t, "visible-id", 1)) {
		t.Error("Equal")
	}
}

// AppendSealRequest gives the vector's bytes after whatever dst holds, and
// a reused buffer (the previous body's [:0]) seals the next request in place
// of the old one without allocating it again.
func TestAppendSealRequest(t *testing.T) {
	v := loadVector(t)
	key, err := NewKey(v.KeyID, unhex(t, v.Key))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(v.Time, 0)
	rnd := func() io.Reader { return bytes.NewReader(append(unhex(t, v.Salt), unhex(t, v.Nonce)...)) }
	prefix := []byte("kept")
	out, opener, err := AppendSealRequest(prefix, rnd(), key, v.Method, v.Target, v.ContentType, now, unhex(t, v.Plaintext))
	if err != nil {
		t.Fatal(err)
	}
	if string(out[:4]) != "kept" || hex.EncodeToString(out[4:]) != v.RequestBody {
		t.Fatalf("appended body:\n got %x\nwant kept‖%s", out, v.RequestBody)
	}
	if _, _, pt, err := opener.Open(unhex(t, v.ResponseBody)); err != nil || !bytes.Equal(pt, unhex(t, v.ResponsePlaintext)) {
		t.Fatalf("opener of an appended request: %v", err)
	}

	buf := make([]byte, 0, 64<<10)
	ks := testKeySet(t, key)
	replay := NewMemoryReplayCache(8, nil)
	for i := range 3 {
		plain := bytes.Repeat([]byte{byte('a' + i)}, 1000*(3-i)) // shorter each time
		body, _, err := AppendSealRequest(buf[:0], nil, key, "POST", "/v1/ocr", "image/png", now, plain)
		if err != nil {
			t.Fatal(err)
		}
		if &body[0] != &buf[:1][0] {
			t.Fatal("the buffer was not reused")
		}
		req, err := OpenRequest(ks, "POST", "/v1/ocr", body, now, 0, replay)
		if err != nil || !bytes.Equal(req.Plaintext(), plain) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}
