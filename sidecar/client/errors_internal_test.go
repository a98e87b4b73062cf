package client

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorFromBody(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   ServerError
	}{
		{"json", 413, http.Header{"Content-Type": {"application/json"}},
			`{"error":{"code":"too_large","message":"the request body is larger than the limit"}}`,
			ServerError{Status: 413, Code: "too_large", Message: "the request body is larger than the limit"}},
		{"problem key unknown (RFC URI)", 400, http.Header{"Content-Type": {"application/problem+json"}},
			`{"type":"https://iana.org/assignments/http-problem-types#ohttp-key","title":"oblivious HTTP key configuration not acceptable"}`,
			ServerError{Status: 400, Code: codeKeyUnknown, Message: "oblivious HTTP key configuration not acceptable"}},
		{"problem key unknown (URN)", 400, http.Header{"Content-Type": {"application/problem+json; charset=utf-8"}},
			`{"type":"urn:ietf:params:ohttp:error:key-unknown","title":"key identifier unknown"}`,
			ServerError{Status: 400, Code: codeKeyUnknown, Message: "key identifier unknown"}},
		{"text", 400, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "request could not be opened\nmore\x00",
			ServerError{Status: 400, Message: "request could not be opened"}},
		{"html from a proxy", 502, http.Header{"Content-Type": {"text/html"}}, "<html>bad gateway</html>",
			ServerError{Status: 502, Message: "bad gateway"}},
		{"json without code", 500, http.Header{"Content-Type": {"application/json"}}, `{"x":1}`,
			ServerError{Status: 500, Message: "internal server error"}},
		{"retry after", 429, http.Header{"Retry-After": {"30"}}, "",
			ServerError{Status: 429, Message: "too many requests", RetryAfter: 30 * time.Second}},
		{"long control text is cleaned", 400, http.Header{"Content-Type": {"text/plain"}}, "\x1b[31m" + strings.Repeat("a", 500),
			ServerError{Status: 400, Message: "[31m" + strings.Repeat("a", 196)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outerError(tt.status, tt.header, []byte(tt.body))
			if *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestServerErrorMessage(t *testing.T) {
	tests := []struct {
		err  ServerError
		want string
	}{
		{ServerError{Status: 400, Code: "not_an_image", Message: "the body is not a decodable image", Sealed: true},
			"sealocr client: core answered 400 not_an_image: the body is not a decodable image"},
		{ServerError{Status: 503, Code: "busy", Message: "retry later", RetryAfter: 2 * time.Second},
			"sealocr client: server answered 503 busy: retry later (retry after 2s)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q", got)
			}
		})
	}
}

func TestOCRTarget(t *testing.T) {
	tests := []struct{ mode, output, want string }{
		{"", "", "/v1/ocr"}, {"line", "", "/v1/ocr?mode=line"}, {"document", "", "/v1/ocr?mode=document"},
		{"", "pdf", "/v1/ocr?output=pdf"}, {"document", "hocr", "/v1/ocr?mode=document&output=hocr"},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"+"+tt.output, func(t *testing.T) {
			if got, err := ocrTarget(tt.mode, tt.output); err != nil || got != tt.want {
				t.Errorf("ocrTarget = %q, %v", got, err)
			}
		})
	}
	for _, bad := range []struct{ mode, output string }{{"Line", ""}, {"", "pdf&x=1"}, {"", "pdf output"}} {
		if got, err := ocrTarget(bad.mode, bad.output); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ocrTarget(%q, %q) = %q, %v; want ErrInvalidConfig", bad.mode, bad.output, got, err)
		}
	}
}

func TestEndpointKeepsBasePath(t *testing.T) {
	base, err := parseHTTPS("https://example.org:8443/sealocr/")
	if err != nil {
		t.Fatal(err)
	}
	if got := endpoint(base, "/v1/ocr?mode=line").String(); got != "https://example.org:8443/sealocr/v1/ocr?mode=line" {
		t.Errorf("endpoint = %s", got)
	}
}
