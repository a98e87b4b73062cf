package tlsterm

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// fileCert is a certificate pair on disk, reloaded when either file's size or
// modification time changes (checked at most once a second, on a handshake).
type fileCert struct {
	static
	certPath, keyPath string
	now               func() time.Time
	log               *zap.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string
	checked time.Time
}

func newFiles(o Options) (source, error) {
	return newFileCert(o.CertFile, o.KeyFile, o.Now, o.Logger)
}

func newFileCert(certPath, keyPath string, now func() time.Time, log *zap.Logger) (*fileCert, error) {
	if certPath == "" || keyPath == "" {
		return nil, fmt.Errorf("%w: files mode needs a certificate file and a key file", ErrConfig)
	}
	f := &fileCert{certPath: filepath.Clean(certPath), keyPath: filepath.Clean(keyPath), now: now, log: log}
	if err := f.load(); err != nil {
		return nil, err
	}
	f.checked = now()
	return f, nil
}

func (f *fileCert) fileStamp() (string, error) {
	var b strings.Builder
	for _, p := range []string{f.certPath, f.keyPath} {
		st, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d/%d;", st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), nil
}

// load reads the pair; the caller holds mu or owns f.
func (f *fileCert) load() error {
	stamp, err := f.fileStamp()
	if err != nil {
		return fmt.Errorf("tlsterm: files: %w", err)
	}
	c, err := tls.LoadX509KeyPair(f.certPath, f.keyPath)
	if err != nil {
		return fmt.Errorf("tlsterm: files: %s: %w", f.certPath, err)
	}
	f.cert, f.stamp = &c, stamp
	return nil
}

func (f *fileCert) current() *tls.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.now(); now.Sub(f.checked) >= time.Second || now.Before(f.checked) {
		f.checked = now
		if stamp, err := f.fileStamp(); err == nil && stamp != f.stamp {
			if err := f.load(); err != nil {
				// Keep serving the previous pair; a half-written update is
				// retried on the next check.
				f.log.Warn("certificate reload failed; keeping the previous one", zap.Error(err))
			} else {
				f.log.Info("certificate reloaded", zap.String("cert_file", f.certPath))
			}
		}
	}
	return f.cert
}

func (f *fileCert) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.current(), nil
}

func (f *fileCert) serves(host string) bool {
	c := f.current()
	if c.Leaf == nil {
		return false
	}
	return c.Leaf.VerifyHostname(host) == nil
}
