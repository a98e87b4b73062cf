package tlsterm

import (
	"crypto/tls"
	"fmt"

	"github.com/sealocr/sealocr/sidecar/internal/localtls"
)

// localSource serves a localhost certificate signed by the local CA kept in
// the state folder.
type localSource struct {
	static
	local *localtls.Local
	get   func(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

func newLocal(o Options) (source, error) {
	l, err := localtls.Ensure(o.StateDir, o.Now())
	if err != nil {
		return nil, fmt.Errorf("tlsterm: local: %w", err)
	}
	return &localSource{local: l, get: l.TLSConfig().GetCertificate}, nil
}

func (s *localSource) getCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.get(h)
}

func (s *localSource) serves(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func (s *localSource) caPath() string { return s.local.CAPath }
