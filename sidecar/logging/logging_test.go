package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// testKey is a fixed HashKey so hashes are reproducible in tests.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// newTestLogger returns a debug logger in format writing to a buffer.
func newTestLogger(t testing.TB, format string) (*zap.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	l, err := New(Options{Level: "debug", Format: format, Output: &buf, HashKey: testKey})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l, &buf
}

// person is an ObjectMarshaler with a nested object and array.
type person struct {
	name, phone, password string
	photo                 []byte
	emails                []string
}

func (p person) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", p.name)
	enc.AddString("phone", p.phone)
	enc.AddString("password", p.password)
	enc.AddBinary("photo", p.photo)
	enc.AddInt64("msisdn", 13812345678)
	if err := enc.AddArray("emails", zapcore.ArrayMarshalerFunc(func(a zapcore.ArrayEncoder) error {
		for _, e := range p.emails {
			a.AppendString(e)
		}
		a.AppendByteString([]byte("raw bytes"))
		a.AppendInt64(4111111111111111)
		return a.AppendObject(zapcore.ObjectMarshalerFunc(func(o zapcore.ObjectEncoder) error {
			o.AddString("deep", "id "+validID)
			return nil
		}))
	})); err != nil {
		return err
	}
	return enc.AddObject("contact", zapcore.ObjectMarshalerFunc(func(o zapcore.ObjectEncoder) error {
		o.AddString("email", "deep@example.org")
		o.AddString("token", "t0ps3cret")
		return nil
	}))
}

// jwtStringer is a fmt.Stringer whose text carries a JWT.
type jwtStringer struct{}

func (jwtStringer) String() string { return "session " + sampleJWT }

// request is logged with zap.Any.
type request struct {
	Method  string
	Phone   string `json:"phone"`
	Body    []byte `json:"body"`
	Raw     []byte `json:"raw_bytes"`
	Header  http.Header
	Skipped string `json:"-"`
	Empty   string `json:"empty,omitempty"`
	Err     error  `json:"err"`
	Nested  struct {
		Token string `json:"access_token"`
		Email string
	}
	Embedded
}

// Embedded is promoted into request.
type Embedded struct {
	Card string `json:"card"`
}

func TestLoggerRedacts(t *testing.T) {
	tests := []struct {
		name    string
		log     func(l *zap.Logger)
		want    []string // substrings that must appear
		notWant []string // substrings that must not appear
	}{
		{
			name:    "message",
			log:     func(l *zap.Logger) { l.Info("call " + mobile + " about " + validID) },
			want:    []string{"call [phone] about [id-number]"},
			notWant: []string{mobile, validID},
		},
		{
			name: "string field",
			log: func(l *zap.Logger) {
				l.Info("m", zap.String("user", "zhang.san@example.com"), zap.String("path", "/v1/ocr"))
			},
			want:    []string{"[email]", "/v1/ocr"},
			notWant: []string{"zhang.san@example.com"},
		},
		{
			name: "payload keys",
			log: func(l *zap.Logger) {
				l.Info("m", zap.String("text", "张三"), zap.Int("lines", 3), zap.String("request_body", "{}"))
			},
			want:    []string{"[redacted]"},
			notWant: []string{"张三", "{}", `"lines":3`, `"lines": 3`},
		},
		{
			name: "credential keys",
			log: func(l *zap.Logger) {
				l.Info("m", zap.String("Authorization", "Basic dXNlcjpwYXNz"), zap.Int("password", 1234), zap.Bool("has_token", true))
			},
			want:    []string{"[masked]", "true"},
			notWant: []string{"dXNlcjpwYXNz", "1234"},
		},
		{
			name: "error",
			log: func(l *zap.Logger) {
				l.Error("failed", zap.Error(fmt.Errorf("open %s: %w", validID, errors.New("denied"))))
			},
			want:    []string{"open [id-number]: denied"},
			notWant: []string{validID},
		},
		{
			name:    "stringer",
			log:     func(l *zap.Logger) { l.Info("m", zap.Stringer("session", jwtStringer{})) },
			want:    []string{"session [jwt]"},
			notWant: []string{"eyJ"},
		},
		{
			name: "binary and byte string",
			log: func(l *zap.Logger) {
				l.Info("m", zap.Binary("blob", []byte("secret bytes")), zap.ByteString("name", []byte("plain words")))
			},
			want:    []string{"[redacted]"},
			notWant: []string{"secret bytes", "plain words", base64Of("secret bytes"), base64Of("plain words")},
		},
		{
			name: "any struct",
			log: func(l *zap.Logger) {
				r := request{
					Method:  "POST",
					Phone:   mobile,
					Body:    []byte("image bytes"),
					Raw:     []byte("raw"),
					Header:  http.Header{"Authorization": {"Bearer abc"}, "Cookie": {"sid=1"}, "Accept": {"image/png"}},
					Skipped: "skipped " + mobile,
					Err:     errors.New("card " + validCard),
				}
				r.Nested.Token = "opaque-token-value"
				r.Nested.Email = "n@example.com"
				r.Card = validCard19
				l.Info("m", zap.Any("req", r))
			},
			want: []string{"POST", "[phone]", "Accept", "image/png", `[masked]`, "card [card]", "[email]"},
			notWant: []string{mobile, "image bytes", base64Of("image bytes"), "Bearer abc", "sid=1", "skipped",
				"empty", validCard, validCard19, "opaque-token-value", "n@example.com"},
		},
		{
			name: "any map and header",
			log: func(l *zap.Logger) {
				l.Info("m",
					zap.Any("m", map[string]any{"text": "识别结果", "email": "a@b.io", "n": 13812345678, "list": []any{validID, []byte("x")}}),
					zap.Any("hdr", http.Header{"X-Api-Key": {"k-123"}, "Set-Cookie": {"a=b"}, "User-Agent": {"curl/8"}}),
					zap.Any("ids", map[int64]string{13812345678: "key is a phone"}),
				)
			},
			want:    []string{"[redacted]", "[email]", "[phone]", "[id-number]", "X-Api-Key", "[masked]", "curl/8"},
			notWant: []string{"识别结果", "a@b.io", mobile, validID, "k-123", "a=b"},
		},
		{
			name: "nested object and array",
			log: func(l *zap.Logger) {
				l.Info("m", zap.Object("person", person{
					name: "Li Si", phone: "+86 138 1234 5678", password: "pw", photo: []byte("jpeg"),
					emails: []string{"li.si@example.com"},
				}))
			},
			want:    []string{"Li Si", "+[phone]", "[masked]", "[redacted]", "[email]", "[card]", "id [id-number]"},
			notWant: []string{"1234 5678", `"pw"`, "jpeg", base64Of("jpeg"), "li.si@", "raw bytes", validCard, validID, "deep@", "t0ps3cret", mobile},
		},
		{
			name: "array, dict, inline, namespace",
			log: func(l *zap.Logger) {
				l.Info("m",
					zap.Strings("emails", []string{"x@y.com", "ok"}),
					zap.Int64s("numbers", []int64{1, 13812345678}),
					zap.Dict("d", zap.String("phone", mobile), zap.Binary("image", []byte{1, 2})),
					zap.Inline(zapcore.ObjectMarshalerFunc(func(o zapcore.ObjectEncoder) error {
						o.AddString("inline", validID)
						return nil
					})),
					zap.Namespace("ns"),
					zap.String("inner", "Bearer abc.def"),
				)
			},
			want:    []string{"[email]", `"ok"`, "[phone]", "[redacted]", "[id-number]", "Bearer [token]"},
			notWant: []string{"x@y.com", mobile, validID, "abc.def"},
		},
		{
			name: "with fields",
			log: func(l *zap.Logger) {
				child := l.With(zap.String("user", "w@example.com"), zap.Binary("image", []byte("png")), zap.String("token", "tkn"))
				child.Info("from child " + mobile)
				child.With(zap.String("more", validID)).Info("grandchild")
			},
			want:    []string{"[email]", "[redacted]", "[masked]", "from child [phone]", "[id-number]"},
			notWant: []string{"w@example.com", "png", base64Of("png"), "tkn", mobile, validID},
		},
		{
			name: "core with (clone)",
			log: func(l *zap.Logger) {
				core := l.Core().With([]zapcore.Field{zap.String("owner", "c@example.com"), zap.String("key", "k")})
				zap.New(core).Info("cloned")
				l.Info("parent")
			},
			want:    []string{"cloned", "[email]", "[masked]", "parent"},
			notWant: []string{"c@example.com", `"k"`},
		},
		{
			name:    "logger name",
			log:     func(l *zap.Logger) { l.Named("svc").Named("a@b.io").Info("m") },
			want:    []string{"[email]"},
			notWant: []string{"a@b.io"},
		},
		{
			name: "large integers",
			log: func(l *zap.Logger) {
				l.Info("m", zap.Int64("a", 13812345678), zap.Uint64("b", 4111111111111111), zap.Int("c", 1234567890123))
			},
			want:    []string{"[phone]", "[card]", "1234567890123"},
			notWant: []string{mobile, validCard},
		},
	}
	for _, format := range []string{"json", "console"} {
		for _, tt := range tests {
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				l, buf := newTestLogger(t, format)
				tt.log(l)
				out := buf.String()
				for _, w := range tt.want {
					if !strings.Contains(out, w) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
				}
				for _, nw := range tt.notWant {
					if strings.Contains(out, nw) {
						t.Errorf("output contains %q:\n%s", nw, out)
					}
				}
				if format == "json" {
					checkJSONLines(t, out)
				}
			})
		}
	}
}

// base64Of is how zap.Binary would have written b.
func base64Of(s string) string {
	b, _ := json.Marshal([]byte(s))
	return strings.Trim(string(b), `"`)
}

// checkJSONLines fails unless every line of out is a JSON object.
func checkJSONLines(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("invalid JSON line %q: %v", line, err)
		}
	}
}

func TestWithDoesNotLeakIntoParent(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			l, buf := newTestLogger(t, format)
			_ = l.With(zap.String("child_only", "x"))
			l.Info("parent")
			zap.New(l.Core().With([]zapcore.Field{zap.String("clone_only", "y")})).Info("clone")
			l.Info("parent again")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 3 {
				t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf)
			}
			if strings.Contains(lines[0], "child_only") || strings.Contains(lines[2], "clone_only") {
				t.Errorf("child fields leaked into parent:\n%s", buf)
			}
			if !strings.Contains(lines[1], "clone_only") {
				t.Errorf("clone lost its field:\n%s", buf)
			}
		})
	}
}

func TestHashedIdentifiers(t *testing.T) {
	decode := func(t *testing.T, out string) []map[string]any {
		t.Helper()
		var entries []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("bad line %q: %v", line, err)
			}
			entries = append(entries, m)
		}
		return entries
	}
	l, buf := newTestLogger(t, "json")
	l.Info("a", KeyID("key-2024-01"), Subject(mobile))
	l.With(KeyID("key-2024-01")).Info("b", Subject(mobile))
	l.Info("c", KeyID("key-2024-02"), Subject("key-2024-01"))
	l.Info("d", zap.Array("ids", zapcore.ArrayMarshalerFunc(func(a zapcore.ArrayEncoder) error {
		return a.AppendReflected(hashed{prefix: "kid", id: "key-2024-01"})
	})), zap.Any("nested", map[string]any{"k": hashed{prefix: "kid", id: "key-2024-01"}}))
	out := buf.String()
	for _, secret := range []string{"key-2024-01", "key-2024-02", mobile} {
		if strings.Contains(out, secret) {
			t.Errorf("output contains %q:\n%s", secret, out)
		}
	}
	e := decode(t, out)
	kid := e[0]["key_id"].(string)
	sub := e[0]["subject"].(string)
	tests := []struct {
		name string
		got  any
		want any
		same bool
	}{
		{"kid shape", len(kid) == len("kid:")+16 && strings.HasPrefix(kid, "kid:"), true, true},
		{"sub shape", len(sub) == len("sub:")+16 && strings.HasPrefix(sub, "sub:"), true, true},
		{"kid stable across lines and With", e[1]["key_id"], kid, true},
		{"sub stable", e[1]["subject"], sub, true},
		{"different ids differ", e[2]["key_id"], kid, false},
		{"subject domain differs from key id", e[2]["subject"].(string)[4:], kid[4:], false},
		{"array element hashed", e[3]["ids"].([]any)[0], kid, true},
		{"reflected value hashed", e[3]["nested"].(map[string]any)["k"], kid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.got == tt.want) != tt.same {
				t.Errorf("got %v, want %v (same=%v)", tt.got, tt.want, tt.same)
			}
		})
	}

	t.Run("other key gives other hash", func(t *testing.T) {
		var buf2 bytes.Buffer
		l2, err := New(Options{Output: &buf2, HashKey: bytes.Repeat([]byte{7}, 32)})
		if err != nil {
			t.Fatal(err)
		}
		l2.Info("a", KeyID("key-2024-01"))
		if got := decode(t, buf2.String())[0]["key_id"]; got == kid {
			t.Errorf("same hash %v under a different key", got)
		}
	})
	t.Run("fmt does not reveal the id", func(t *testing.T) {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, KeyID("key-2024-01")); strings.Contains(s, "key-2024-01") {
				t.Errorf("%s of the field reveals the id: %s", verb, s)
			}
		}
	})
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr []error
	}{
		{"zero value", Options{Output: io.Discard}, nil},
		{"all set", Options{Level: "WARN", Format: "Console", Output: io.Discard, HashKey: testKey}, nil},
		{"bad level", Options{Level: "verbose", Output: io.Discard}, []error{ErrUnknownLevel}},
		{"bad format", Options{Format: "xml", Output: io.Discard}, []error{ErrUnknownFormat}},
		{"short key", Options{HashKey: []byte("short"), Output: io.Discard}, []error{ErrShortHashKey}},
		{"empty non-nil key", Options{HashKey: []byte{}, Output: io.Discard}, []error{ErrShortHashKey}},
		{"everything wrong", Options{Level: "x", Format: "y", HashKey: []byte("z")}, []error{ErrUnknownLevel, ErrUnknownFormat, ErrShortHashKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(tt.opts)
			if len(tt.wantErr) == 0 {
				if err != nil || l == nil {
					t.Fatalf("New = %v, %v; want a logger", l, err)
				}
				return
			}
			if err == nil || l != nil {
				t.Fatalf("New = %v, %v; want an error", l, err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error %q does not wrap %q", err, want)
				}
			}
		})
	}
}

func TestLevels(t *testing.T) {
	tests := []struct {
		level   string
		written []string
	}{
		{"debug", []string{"D", "I", "W", "E"}},
		{"", []string{"I", "W", "E"}},
		{"info", []string{"I", "W", "E"}},
		{"warn", []string{"W", "E"}},
		{"error", []string{"E"}},
	}
	for _, tt := range tests {
		t.Run("level="+tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := New(Options{Level: tt.level, Output: &buf})
			if err != nil {
				t.Fatal(err)
			}
			l.Debug("D")
			l.Info("I")
			l.Warn("W")
			l.Error("E")
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var m struct{ Msg string }
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatal(err)
				}
				got = append(got, m.Msg)
			}
			if strings.Join(got, ",") != strings.Join(tt.written, ",") {
				t.Errorf("written %v, want %v", got, tt.written)
			}
		})
	}
}

// TestCanaries logs many lines from many goroutines, in every way the
// package supports, and checks that no canary reaches the output.
func TestCanaries(t *testing.T) {
	canaries := []string{
		validID, validID[:17], // the ID number, also without its check character
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", // the JWT header segment
		"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
		"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7", "PRIVATE KEY",
		"canary.user@example.com",
		mobile, "138 1234 5678",
		validCard, "4111 1111",
		"hunter2",
	}
	values := []string{
		validID,
		sampleJWT,
		"Bearer " + sampleJWT,
		samplePEM,
		"canary.user@example.com",
		"手机 138 1234 5678",
		"card 4111 1111 1111 1111",
		"login?password=hunter2&user=x",
		fmt.Sprintf("%s|%s|%s", validID, "canary.user@example.com", samplePEM),
	}
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			l, buf := newTestLogger(t, format)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					lg := l.With(zap.String("with", values[g%len(values)]))
					for i := range 50 {
						v := values[(g+i)%len(values)]
						lg.Info(v,
							zap.String("s", v),
							zap.String("text", v),
							zap.ByteString("bs", []byte(v)),
							zap.Error(errors.New(v)),
							zap.Stringer("st", stringerFunc(v)),
							zap.Any("any", map[string]any{"v": v, "list": []string{v}, "h": http.Header{"Authorization": {v}}}),
							zap.Strings("arr", []string{v}),
							zap.Dict("obj", zap.String("v", v)),
							zap.Duration("took", time.Millisecond),
						)
					}
				}()
			}
			wg.Wait()
			out := buf.String()
			if n := strings.Count(out, "\n"); n != 8*50 {
				t.Fatalf("got %d lines, want %d", n, 8*50)
			}
			for _, c := range canaries {
				if strings.Contains(out, c) {
					t.Errorf("canary %q leaked", c)
				}
			}
			if format == "json" {
				checkJSONLines(t, out)
			}
		})
	}
}

// stringerFunc is a fmt.Stringer returning itself.
type stringerFunc string

func (s stringerFunc) String() string { return string(s) }

// panicker panics when logged with zap.Any.
type panicker struct{}

func (panicker) MarshalJSON() ([]byte, error) { panic("boom " + mobile) }

func TestPanickingValue(t *testing.T) {
	l, buf := newTestLogger(t, "json")
	l.Info("m", zap.Any("p", panicker{}))
	out := buf.String()
	if !strings.Contains(out, `"p":"[redacted]"`) || strings.Contains(out, mobile) {
		t.Errorf("unexpected output %s", out)
	}
}

// BenchmarkAccessLog logs a typical access-log line through the redacting
// encoder; BenchmarkAccessLogPlainZap is the same line through zap's JSON
// encoder alone, for comparison.
func BenchmarkAccessLog(b *testing.B) {
	l, err := New(Options{Output: io.Discard, HashKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	benchAccessLog(b, l.WithOptions(zap.WithCaller(false)))
}

func BenchmarkAccessLogPlainZap(b *testing.B) {
	cfg := zap.NewProductionEncoderConfig()
	core := zapcore.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.AddSync(io.Discard), zapcore.InfoLevel)
	benchAccessLog(b, zap.New(core))
}

func benchAccessLog(b *testing.B, l *zap.Logger) {
	l = l.With(zap.String("component", "gateway"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Info("request",
				zap.String("method", "POST"),
				zap.String("path", "/v1/ocr/idcard"),
				zap.Int("status", 200),
				zap.Duration("took", 42*time.Millisecond),
				zap.String("remote", "10.1.2.3:53422"),
				zap.String("user_agent", "sealctl/1.4.0 (linux; amd64) go1.26.8"),
				zap.String("request_id", "123e4567-e89b-12d3-a456-426614174000"),
				zap.Int64("bytes_in", 183422),
				zap.Int64("bytes_out", 2211),
				KeyID("psk-2024-01"),
			)
		}
	})
}

func BenchmarkRedact(b *testing.B) {
	inputs := []struct{ name, s string }{
		{"clean short", "/v1/ocr/idcard"},
		{"clean long", "sealctl/1.4.0 (linux; amd64) go1.26.8 with a longer tail of harmless words"},
		{"dirty", "user " + mobile + " id " + validID + " card " + validCard + " mail a@b.io"},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Redact(in.s)
			}
		})
	}
}
