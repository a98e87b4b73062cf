package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedisValidation(t *testing.T) {
	const secret = "hunter2-redis-s3cr3t"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // substrings of the error; nil: valid
	}{
		{"off by default", nil, nil},
		{"tcp", map[string]string{"SEALOCR_REDIS_URL": "redis://redis.internal:6379/0"}, nil},
		{"tls with CA and password file", map[string]string{"SEALOCR_REDIS_URL": "rediss://sealocr@redis.internal",
			"SEALOCR_REDIS_CA_FILE": "/run/ca.pem", "SEALOCR_REDIS_PASSWORD_FILE": "/run/pw"}, nil},
		{"unix", map[string]string{"SEALOCR_REDIS_URL": "unix:///run/redis.sock?db=2", "SEALOCR_REDIS_PASSWORD_ENV": "PW"}, nil},
		{"password in URL", map[string]string{"SEALOCR_REDIS_URL": "redis://u:" + secret + "@redis.internal"},
			[]string{"must not carry a password"}},
		{"bad scheme", map[string]string{"SEALOCR_REDIS_URL": "http://redis.internal"}, []string{`scheme "http"`}},
		{"timeouts from the option", map[string]string{"SEALOCR_REDIS_URL": "redis://r?read_timeout=1s"}, []string{"read_timeout"}},
		{"both password sources", map[string]string{"SEALOCR_REDIS_URL": "redis://r", "SEALOCR_REDIS_PASSWORD_FILE": "/p",
			"SEALOCR_REDIS_PASSWORD_ENV": "PW"}, []string{"not both"}},
		{"CA without TLS", map[string]string{"SEALOCR_REDIS_URL": "redis://r", "SEALOCR_REDIS_CA_FILE": "/ca.pem"}, []string{"rediss://"}},
		{"relative files", map[string]string{"SEALOCR_REDIS_URL": "rediss://r", "SEALOCR_REDIS_CA_FILE": "ca.pem"},
			[]string{`redis.ca_file "ca.pem" is not an absolute path`}},
		{"timeout range", map[string]string{"SEALOCR_REDIS_URL": "redis://r", "SEALOCR_REDIS_TIMEOUT": "1ms"}, []string{"redis.timeout 1ms"}},
		{"empty prefix", map[string]string{"SEALOCR_REDIS_URL": "redis://r", "SEALOCR_REDIS_PREFIX": "a b"}, []string{"redis.prefix"}},
		{"password without URL", map[string]string{"SEALOCR_REDIS_PASSWORD_FILE": "/p"}, []string{"redis.password_file is set but redis.url is empty"}},
		{"fail policy", map[string]string{"SEALOCR_RATE_LIMIT_FAIL": "maybe"}, []string{`rate_limit.fail "maybe"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tc.env {
				env[k] = v
			}
			c, _ := load(t, nil, envMap(env))
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(c.Redacted(), secret) {
				t.Errorf("the password is printed: %v\n%s", err, c.Redacted())
			}
		})
	}
}

// TestRedisCheckEnvironment: the password file, the password variable and
// the CA file are read by CheckEnvironment, and their content never shows.
func TestRedisCheckEnvironment(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cr3t-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("s3cr3t-pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" valid
	}{
		{"password file", map[string]string{"SEALOCR_REDIS_URL": "redis://r", "SEALOCR_REDIS_PASSWORD_FILE": pw}, ""},
		{"missing password file", map[string]string{"SEALOCR_REDIS_URL": "redis://r", "SEALOCR_REDIS_PASSWORD_FILE": pw + ".missing"}, "password file"},
		{"password variable", map[string]string{"SEALOCR_REDIS_URL": "redis://r", "SEALOCR_REDIS_PASSWORD_ENV": "PW", "PW": "s3cr3t-pw"}, ""},
		{"unset password variable", map[string]string{"SEALOCR_REDIS_URL": "redis://r", "SEALOCR_REDIS_PASSWORD_ENV": "PW"}, "PW is empty or unset"},
		{"CA not PEM", map[string]string{"SEALOCR_REDIS_URL": "rediss://r", "SEALOCR_REDIS_CA_FILE": notPEM}, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tc.env {
				env[k] = v
			}
			c, _ := load(t, nil, envMap(env))
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			err := c.CheckEnvironment(envMap(env))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckEnvironment: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("CheckEnvironment = %v, want %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "s3cr3t"):
				t.Fatalf("the password is printed: %v", err)
			}
		})
	}
}
