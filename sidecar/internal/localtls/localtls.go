// Package localtls provides the sidecar's default TLS certificate: a local
// certificate authority created once in the state folder and a leaf
// certificate for localhost, 127.0.0.1 and ::1 that it signs.
//
// Ensure creates what is missing and reuses what is there, so clients need to
// trust ca.pem only once. The files, in the state folder:
//
//	ca.pem          the CA certificate (give this to clients)
//	ca-key.pem      the CA's private key (0600)
//	tls/cert.pem    the leaf certificate
//	tls/key.pem     the leaf's private key (0600)
//
// Keys are ECDSA P-256 in PKCS #8. The CA carries critical name constraints
// (localhost, 127.0.0.0/8, ::1), so it can vouch for nothing else; a CA made
// before it had them is replaced. The CA is valid for ten years; the leaf for
// a year, and Ensure issues a new one when the leaf is missing, unreadable,
// expired, within RenewBefore of expiry, or not signed by the current CA.
// Folders are created (or narrowed to) 0700 and every file is written to a temporary file and
// renamed into place, so a crash never leaves half a file behind.
package localtls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Names and lifetimes.
const (
	// CAName is the CA certificate's common name.
	CAName = "sealocr local CA"
	// CAValidity is the CA certificate's lifetime.
	CAValidity = 10 * 365 * 24 * time.Hour
	// LeafValidity is the leaf certificate's lifetime.
	LeafValidity = 365 * 24 * time.Hour
	// RenewBefore is how long before its expiry the leaf is re-issued.
	RenewBefore = 30 * 24 * time.Hour
	// backdate is subtracted from NotBefore to tolerate clock skew.
	backdate = time.Hour
)

// File names inside the state folder.
const (
	caFile      = "ca.pem"
	caKeyFile   = "ca-key.pem"
	leafDir     = "tls"
	leafFile    = "cert.pem"
	leafKeyFile = "key.pem"
)

// leafDNSNames and leafIPs are the names the leaf certificate covers.
var (
	leafDNSNames = []string{"localhost"}
	leafIPs      = []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
)

// Local is the local CA and leaf certificate found or created by Ensure.
type Local struct {
	// CAPath is the CA certificate file that clients should trust.
	CAPath string
	// CertPath and KeyPath are the leaf certificate and key files.
	CertPath, KeyPath string
	// CACreated reports that Ensure created a new CA (clients must trust
	// the new ca.pem).
	CACreated bool
	// LeafIssued reports that Ensure issued a new leaf certificate.
	LeafIssued bool
	// NotAfter is the leaf certificate's expiry.
	NotAfter time.Time

	cert tls.Certificate
}

// Ensure finds or creates the CA and the leaf certificate in stateDir as of
// now. It returns an error, and changes nothing, when the CA files exist but
// cannot be used: a private key readable by group or others, an unreadable or
// mismatched pair, or a certificate that is not a CA. When the CA has expired
// or one of its two files is missing, a new CA is created.
func Ensure(stateDir string, now time.Time) (*Local, error) {
	if stateDir == "" {
		return nil, errors.New("localtls: empty state folder")
	}
	if err := mkdir(stateDir); err != nil {
		return nil, err
	}
	if err := mkdir(filepath.Join(stateDir, leafDir)); err != nil {
		return nil, err
	}
	l := &Local{
		CAPath:   filepath.Join(stateDir, caFile),
		CertPath: filepath.Join(stateDir, leafDir, leafFile),
		KeyPath:  filepath.Join(stateDir, leafDir, leafKeyFile),
	}
	caKeyPath := filepath.Join(stateDir, caKeyFile)

	ca, caKey, err := loadCA(l.CAPath, caKeyPath, now)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		ca, caKey, err = createCA(l.CAPath, caKeyPath, now)
		if err != nil {
			return nil, err
		}
		l.CACreated = true
	}

	leaf, ok := loadLeaf(l.CertPath, l.KeyPath, ca, now)
	if !ok {
		leaf, err = issueLeaf(l.CertPath, l.KeyPath, ca, caKey, now)
		if err != nil {
			return nil, err
		}
		l.LeafIssued = true
	}
	l.cert = leaf
	l.NotAfter = leaf.Leaf.NotAfter
	return l, nil
}

// TLSConfig returns a server configuration that presents the leaf
// certificate: TLS 1.2 or later, ALPN h2 and http/1.1. Each call returns a
// new value the caller may modify.
func (l *Local) TLSConfig() *tls.Config {
	cert := l.cert
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &cert, nil
		},
	}
}

// mkdir creates dir (and its parents) with mode 0700 when it does not exist.
// An existing folder that group or others may enter is narrowed to 0700
// when this user owns it; a folder it cannot change (a volume's mount point
// owned by another user, as Kubernetes mounts them) is left as it is, since
// the keys in it are 0600 files written by rename.
func mkdir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("localtls: %s is not a folder", dir)
	case err == nil:
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(dir, 0o700); err != nil && !errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("localtls: %w", err)
			}
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("localtls: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("localtls: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // whatever the umask
		return fmt.Errorf("localtls: %w", err)
	}
	return nil
}

// loadCA reads the CA pair. It returns nil and no error when a new CA should
// be created: a file is missing or the CA has expired.
func loadCA(certPath, keyPath string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err1 := os.ReadFile(certPath)
	keyPEM, err2 := readKeyFile(keyPath)
	switch {
	case errors.Is(err1, fs.ErrNotExist) || errors.Is(err2, fs.ErrNotExist):
		return nil, nil, nil
	case err1 != nil:
		return nil, nil, fmt.Errorf("localtls: %w", err1)
	case err2 != nil:
		return nil, nil, err2
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("localtls: CA %s and %s: %w", certPath, keyPath, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("localtls: CA key %s is not an ECDSA key", keyPath)
	}
	ca := pair.Leaf
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, nil, fmt.Errorf("localtls: %s is not a CA certificate", certPath)
	}
	if !now.Before(ca.NotAfter) {
		return nil, nil, nil // expired: start over
	}
	if !constrained(ca) {
		// A CA from before name constraints could sign any name for the
		// clients told to trust it: replace it (CACreated tells them).
		return nil, nil, nil
	}
	return ca, key, nil
}

// Name constraints of the CA (RFC 5280 §4.2.1.10, critical): it can sign
// only the names the leaf covers, so a stolen ca-key.pem cannot
// impersonate any other site to a client that trusts ca.pem.
var (
	permittedDNS = []string{"localhost"}
	permittedIPs = []*net.IPNet{
		{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
		{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
	}
)

// constrained reports whether ca carries exactly the name constraints
// createCA gives it.
func constrained(ca *x509.Certificate) bool {
	if !ca.PermittedDNSDomainsCritical || len(ca.PermittedDNSDomains) != len(permittedDNS) ||
		len(ca.PermittedIPRanges) != len(permittedIPs) {
		return false
	}
	for i, d := range permittedDNS {
		if ca.PermittedDNSDomains[i] != d {
			return false
		}
	}
	for i, n := range permittedIPs {
		if n.String() != ca.PermittedIPRanges[i].String() {
			return false
		}
	}
	return true
}

// readKeyFile reads a private key file and refuses one that group or others
// may access.
func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("localtls: private key %s has mode %04o; want 0600 (chmod 600 it)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("localtls: %w", err)
	}
	return b, nil
}

func createCA(certPath, keyPath string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("localtls: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: CAName, Organization: []string{"sealocr"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,

		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         permittedDNS,
		PermittedIPRanges:           permittedIPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("localtls: create CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("localtls: %w", err)
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// loadLeaf reads the leaf pair and reports whether it can be kept: it parses,
// its key matches, it chains to ca for every name at now, and it is not
// within RenewBefore of expiry.
func loadLeaf(certPath, keyPath string, ca *x509.Certificate, now time.Time) (tls.Certificate, bool) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, false
	}
	keyPEM, err := readKeyFile(keyPath)
	if err != nil {
		return tls.Certificate{}, false
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, false
	}
	leaf := pair.Leaf
	if now.Before(leaf.NotBefore) || !now.Add(RenewBefore).Before(leaf.NotAfter) {
		return tls.Certificate{}, false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range names() {
		if _, err := leaf.Verify(x509.VerifyOptions{
			DNSName: name, Roots: roots, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			return tls.Certificate{}, false
		}
	}
	return pair, true
}

func issueLeaf(certPath, keyPath string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("localtls: %w", err)
	}
	notAfter := now.Add(LeafValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"sealocr"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		DNSNames:     leafDNSNames,
		IPAddresses:  leafIPs,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("localtls: issue leaf: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("localtls: %w", err)
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// names lists the leaf's names as a client would dial them.
func names() []string {
	n := append([]string(nil), leafDNSNames...)
	for _, ip := range leafIPs {
		n = append(n, ip.String())
	}
	return n
}

// serial returns a random positive 128-bit serial number.
func serial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails
	b[0] &= 0x7f
	b[0] |= 0x40 // keep 127 bits of entropy and a fixed length
	return new(big.Int).SetBytes(b)
}

// writePair writes the key (0600) and then the certificate (0644), each
// atomically.
func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("localtls: %w", err)
	}
	if err := writeAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeAtomic writes b to a temporary file in path's folder with mode perm,
// syncs it and renames it over path.
func writeAtomic(path string, b []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("localtls: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil { // before any secret is written
		return fmt.Errorf("localtls: %w", err)
	}
	if _, err = bytes.NewReader(b).WriteTo(f); err != nil {
		return fmt.Errorf("localtls: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("localtls: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("localtls: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("localtls: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil { // make the rename durable
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
