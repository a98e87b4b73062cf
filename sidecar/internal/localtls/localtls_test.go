package localtls

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ensure(t *testing.T, dir string, now time.Time) *Local {
	t.Helper()
	l, err := Ensure(dir, now)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return l
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseCert parses the one certificate in the PEM file at path.
func parseCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(read(t, path))
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s does not hold exactly one certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "sealocr") // parents do not exist yet
	l := ensure(t, dir, t0)
	if !l.CACreated || !l.LeafIssued {
		t.Errorf("CACreated %v LeafIssued %v, want both", l.CACreated, l.LeafIssued)
	}
	if l.CAPath != filepath.Join(dir, "ca.pem") || l.CertPath != filepath.Join(dir, "tls", "cert.pem") ||
		l.KeyPath != filepath.Join(dir, "tls", "key.pem") {
		t.Errorf("paths %q %q %q", l.CAPath, l.CertPath, l.KeyPath)
	}
	ca := parseCert(t, l.CAPath)
	leaf := parseCert(t, l.CertPath)
	checks := []struct {
		name string
		ok   bool
	}{
		{"CA name", ca.Subject.CommonName == CAName},
		{"CA is CA", ca.IsCA && ca.BasicConstraintsValid && ca.MaxPathLenZero},
		{"CA ten years", ca.NotAfter.Equal(t0.Add(CAValidity).Truncate(time.Second))},
		{"CA P-256", ca.PublicKeyAlgorithm == x509.ECDSA && ca.SignatureAlgorithm == x509.ECDSAWithSHA256},
		{"leaf one year", leaf.NotAfter.Equal(t0.Add(LeafValidity).Truncate(time.Second)) && l.NotAfter.Equal(leaf.NotAfter)},
		{"leaf not CA", !leaf.IsCA},
		{"leaf server auth", len(leaf.ExtKeyUsage) == 1 && leaf.ExtKeyUsage[0] == x509.ExtKeyUsageServerAuth},
		{"leaf P-256", leaf.PublicKeyAlgorithm == x509.ECDSA},
		{"leaf signed by CA", leaf.CheckSignatureFrom(ca) == nil},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Error("failed")
			}
		})
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		t.Run("covers "+name, func(t *testing.T) {
			if err := leaf.VerifyHostname(name); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ensure(t, dir, t0)
	for _, tc := range []struct {
		path string
		mode os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{filepath.Join(dir, "tls"), 0o700 | os.ModeDir},
		{filepath.Join(dir, "ca-key.pem"), 0o600},
		{filepath.Join(dir, "tls", "key.pem"), 0o600},
		{filepath.Join(dir, "ca.pem"), 0o644},
		{filepath.Join(dir, "tls", "cert.pem"), 0o644},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != tc.mode {
				t.Errorf("mode %v, want %v", got, tc.mode)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 { // ca.pem, ca-key.pem, tls: no temporary files left
		t.Errorf("state folder holds %d entries", len(entries))
	}
}

func TestReuse(t *testing.T) {
	dir := t.TempDir()
	ensure(t, dir, t0)
	ca1 := read(t, filepath.Join(dir, "ca.pem"))
	cakey1 := read(t, filepath.Join(dir, "ca-key.pem"))
	leaf1 := read(t, filepath.Join(dir, "tls", "cert.pem"))

	l := ensure(t, dir, t0.Add(24*time.Hour))
	if l.CACreated || l.LeafIssued {
		t.Errorf("CACreated %v LeafIssued %v on reuse", l.CACreated, l.LeafIssued)
	}
	if !bytes.Equal(ca1, read(t, l.CAPath)) || !bytes.Equal(cakey1, read(t, filepath.Join(dir, "ca-key.pem"))) {
		t.Error("CA changed on second call")
	}
	if !bytes.Equal(leaf1, read(t, l.CertPath)) {
		t.Error("leaf changed on second call")
	}
}

func TestReissue(t *testing.T) {
	for _, tc := range []struct {
		name    string
		now     time.Time
		prepare func(t *testing.T, dir string)
		newCA   bool
		reissue bool
	}{
		{name: "valid", now: t0.Add(300 * 24 * time.Hour)},
		{name: "within 30 days", now: t0.Add(LeafValidity - 29*24*time.Hour), reissue: true},
		{name: "expired", now: t0.Add(LeafValidity + time.Hour), reissue: true},
		{name: "clock before leaf", now: t0.Add(-48 * time.Hour), reissue: true},
		{name: "leaf deleted", now: t0, reissue: true, prepare: func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "tls", "cert.pem"))
		}},
		{name: "leaf corrupt", now: t0, reissue: true, prepare: func(t *testing.T, dir string) {
			_ = os.WriteFile(filepath.Join(dir, "tls", "cert.pem"), []byte("junk"), 0o644)
		}},
		{name: "CA changed", now: t0, newCA: true, reissue: true, prepare: func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "ca.pem"))
			_ = os.Remove(filepath.Join(dir, "ca-key.pem"))
		}},
		{name: "CA expired", now: t0.Add(CAValidity + time.Hour), newCA: true, reissue: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ensure(t, dir, t0)
			ca1 := read(t, filepath.Join(dir, "ca.pem"))
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			l := ensure(t, dir, tc.now)
			if l.CACreated != tc.newCA || l.LeafIssued != tc.reissue {
				t.Errorf("CACreated %v LeafIssued %v, want %v %v", l.CACreated, l.LeafIssued, tc.newCA, tc.reissue)
			}
			if bytes.Equal(ca1, read(t, l.CAPath)) == tc.newCA {
				t.Errorf("CA bytes changed: %v, want %v", !tc.newCA, tc.newCA)
			}
			ca, leaf := parseCert(t, l.CAPath), parseCert(t, l.CertPath)
			if err := leaf.CheckSignatureFrom(ca); err != nil {
				t.Errorf("leaf not signed by current CA: %v", err)
			}
			if tc.reissue && !leaf.NotAfter.Equal(tc.now.Add(LeafValidity).Truncate(time.Second)) {
				t.Errorf("new leaf expires %v", leaf.NotAfter)
			}
		})
	}
}

func TestRefusesBadCA(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
	}{
		{"key readable by others", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "ca-key.pem"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"mismatched pair", func(t *testing.T, dir string) {
			other := t.TempDir()
			ensure(t, other, t0)
			b := read(t, filepath.Join(other, "ca.pem"))
			if err := os.WriteFile(filepath.Join(dir, "ca.pem"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"corrupt certificate", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("junk"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"leaf as CA", func(t *testing.T, dir string) {
			for _, p := range [][2]string{{"tls/cert.pem", "ca.pem"}, {"tls/key.pem", "ca-key.pem"}} {
				b := read(t, filepath.Join(dir, p[0]))
				if err := os.WriteFile(filepath.Join(dir, p[1]), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ensure(t, dir, t0)
			tc.prepare(t, dir)
			before := read(t, filepath.Join(dir, "ca.pem"))
			if _, err := Ensure(dir, t0); err == nil {
				t.Fatal("Ensure succeeded")
			}
			if !bytes.Equal(before, read(t, filepath.Join(dir, "ca.pem"))) {
				t.Error("Ensure overwrote the CA")
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	dir := t.TempDir()
	l := ensure(t, dir, time.Now())
	ln, err := tls.Listen("tcp", "127.0.0.1:0", l.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(read(t, l.CAPath)) {
		t.Fatal("ca.pem holds no certificate")
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		t.Run(name, func(t *testing.T) {
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: name},
				ForceAttemptHTTP2: true,
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "tcp", addr) // the server listens on 127.0.0.1 only
				},
			}
			defer tr.CloseIdleConnections()
			host := name
			if ip := net.ParseIP(name); ip != nil && ip.To4() == nil {
				host = "[" + name + "]"
			}
			res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + host + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if string(body) != "HTTP/2.0" {
				t.Errorf("protocol %q, want HTTP/2.0 via ALPN", body)
			}
			if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
				t.Errorf("TLS state %+v", res.TLS)
			}
		})
	}
	t.Run("untrusted", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: x509.NewCertPool()})
		if err == nil {
			conn.Close()
			t.Fatal("handshake succeeded without trusting ca.pem")
		}
	})
	t.Run("other name", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "example.com", RootCAs: roots})
		if err == nil {
			conn.Close()
			t.Fatal("handshake succeeded for a name the leaf does not cover")
		}
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: roots, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
}
