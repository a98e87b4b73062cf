package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// readPEM returns the DER of the first PEM block of path.
func readPEM(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	return blk.Bytes
}

// signLeaf makes a server certificate for dns and ips signed by ca's key,
// as someone holding a stolen ca-key.pem would.
func signLeaf(t *testing.T, ca *x509.Certificate, caKey crypto.Signer, dns []string, ips []net.IP) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "forged"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: dns, IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// TestLocalCAAttack (audit round 2, #14) against the real sidecar: given a
// state folder any local user may enter (0755) holding a local CA made
// without name constraints, as older versions made it, the sidecar
// narrows the folder to 0700 and replaces the CA with one whose critical
// name constraints let it vouch for loopback names only: a certificate
// signed with the new ca-key.pem verifies for localhost and 127.0.0.1 but
// not for another site. Before the fix the folder stayed 0755 and the
// 10-year CA vouched for any name.
func TestLocalCAAttack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	oldKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sealocr local CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	oldDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, oldKey.Public(), oldKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: oldDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}

	s := newSidecar(t, map[string]string{"SEALOCR_STATE_DIR": dir}) // serves TLS trusted by the ca.pem it leaves
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state folder mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	caDER := readPEM(t, s.caPath)
	if slices.Equal(caDER, oldDER) {
		t.Fatal("the unconstrained CA was kept")
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.PermittedDNSDomainsCritical || !slices.Contains(ca.PermittedDNSDomains, "localhost") {
		t.Errorf("CA name constraints: critical %v, DNS %v", ca.PermittedDNSDomainsCritical, ca.PermittedDNSDomains)
	}
	k, err := x509.ParsePKCS8PrivateKey(readPEM(t, filepath.Join(dir, "ca-key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	caKey := k.(crypto.Signer)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, c := range []struct {
		name string
		dns  []string
		ips  []net.IP
		ok   bool
	}{
		{"localhost", []string{"localhost"}, nil, true},
		{"127.0.0.1", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, true},
		{"bank.example", []string{"bank.example"}, nil, false},
		{"10.0.0.1", nil, []net.IP{net.IPv4(10, 0, 0, 1)}, false},
	} {
		leaf := signLeaf(t, ca, caKey, c.dns, c.ips)
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: c.name})
		if c.ok && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s: a certificate signed with the local CA's key verifies for another site", c.name)
		}
	}
}
