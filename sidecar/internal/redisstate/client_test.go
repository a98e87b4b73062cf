package redisstate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sealocr/sealocr/sidecar/internal/redisstate/redistest"
)

const canary = "canary-Pa55w0rd-7f3e"

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	notPEM := filepath.Join(dir, "ca.pem")
	_ = os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	env := func(k string) string {
		if k == "REDIS_PW" {
			return canary
		}
		return ""
	}
	cases := []struct {
		name     string
		o        Options
		redacted string
		wantErr  []string // substrings of the error, each must appear
	}{
		{name: "tcp", o: Options{URL: "redis://127.0.0.1:6380/2"}, redacted: "redis://127.0.0.1:6380/2"},
		{name: "user and password file", o: Options{URL: "redis://sidecar@redis.example:6379", PasswordFile: pwFile},
			redacted: "redis://sidecar@redis.example:6379"},
		{name: "password env", o: Options{URL: "rediss://redis.example", PasswordEnv: "REDIS_PW", Getenv: env},
			redacted: "rediss://redis.example"},
		{name: "unix", o: Options{URL: "unix:///run/redis/redis.sock?db=3&client_name=sidecar"},
			redacted: "unix:///run/redis/redis.sock?db=3"},
		{name: "password in URL", o: Options{URL: "redis://user:" + canary + "@h:1"}, wantErr: []string{"must not carry a password"}},
		{name: "password only in URL", o: Options{URL: "redis://:" + canary + "@h:1"}, wantErr: []string{"must not carry a password"}},
		{name: "scheme", o: Options{URL: "http://h:1"}, wantErr: []string{`scheme "http"`}},
		{name: "empty", o: Options{}, wantErr: []string{"not a valid"}},
		{name: "unparsable", o: Options{URL: "redis://user:" + canary + "@h:1:x:%zz"}, wantErr: []string{"not a valid"}},
		{name: "skip_verify refused", o: Options{URL: "rediss://h?skip_verify=true"}, wantErr: []string{`"skip_verify" is not supported`}},
		{name: "timeouts by option only", o: Options{URL: "redis://h?read_timeout=10s"}, wantErr: []string{`"read_timeout"`}},
		{name: "db query on tcp", o: Options{URL: "redis://h?db=1"}, wantErr: []string{"db is for unix"}},
		{name: "two password sources", o: Options{URL: "redis://h", PasswordFile: pwFile, PasswordEnv: "REDIS_PW", Getenv: env},
			wantErr: []string{"not both"}},
		{name: "empty env", o: Options{URL: "redis://h", PasswordEnv: "UNSET_PW", Getenv: env}, wantErr: []string{"UNSET_PW is empty"}},
		{name: "empty file", o: Options{URL: "redis://h", PasswordFile: empty}, wantErr: []string{"is empty"}},
		{name: "missing file", o: Options{URL: "redis://h", PasswordFile: filepath.Join(dir, "nope")}, wantErr: []string{"reading the password file"}},
		{name: "CA without TLS", o: Options{URL: "redis://h", CAFile: notPEM}, wantErr: []string{"needs a rediss"}},
		{name: "CA not PEM", o: Options{URL: "rediss://h", CAFile: notPEM}, wantErr: []string{"no PEM certificate"}},
		{name: "negative timeout", o: Options{URL: "redis://h", Timeout: -time.Second}, wantErr: []string{"negative"}},
		{name: "all at once", o: Options{URL: "redis://u:" + canary + "@h?x=1", Timeout: -1},
			wantErr: []string{"must not carry a password", `"x"`, "negative"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(tc.o)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Open accepted %+v", tc.o)
				}
				if !errors.Is(err, ErrConfig) {
					t.Errorf("error does not wrap ErrConfig: %v", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), canary) {
					t.Errorf("error reveals the password: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.Redacted(); got != tc.redacted {
				t.Errorf("Redacted() = %q, want %q", got, tc.redacted)
			}
			if c.String() != c.Redacted() || strings.Contains(c.Redacted(), canary) {
				t.Errorf("String/Redacted leak or differ: %q %q", c.String(), c.Redacted())
			}
			if c.Timeout() != DefaultTimeout {
				t.Errorf("Timeout() = %s, want the default %s", c.Timeout(), DefaultTimeout)
			}
		})
	}
}

// TestConnect talks to real servers over TCP with a password, over a unix
// socket and over TLS with a CA file.
func TestConnect(t *testing.T) {
	ctx := context.Background()
	t.Run("tcp password file", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{Password: canary})
		pw := filepath.Join(t.TempDir(), "pw")
		_ = os.WriteFile(pw, []byte(canary+"\r\n"), 0o600)
		mustPing(t, Options{URL: srv.URL, PasswordFile: pw, Timeout: testTimeout})
		// Without the password, or with a wrong one, Redis refuses.
		for _, o := range []Options{{URL: srv.URL, Timeout: testTimeout},
			{URL: srv.URL, PasswordEnv: "P", Getenv: func(string) string { return "wrong" }, Timeout: testTimeout}} {
			c, err := Open(o)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Ping(ctx)
			_ = c.Close()
			if err == nil || !errors.Is(err, ErrUnavailable) {
				t.Errorf("ping without the right password: %v, want an ErrUnavailable", err)
			}
		}
	})
	t.Run("password env", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{Password: canary})
		t.Setenv("SEALOCR_TEST_REDIS_PW", canary)
		mustPing(t, Options{URL: srv.URL, PasswordEnv: "SEALOCR_TEST_REDIS_PW", Timeout: testTimeout})
	})
	t.Run("unix socket", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{Unix: true})
		mustPing(t, Options{URL: srv.URL + "?db=1", Timeout: testTimeout})
	})
	t.Run("tls with CA file", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{TLS: true})
		mustPing(t, Options{URL: srv.URL, CAFile: srv.CAFile, Timeout: testTimeout})
		// The system roots do not know the test CA: the handshake fails.
		c, err := Open(Options{URL: srv.URL, Timeout: testTimeout})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Ping(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("ping with untrusted server certificate: %v, want a certificate error", err)
		}
	})
}

func mustPing(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("ping %s: %v", c.Redacted(), err)
	}
	return c
}

func TestSetLogger(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	SetLogger(zap.New(core))
	defer SetLogger(zap.NewNop())
	c, err := Open(Options{URL: "redis://127.0.0.1:1", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("ping to port 1 succeeded")
	}
	if logs.FilterMessageSnippet("failed to dial").Len() == 0 {
		t.Errorf("go-redis's dial failure did not reach the zap logger: %v", logs.All())
	}
	for _, e := range logs.All() {
		if e.LoggerName != "redis" || e.Level != zap.WarnLevel {
			t.Errorf("entry %q from %q at %v, want logger redis at warn", e.Message, e.LoggerName, e.Level)
		}
	}
}
