package bhttp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"unsafe"

	"github.com/sealocr/sealocr/core/testkit"
)

// loadExamples reads the RFC 9292 / RFC 9458 examples as raw bytes by name.
func loadExamples(tb testing.TB) map[string][]byte {
	tb.Helper()
	m := testkit.Vector[map[string]string](tb, "../testdata/bhttp_rfc9292_examples.json")
	out := make(map[string][]byte)
	for k, v := range m {
		if k == "source" {
			continue
		}
		b, err := hex.DecodeString(v)
		if err != nil {
			tb.Fatalf("%s: %v", k, err)
		}
		out[k] = b
	}
	return out
}

// exampleRequest is the request of RFC 9292 Section 5.
var exampleRequestFields = []Field{
	{"user-agent", "curl/7.16.3 libcurl/7.16.3 OpenSSL/0.9.7l zlib/1.2.3"},
	{"host", "www.example.com"},
	{"accept-language", "en, mi"},
}

func TestRFC9292Examples(t *testing.T) {
	ex := loadExamples(t)
	wantReq := &Request{Method: "GET", Scheme: "https", Path: "/hello.txt", Header: exampleRequestFields}

	t.Run("known_length_request", func(t *testing.T) {
		got, err := ParseRequest(ex["known_length_request"], Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, wantReq) {
			t.Fatalf("got %+v, want %+v", got, wantReq)
		}
		enc, err := wantReq.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, ex["known_length_request"]) {
			t.Fatalf("encode mismatch:\n got %x\nwant %x", enc, ex["known_length_request"])
		}
	})
	t.Run("indefinite_length_request_10B_padding", func(t *testing.T) {
		got, err := ParseRequest(ex["indefinite_length_request_10B_padding"], Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, wantReq) {
			t.Fatalf("got %+v, want %+v", got, wantReq)
		}
	})
	t.Run("indefinite_length_response_with_interim", func(t *testing.T) {
		got, err := ParseResponse(ex["indefinite_length_response_with_interim"], Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want := &Response{
			Informational: []InformationalResponse{
				{Status: 102, Header: []Field{{"running", `"sleep 15"`}}},
				{Status: 103, Header: []Field{
					{"link", "</style.css>; rel=preload; as=style"},
					{"link", "</script.js>; rel=preload; as=script"},
				}},
			},
			Status: 200,
			Header: []Field{
				{"date", "Mon, 27 Jul 2009 12:28:53 GMT"},
				{"server", "Apache"},
				{"last-modified", "Wed, 22 Jul 2009 19:15:56 GMT"},
				{"etag", `"34aa387-d-1568eb00"`},
				{"accept-ranges", "bytes"},
				{"content-length", "51"},
				{"vary", "Accept-Encoding"},
				{"content-type", "text/plain"},
			},
			Content: []byte("Hello World! My content includes a trailing CRLF.\r\n"),
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("known_length_response_chunked_trailer", func(t *testing.T) {
		got, err := ParseResponse(ex["known_length_response_chunked_trailer"], Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want := &Response{
			Status:  200,
			Content: []byte("This content contains CRLF.\r\n"),
			Trailer: []Field{{"trailer", "text"}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		enc, err := want.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, ex["known_length_response_chunked_trailer"]) {
			t.Fatalf("encode mismatch:\n got %x\nwant %x", enc, ex["known_length_response_chunked_trailer"])
		}
	})
	t.Run("ohttp_minimal_request_rfc9458", func(t *testing.T) {
		want := &Request{Method: "GET", Scheme: "https", Authority: "example.com", Path: "/"}
		got, err := ParseRequest(ex["ohttp_minimal_request_rfc9458"], Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		enc, err := want.Encode(EncodeOptions{Truncate: true})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, ex["ohttp_minimal_request_rfc9458"]) {
			t.Fatalf("encode mismatch: got %x", enc)
		}
	})
	t.Run("ohttp_minimal_response_rfc9458", func(t *testing.T) {
		want := &Response{Status: 200}
		got, err := ParseResponse(ex["ohttp_minimal_response_rfc9458"], Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		enc, err := want.Encode(EncodeOptions{Truncate: true})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, ex["ohttp_minimal_response_rfc9458"]) {
			t.Fatalf("encode mismatch: got %x", enc)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		opts EncodeOptions
	}{
		{"empty", Request{Method: "GET"}, EncodeOptions{}},
		{"truncated", Request{Method: "POST", Path: "/ocr", Content: []byte("x")}, EncodeOptions{Truncate: true}},
		{"padded", Request{Method: "POST", Header: []Field{{"a", "b"}}, Trailer: []Field{{"c", ""}}}, EncodeOptions{Padding: 7}},
		{"long values", Request{Method: "PUT", Path: string(bytes.Repeat([]byte("p"), 70000)), Content: bytes.Repeat([]byte{1}, 1<<16)}, EncodeOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := tt.req.Encode(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseRequest(enc, Limits{MaxFieldSection: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, &tt.req) {
				t.Fatalf("round trip mismatch")
			}
		})
	}
}

func TestEncodeInvalid(t *testing.T) {
	tests := []struct {
		name string
		enc  func() ([]byte, error)
	}{
		{"empty field name", func() ([]byte, error) { return (&Request{Header: []Field{{"", "v"}}}).MarshalBinary() }},
		{"status 199 final", func() ([]byte, error) { return (&Response{Status: 199}).MarshalBinary() }},
		{"status 600", func() ([]byte, error) { return (&Response{Status: 600}).MarshalBinary() }},
		{"informational 200", func() ([]byte, error) {
			return (&Response{Status: 200, Informational: []InformationalResponse{{Status: 200}}}).MarshalBinary()
		}},
		{"negative padding", func() ([]byte, error) { return (&Request{}).Encode(EncodeOptions{Padding: -1}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.enc(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

func TestParseHostile(t *testing.T) {
	small := Limits{MaxFieldSection: 16, MaxContent: 8, MaxInformational: 1}
	tests := []struct {
		name     string
		hex      string
		response bool
		lim      Limits
		want     error
	}{
		{"empty", "", false, Limits{}, ErrMalformed},
		{"response indicator as request", "01", false, Limits{}, ErrMalformed},
		{"request indicator as response", "00", true, Limits{}, ErrMalformed},
		{"unknown indicator", "04", false, Limits{}, ErrMalformed},
		{"truncated varint", "40", false, Limits{}, ErrMalformed},
		{"truncated control data", "0003474554", false, Limits{}, ErrMalformed},
		{"huge method length", "00c0ffffffffffffff", false, Limits{}, ErrMalformed},
		{"control data too large", "0011" + "4141414141414141414141414141414141" + "000000", false, small, ErrTooLarge},
		{"field section too large", "0000000000" + "11", false, small, ErrTooLarge},
		{"field section truncated", "0000000000" + "05" + "0161", false, Limits{}, ErrMalformed},
		{"empty field name", "0000000000" + "02" + "0000", false, Limits{}, ErrMalformed},
		{"content too large", "0000000000" + "00" + "09", false, small, ErrTooLarge},
		{"content truncated", "0000000000" + "00" + "0561", false, Limits{}, ErrMalformed},
		{"non-zero padding", "0000000000" + "00" + "00" + "00" + "0001", false, Limits{}, ErrMalformed},
		{"indefinite unterminated header", "0200000000" + "016101", false, Limits{}, ErrMalformed},
		{"indefinite unterminated content", "0200000000" + "00" + "0161", false, Limits{}, ErrMalformed},
		{"indefinite content too large", "0200000000" + "00" + "0561616161610461616161", false, small, ErrTooLarge},
		{"indefinite header too large", "0200000000" + "01610f" + "616161616161616161616161616161" + "00", false, small, ErrTooLarge},
		{"status 0", "0100", true, Limits{}, ErrMalformed},
		{"status 600", "014258", true, Limits{}, ErrMalformed},
		{"only informational", "01406600", true, Limits{}, ErrMalformed},
		{"too many informational", "01406600406600", true, small, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			if tt.response {
				_, err = ParseResponse(b, tt.lim)
			} else {
				_, err = ParseRequest(b, tt.lim)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVarint(t *testing.T) {
	for _, v := range []uint64{0, 63, 64, 16383, 16384, 1<<30 - 1, 1 << 30, maxVarint} {
		b := appendVarint(nil, v)
		if len(b) != varintLen(v) {
			t.Errorf("%d: len %d, want %d", v, len(b), varintLen(v))
		}
		r := &reader{b: b}
		got, ok := r.varint()
		if !ok || got != v || !r.empty() {
			t.Errorf("%d: decoded %d ok=%v", v, got, ok)
		}
	}
}

// TestParseRequestInPlaceIsAView: the content of a request parsed in place
// lies within the input, in both framings, and is the content sent.
func TestParseRequestInPlaceIsAView(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 1000)
	known, err := (&Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/v1/ocr", Content: content}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Indefinite length, three chunks: framing 2, control data, an empty
	// field section, chunks of 3000, 3000 and 4000 bytes, end, empty trailer.
	ind := []byte{2, 4, 'P', 'O', 'S', 'T', 5, 'h', 't', 't', 'p', 's', 1, 'a', 7, '/', 'v', '1', '/', 'o', 'c', 'r', 0}
	for _, c := range [][]byte{content[:3000], content[3000:6000], content[6000:]} {
		ind = append(ind, 0x40|byte(len(c)>>8), byte(len(c)))
		ind = append(ind, c...)
	}
	ind = append(ind, 0, 0)
	for name, b := range map[string][]byte{"known length": known, "indefinite length": ind} {
		req, err := ParseRequestInPlace(b, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(req.Content, content) {
			t.Errorf("%s: content differs", name)
			continue
		}
		first, last := &b[0], &b[len(b)-1]
		p := &req.Content[0]
		if uintptr(unsafe.Pointer(p)) < uintptr(unsafe.Pointer(first)) || uintptr(unsafe.Pointer(p)) > uintptr(unsafe.Pointer(last)) {
			t.Errorf("%s: the content is a copy, not a view of the input", name)
		}
	}
}
