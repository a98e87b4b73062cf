package localtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// forge signs a server certificate for dnsNames and ips with the CA pair in
// dir, as whoever stole ca-key.pem would, and reports whether a client that
// trusts ca.pem accepts it for name.
func forge(t *testing.T, dir, name string, dnsNames []string, ips []net.IP) error {
	t.Helper()
	pair, err := tls.X509KeyPair(read(t, filepath.Join(dir, caFile)), read(t, filepath.Join(dir, caKeyFile)))
	if err != nil {
		t.Fatal(err)
	}
	ca := pair.Leaf
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour), DNSNames: dnsNames, IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: t0})
	return err
}

// TestNameConstraints plays the thief of ca-key.pem (audit finding #14): a
// certificate it signs for any other site is refused by a client that
// trusts ca.pem, because the CA is constrained to localhost, 127.0.0.0/8 and
// ::1; the names the sidecar uses still verify. Before, the CA had no
// constraints and the forged certificate for a bank verified.
func TestNameConstraints(t *testing.T) {
	dir := t.TempDir()
	ensure(t, dir, t0)
	for _, c := range []struct {
		name string
		dns  []string
		ips  []net.IP
		ok   bool
	}{
		{"localhost", []string{"localhost"}, nil, true},
		{"127.0.0.1", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, true},
		{"::1", nil, []net.IP{net.IPv6loopback}, true},
		{"bank.example", []string{"bank.example"}, nil, false},
		{"accounts.google.com", []string{"accounts.google.com"}, nil, false},
		{"10.0.0.1", nil, []net.IP{net.IPv4(10, 0, 0, 1)}, false},
		{"evil.localhost.example", []string{"evil.localhost.example"}, nil, false},
	} {
		err := forge(t, dir, c.name, c.dns, c.ips)
		if c.ok && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s: a certificate signed with the local CA's key verifies for another site", c.name)
		}
	}
}

// TestUnconstrainedCAReplaced: a CA made before name constraints (as older
// versions made it) is replaced by a constrained one, and Ensure says so.
func TestUnconstrainedCAReplaced(t *testing.T) {
	dir := t.TempDir()
	ensure(t, dir, t0)
	// Write an unconstrained CA in place of the new one.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: CAName},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(CAValidity), IsCA: true, BasicConstraintsValid: true,
		MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := writePair(filepath.Join(dir, caFile), filepath.Join(dir, caKeyFile), der, key); err != nil {
		t.Fatal(err)
	}
	l := ensure(t, dir, t0.Add(time.Minute))
	if !l.CACreated || !l.LeafIssued {
		t.Errorf("CACreated=%v LeafIssued=%v, want a new CA and leaf", l.CACreated, l.LeafIssued)
	}
	if ca := parseCert(t, l.CAPath); !constrained(ca) {
		t.Error("the replacement CA has no name constraints")
	}
	if l2 := ensure(t, dir, t0.Add(2*time.Minute)); l2.CACreated {
		t.Error("a constrained CA was replaced again")
	}
}

// TestStateDirNarrowed: an existing state folder that group or others may
// enter is narrowed to 0700 (audit finding #14).
func TestStateDirNarrowed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ensure(t, dir, t0)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("state folder mode %04o, want 0700", fi.Mode().Perm())
	}
}
