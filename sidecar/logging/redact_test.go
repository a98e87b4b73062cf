package logging

import (
	"strings"
	"testing"
	"time"
)

// Fixtures used by several tests. The ID numbers are synthetic; their check
// characters were computed with the GB 11643-1999 weights.
const (
	validID       = "11010519491231002X" // check character X
	validIDDigits = "440304199003072515" // check character 5, not Luhn-valid
	badID         = "110105194912310021" // check should be X; not Luhn-valid either
	validCard     = "4111111111111111"
	badCard       = "4111111111111112"
	validCard19   = "6222020200112233446"
	mobile        = "13812345678"
	sampleJWT     = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	samplePEM     = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"
	sampleB64     = "KCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkc="
	sampleHex     = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func TestFixtures(t *testing.T) {
	tests := []struct {
		name     string
		digits   string
		id, luhn bool
	}{
		{"validID", validID, true, false},
		{"validIDDigits", validIDDigits, true, false},
		{"badID", badID, false, false},
		{"validCard", validCard, false, true},
		{"badCard", badCard, false, false},
		{"validCard19", validCard19, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := idNumberValid([]byte(tt.digits)); got != tt.id {
				t.Errorf("idNumberValid(%s) = %v, want %v", tt.digits, got, tt.id)
			}
			if strings.ContainsAny(tt.digits, "Xx") {
				return
			}
			if got := luhnValid([]byte(tt.digits)); got != tt.luhn {
				t.Errorf("luhnValid(%s) = %v, want %v", tt.digits, got, tt.luhn)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		// Harmless text.
		{"empty", "", ""},
		{"plain", "GET /v1/ocr/idcard 200", "GET /v1/ocr/idcard 200"},
		{"uuid", "request 123e4567-e89b-12d3-a456-426614174000 done", "request 123e4567-e89b-12d3-a456-426614174000 done"},
		{"long lowercase path", "/usr/local/share/sealocr/models/recognizer/latest/model", "/usr/local/share/sealocr/models/recognizer/latest/model"},
		{"ip and port", "dial 127.0.0.1:8443", "dial 127.0.0.1:8443"},
		{"url password", `tls.acme.ca "https://acme:Qz!Kx$Vm@ca.example/dir": bad`, `tls.acme.ca "https://acme:[masked]@ca.example/dir": bad`},
		{"url password with @", "redis://u:p@ss@[::1]:6379/0", "redis://u:[masked]@[::1]:6379/0"},
		{"url user only", "ftp://anonymous@host/x", "ftp://anonymous@host/x"},
		{"url without user", "https://host:443/a@b", "https://host:443/a@b"},
		{"short number", "took 1234567890 ns", "took 1234567890 ns"},

		// PRC resident ID numbers.
		{"id with X", "id " + validID + " ok", "id [id-number] ok"},
		{"id with lower x", "id " + strings.ToLower(validID), "id [id-number]"},
		{"id all digits", "身份证号" + validIDDigits + "。", "身份证号[id-number]。"},
		{"id grouped", "110105 19491231 002X", "[id-number]"},
		{"id bad checksum stays", "id " + badID, "id " + badID},
		{"id inside longer run stays", "1" + validIDDigits, "1" + validIDDigits},
		{"id X ends the run", validID + "5", "[id-number]5"},
		{"id digits followed by digit stays", validIDDigits + "5", validIDDigits + "5"},
		{"id bad checksum but luhn valid is a card", "110105194912310028", "[card]"},

		// Mobile numbers.
		{"mobile", "tel:" + mobile, "tel:[phone]"},
		{"mobile between letters", "abc" + mobile + "def", "abc[phone]def"},
		{"mobile dashed", "138-1234-5678", "[phone]"},
		{"mobile spaced", "call 138 1234 5678 now", "call [phone] now"},
		{"mobile +86", "+86 138 1234 5678", "+[phone]"},
		{"mobile 86 joined", "+8613812345678", "+[phone]"},
		{"mobile 0086", "008613812345678", "[phone]"},
		{"mobile after date", "2024-01-02 " + mobile, "2024-01-02 [phone]"},
		{"mobile bad prefix stays", "12812345678", "12812345678"},
		{"mobile in longer run stays", "213812345678", "213812345678"},
		{"mobile 12 digits stays", mobile + "9", mobile + "9"},
		{"mobile 10 digits stays", "1381234567", "1381234567"},

		// Bank card numbers.
		{"card", "card " + validCard, "card [card]"},
		{"card spaced", "4111 1111 1111 1111", "[card]"},
		{"card dashed", "4111-1111-1111-1111", "[card]"},
		{"card 19", "卡号:" + validCard19, "卡号:[card]"},
		{"card luhn invalid stays", "card " + badCard, "card " + badCard},
		{"card short groups stay", "41 11 11 11 11 11 11 11", "41 11 11 11 11 11 11 11"},
		{"card 20 digits stays", validCard + "0000", validCard + "0000"},

		// Tokens and keys.
		{"jwt", "token " + sampleJWT + " end", "token [jwt] end"},
		{"jwt without signature", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "[jwt]"},
		{"not a jwt", "eyJ is how JSON starts", "eyJ is how JSON starts"},
		{"pem", "key:\n" + samplePEM + "\nafter", "key:\n[pem]\nafter"},
		{"pem truncated", "x -----BEGIN CERTIFICATE-----\nMIIB", "x [pem]"},
		{"bearer", "Header Bearer abc.def-ghi", "Header Bearer [token]"},
		// After a credential header name, what follows is its value.
		{"bearer after a header name", "Authorization header Bearer abc.def-ghi", "Authorization [masked] [token]"},
		{"basic", "auth Basic dXNlcjpwYXNzd29yZA== ok", "auth Basic [token] ok"},
		{"apikey scheme", "ApiKey sk_live_0123", "ApiKey [token]"},
		{"digest", `Digest username="u", response="6629fae49393a05397450978507c4ef1"` + "\nnext", "Digest [token]\nnext"},
		{"digest in prose", "Digest mismatch", "Digest mismatch"},
		{"pair as fmt prints a [2]string", "[[cookie session=abc] [accept */*]]", "[[cookie [masked]] [accept */*]]"},
		{"pair as fmt prints a struct", "{Name:x-api-key Value:k-123}", "{Name:x-api-key Value:[masked]}"},
		{"pair quoted", `["authorization" "xyz"]`, `["authorization" "[masked]"]`},
		{"field as %+v prints it", "{User:bob Password:hunter2}", "{User:bob Password:[masked]}"},
		{"prose after a colon stays", "psk: unknown key ID", "psk: unknown key ID"},
		{"labelled pair", "[{Key:password Value:hunter2} {Key:mode Value:line}]", "[{Key:password Value:[masked]} {Key:mode Value:line}]"},
		{"labelled pair with a payload name", "{Name:text Value:hello}", "{Name:text Value:[masked]}"},
		{"bearer lower", "bearer  mF_9.B5f-4.1JqM==;", "bearer  [token];"},
		{"bearer jwt", "Bearer " + sampleJWT, "Bearer [jwt]"},
		{"bearer word alone stays", "no bearer", "no bearer"},
		{"unbearer stays", "unbearer xyz", "unbearer xyz"},
		{"query token", "/cb?code=1&access_token=abc123&x=1", "/cb?code=1&access_token=[masked]&x=1"},
		{"password assignment", "login password=hunter2 user=bob", "login password=[masked] user=bob"},
		{"json secret", `{"user":"bob","client_secret":"s3cr3t"}`, `{"user":"bob","client_secret":[masked]}`},
		{"json secret spaced", `{"Password": "a \"b\" c"}`, `{"Password": [masked]}`},
		{"header line", "Authorization: Basic dXNlcjpwYXNz\r\nHost: x", "Authorization: [masked]\r\nHost: x"},
		{"cookie line", "Cookie: sid=abc; theme=dark", "Cookie: [masked]"},
		{"plain colon stays", "password: too short", "password: too short"},
		{"plain assignment stays", "status=ok count=3", "status=ok count=3"},

		// E-mail and blobs.
		{"email", "from zhang.san+ocr@example.com.cn,", "from [email],"},
		{"email glued to number", "a@b.cn13812345678", "[email][phone]"},
		{"email no tld stays", "root@localhost", "root@localhost"},
		{"module version stays", "go.uber.org/zap@v1.28.0", "go.uber.org/zap@v1.28.0"},
		{"base64", "k=" + sampleB64 + " end", "k=[blob] end"},
		{"hex", "sha256 " + sampleHex, "sha256 [blob]"},
		{"hex inside a word", "sri sha256-" + sampleHex + " ok", "sri sha256-[blob] ok"},
		{"hex short stays", "sha " + sampleHex[:31], "sha " + sampleHex[:31]},
		{"long digits are a blob", strings.Repeat("1234567890", 4), "[blob]"},
		{"lowercase run stays", strings.Repeat("abcdefghij", 4) + "xyz", strings.Repeat("abcdefghij", 4) + "xyz"},

		// Several at once.
		{"mixed", "u=" + mobile + " e=a@b.io id=" + validID + " c=" + validCard,
			"u=[phone] e=[email] id=[id-number] c=[card]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestClassifyKey(t *testing.T) {
	tests := []struct {
		key  string
		want keyClass
	}{
		{"body", keyPayload},
		{"request_body", keyPayload},
		{"responseBody", keyPayload},
		{"Image", keyPayload},
		{"ocr_text", keyPayload},
		{"plaintext", keyPayload},
		{"ciphertext", keyPayload},
		{"data", keyPayload},
		{"result", keyPayload},
		{"lines", keyPayload},
		{"payload", keyPayload},
		{"authorization", keySecret},
		{"Proxy-Authorization", keySecret},
		{"Cookie", keySecret},
		{"Set-Cookie", keySecret},
		{"X-API-KEY", keySecret},
		{"x-api-key", keySecret},
		{"token", keySecret},
		{"refresh_token", keySecret},
		{"secret", keySecret},
		{"clientSecret", keySecret},
		{"password", keySecret},
		{"key", keySecret},
		{"hmac_key", keySecret},
		{"psk", keySecret},
		{"context", keyPlain},
		{"metadata", keyPlain},
		{"key_id", keyPlain},
		{"monkey", keyPlain},
		{"tokens", keyPlain},
		{"status", keyPlain},
		{"image_size", keyPlain},
		{"a_very_long_key_name_that_is_longer_than_the_buffer_access_token", keySecret},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := classifyKey(tt.key); got != tt.want {
				t.Errorf("classifyKey(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

func TestRedactDoesNotAllocateWhenClean(t *testing.T) {
	inputs := []string{"GET", "/v1/ocr/idcard", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "127.0.0.1:8443"}
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { _ = Redact(in) }); n != 0 {
				t.Errorf("Redact(%q) allocates %v times", in, n)
			}
		})
	}
}

func TestRedactLargeInputs(t *testing.T) {
	// Each input would take quadratic time in a naive scanner. The check is
	// relative, so that a loaded machine (the race detector, other test
	// binaries) does not fail it: sixteen times the input must take well
	// under the 256 times a quadratic scan would (at most 64 times, best of
	// three runs each; a linear scan takes about 16 times, more under a
	// loaded collector), and give a sane result.
	tests := []struct {
		name string
		unit string
		n    int // repetitions of unit in the large input
	}{
		{"eyJ run", "eyJ", 200000},
		{"eyJ dots", "eyJa.", 200000},
		{"at signs", "a@", 200000},
		{"assignments", "token=", 200000},
		{"colons", "authorization:", 100000},
		{"bearers", "bearer ", 200000},
		{"pem begins", "-----BEGIN ", 100000},
		{"digit groups", "1 ", 300000},
		{"digits", "1234567890", 100000},
		{"url user information", "a://u:p@", 100000},
	}
	best := func(in string) time.Duration {
		b := time.Duration(1<<63 - 1)
		for range 3 {
			start := time.Now()
			out := Redact(in)
			b = min(b, time.Since(start))
			if len(out) > len(in)*3 {
				t.Errorf("output grew from %d to %d bytes", len(in), len(out))
			}
		}
		return b
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			small := best(strings.Repeat(tt.unit, tt.n/16))
			large := best(strings.Repeat(tt.unit, tt.n))
			if large > 64*small+100*time.Millisecond {
				t.Errorf("Redact took %v on %d bytes and %v on 16 times as much: worse than linear", small, len(tt.unit)*tt.n/16, large)
			}
		})
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{validID, validCard, "138 1234 5678", sampleJWT, samplePEM, "a@b.io", "Bearer x", "token=1", sampleHex} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Redact(s)
		if again := Redact(out); again != out {
			t.Errorf("Redact not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}
