package tlsterm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLocal(t *testing.T) {
	term, err := New(Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if term.Mode() != ModeLocal || term.CAPath() == "" {
		t.Fatalf("mode %q CA %q", term.Mode(), term.CAPath())
	}
	c := term.TLSConfig()
	if c.MinVersion != tls.VersionTLS12 || strings.Join(c.NextProtos, ",") != "h2,http/1.1" {
		t.Errorf("TLS config: min %x ALPN %v", c.MinVersion, c.NextProtos)
	}
	cert, err := c.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	if err != nil || cert == nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	if err := term.Start(t.Context()); err != nil {
		t.Error(err)
	}
	term.Stop()

	// The plain-HTTP handler redirects only hosts the sidecar serves.
	h := term.HTTPHandler()
	for host, want := range map[string]int{"localhost:8080": 308, "127.0.0.1": 308, "evil.example": 421} {
		r := httptest.NewRequest(http.MethodPost, "http://"+host+"/v1/ocr?x=1", strings.NewReader("body"))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", host, w.Code, want)
		}
		if want == 308 && w.Header().Get("Location") != "https://"+strings.TrimSuffix(host, ":8080")+"/v1/ocr?x=1" {
			t.Errorf("%s: Location %q", host, w.Header().Get("Location"))
		}
	}
}

// writePair writes a self-signed certificate for name into dir.
func writePair(t *testing.T, dir, name string, notAfter time.Time) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	cp, kp := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cp, kp
}

func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	cp, kp := writePair(t, dir, "one.example", time.Now().Add(time.Hour))
	now := time.Now()
	term, err := New(Options{Mode: ModeFiles, CertFile: cp, KeyFile: kp, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		c, err := term.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.Subject.CommonName
	}
	if got := get(); got != "one.example" {
		t.Fatalf("served %s", got)
	}
	// A renewed pair is picked up on the next check, at most once a second.
	writePair(t, dir, "two.example", time.Now().Add(2*time.Hour))
	if got := get(); got != "one.example" {
		t.Errorf("reloaded within the second: %s", got)
	}
	now = now.Add(1100 * time.Millisecond)
	if got := get(); got != "two.example" {
		t.Errorf("after the change: %s", got)
	}
	// A broken update keeps the previous pair.
	if err := os.WriteFile(kp, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second)
	if got := get(); got != "two.example" {
		t.Errorf("after a broken update: %s", got)
	}
	if !term.servesHost("two.example") || term.servesHost("evil.example") {
		t.Error("servesHost")
	}

	if _, err := New(Options{Mode: ModeFiles, CertFile: cp}); !errors.Is(err, ErrConfig) {
		t.Errorf("no key file: %v", err)
	}
	if _, err := New(Options{Mode: ModeFiles, CertFile: cp, KeyFile: kp}); err == nil {
		t.Error("broken key file accepted at start")
	}
}

func TestACMEOptions(t *testing.T) {
	_, err := New(Options{Mode: ModeACME, ACME: ACME{
		Challenges: []string{"dns-01"}, CARoot: "/nonexistent/root.pem", OnDemand: OnDemand{Ask: "ftp://x", Allow: []string{"*.*.example"}},
	}})
	if err == nil {
		t.Fatal("New succeeded")
	}
	for _, w := range []string{"storage_dir", "dns-01", "root.pem", "on_demand_ask", "*.*.example"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %s: %v", w, err)
		}
	}
	if _, err := New(Options{Mode: ModeACME, ACME: ACME{StorageDir: t.TempDir()}}); err == nil || !strings.Contains(err.Error(), "domains is empty") {
		t.Errorf("no domains: %v", err)
	}
	if _, err := New(Options{Mode: "bogus"}); !errors.Is(err, ErrConfig) {
		t.Errorf("bogus mode: %v", err)
	}
}

func TestMatch(t *testing.T) {
	patterns := []string{"ocr.example.com", "*.customers.example.com"}
	for name, want := range map[string]bool{
		"ocr.example.com": true, "OCR.example.com": true, "a.customers.example.com": true,
		"customers.example.com": false, "a.b.customers.example.com": false, "x.example.com": false,
		".customers.example.com": false,
	} {
		if got := matchAny(patterns, name); got != want {
			t.Errorf("matchAny(%s) = %v", name, got)
		}
	}
	for p, want := range map[string]bool{"a.b": true, "*.a.b": true, "*": false, "a..b": false, "a/b": false, "*.*.a": false, "": false} {
		if got := validPattern(p); got != want {
			t.Errorf("validPattern(%q) = %v", p, got)
		}
	}
	if PortOf("127.0.0.1:8443") != 8443 || PortOf("nope") != 0 || HostOf(":443") != "" || HostOf("127.0.0.1:1") != "127.0.0.1" {
		t.Error("PortOf/HostOf")
	}
}
