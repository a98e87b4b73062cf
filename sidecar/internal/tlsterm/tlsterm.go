// Package tlsterm terminates the sidecar's TLS: it supplies the server's
// tls.Config and, in ACME mode, the plain-HTTP handler that answers HTTP-01
// challenges and redirects everything else to HTTPS.
//
// Three modes:
//
//   - local: a certificate for localhost signed by a local CA persisted in the
//     state folder (package localtls). The default.
//   - files: a certificate and key on disk, reloaded when either file changes
//     (a renewed Kubernetes Secret or cert-manager certificate is picked up
//     without a restart).
//   - acme: public certificates from an ACME CA (Let's Encrypt by default)
//     through certmagic: HTTP-01 on the plain-HTTP listener, TLS-ALPN-01 on
//     the TLS listener, certificates and account kept in a storage folder,
//     renewal, OCSP stapling and retries as certmagic does them. On-demand
//     issuance for names that are not configured happens only when an
//     allowlist pattern or an ask endpoint approves the name.
//
// Every mode serves TLS 1.2 or later with ALPN h2 and http/1.1. certmagic
// logs through the logger passed in Options, which the caller builds with the
// redacting constructor of package logging.
package tlsterm

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/api"
)

// acmeTLS1 is the ALPN protocol of TLS-ALPN-01 validation (RFC 8737).
const acmeTLS1 = "acme-tls/1"

// Modes.
const (
	// ModeLocal serves a localhost certificate signed by a local CA.
	ModeLocal = "local"
	// ModeFiles serves a certificate and key read from files.
	ModeFiles = "files"
	// ModeACME obtains public certificates from an ACME CA.
	ModeACME = "acme"
)

// ACME challenge types.
const (
	// ChallengeHTTP01 is answered on the plain-HTTP listener.
	ChallengeHTTP01 = "http-01"
	// ChallengeTLSALPN01 is answered on the TLS listener.
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// Let's Encrypt directories.
const (
	// LetsEncryptProduction is the default ACME directory.
	LetsEncryptProduction = certmagic.LetsEncryptProductionCA
	// LetsEncryptStaging is the directory used when ACME.Staging is set.
	LetsEncryptStaging = certmagic.LetsEncryptStagingCA
)

// Options configure New. Zero values get safe defaults.
type Options struct {
	// Mode is ModeLocal, ModeFiles or ModeACME; empty means ModeLocal.
	Mode string
	// StateDir holds the local CA in ModeLocal.
	StateDir string
	// CertFile and KeyFile are the PEM certificate chain and private key in
	// ModeFiles.
	CertFile, KeyFile string
	// ACME configures ModeACME.
	ACME ACME
	// Logger receives certmagic's and this package's entries; it must come
	// from logging.New. Nil discards them.
	Logger *zap.Logger
	// Registry receives the challenge and on-demand counters; nil skips
	// them.
	Registry prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ACME configures ModeACME.
type ACME struct {
	// Domains are the names certificates are obtained for at start.
	Domains []string
	// Email is the ACME account's contact address; optional.
	Email string
	// CA is the ACME directory URL. Empty means Let's Encrypt (production,
	// or staging when Staging is set).
	CA string
	// CARoot is a PEM file of root certificates trusted for the ACME server
	// itself (a private ACME server); empty means the system roots.
	CARoot string
	// Staging selects Let's Encrypt's staging directory when CA is empty.
	Staging bool
	// StorageDir keeps the account, certificates and OCSP staples; a
	// persistent volume in Kubernetes. Required unless Storage is set.
	StorageDir string
	// Storage, when set, keeps them instead of StorageDir, and locks
	// obtain and renewal: a storage shared by several replicas that also
	// implements certmagic.Locker (package certstore, on Redis) makes them
	// order each name once. nil means certmagic.FileStorage on StorageDir.
	Storage certmagic.Storage
	// Challenges lists the enabled challenge types (ChallengeHTTP01,
	// ChallengeTLSALPN01); empty means both.
	Challenges []string
	// ListenHost is the host the TLS and HTTP listeners bind ("" for all
	// interfaces); certmagic needs it to recognize that the challenge ports
	// are already served by this process.
	ListenHost string
	// HTTPPort and TLSPort are the ports of the sidecar's own plain-HTTP and
	// TLS listeners, which answer the challenges; certmagic binds them
	// itself only if they are free.
	HTTPPort, TLSPort int
	// OnDemand, when it has an allowlist or an ask URL, allows certificates
	// for names outside Domains to be obtained during a handshake.
	OnDemand OnDemand

	// RenewCheckInterval is how often certificates are checked for renewal;
	// zero means certmagic's default (10 minutes). For tests.
	RenewCheckInterval time.Duration
	// RenewalWindowRatio is the part of a certificate's lifetime before its
	// expiry in which it is renewed; zero means certmagic's default (1/3).
	RenewalWindowRatio float64
	// AskClient performs the on-demand ask request; nil means a client with
	// a 5 s timeout.
	AskClient *http.Client
}

// OnDemand is the decision behind on-demand certificates.
type OnDemand struct {
	// Allow lists names ("ocr.example.com") and one-label wildcard patterns
	// ("*.customers.example.com") that may get a certificate on demand.
	Allow []string
	// Ask is a URL asked about other names: GET Ask?domain=NAME approves
	// the name with status 200 and refuses it with anything else.
	Ask string
	// Rate (names per second) and Burst bound how fast new names are
	// approved, and Max how many distinct names are approved in the
	// process's life, whatever Allow or Ask say: a wildcard allowlist
	// must not let anyone spend the CA's quota. A name approved once is
	// approved again without spending (certmagic asks again before loading
	// a stored certificate and before each renewal). Zero values mean
	// DefaultOnDemandRate, DefaultOnDemandBurst and DefaultOnDemandMax.
	Rate  float64
	Burst int
	Max   int
}

// Defaults of the on-demand issuance bound: 10 new names an hour, 5 at
// once, 100 in all. (Let's Encrypt allows 300 new orders per account in 3
// hours and 50 certificates per registered domain a week.)
const (
	DefaultOnDemandRate  = 10.0 / 3600
	DefaultOnDemandBurst = 5
	DefaultOnDemandMax   = 100
)

// Enabled reports whether on-demand issuance has a decision source.
func (d OnDemand) Enabled() bool { return len(d.Allow) > 0 || d.Ask != "" }

// source is where the certificates of one mode come from, as ghostunnel's
// certloader.Certificate: local.go, files.go and acme.go each implement it,
// and the Terminator keeps only what every mode shares.
type source interface {
	// getCertificate returns the certificate of a handshake.
	getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// nextProtos are the ALPN protocols the mode needs besides h2 and
	// http/1.1.
	nextProtos() []string
	// serves reports whether the mode has or may obtain a certificate for
	// host (lower case), so a redirect there is not an open redirect.
	serves(host string) bool
	// start begins the mode's background work; stop ends it and may be
	// called more than once.
	start(ctx context.Context) error
	stop()
	// httpHandler wraps the plain-HTTP listener's handler (ACME HTTP-01).
	httpHandler(next http.Handler) http.Handler
	// caPath is the CA certificate clients should trust, or "".
	caPath() string
}

// sources builds the source of each mode.
var sources = map[string]func(Options) (source, error){
	ModeLocal: newLocal,
	ModeFiles: newFiles,
	ModeACME:  newACME,
}

// static is the part of source that a mode without background work or
// challenges shares.
type static struct{}

func (static) nextProtos() []string                       { return nil }
func (static) start(context.Context) error                { return nil }
func (static) stop()                                      {}
func (static) httpHandler(next http.Handler) http.Handler { return next }
func (static) caPath() string                             { return "" }

// Terminator supplies the TLS configuration of the sidecar's listener.
type Terminator struct {
	mode    string
	src     source
	tlsConf *tls.Config
}

// New builds a Terminator. In ModeLocal it creates or reuses the local CA; in
// ModeFiles it loads the pair (an error if it cannot); in ModeACME it sets up
// certmagic but obtains nothing until Start.
func New(o Options) (*Terminator, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	mode := o.Mode
	if mode == "" {
		mode = ModeLocal
	}
	build, ok := sources[mode]
	if !ok {
		return nil, fmt.Errorf("%w: mode %q (want %s, %s or %s)", ErrConfig, o.Mode, ModeLocal, ModeFiles, ModeACME)
	}
	src, err := build(o)
	if err != nil {
		return nil, err
	}
	return &Terminator{mode: mode, src: src, tlsConf: &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     append([]string{"h2", "http/1.1"}, src.nextProtos()...),
		GetCertificate: src.getCertificate,
	}}, nil
}

// Start obtains and then maintains the certificates of ACME.Domains in the
// background (certmagic retries failures with backoff); the TLS and
// plain-HTTP listeners must be serving, since the challenges arrive there.
// In the other modes it does nothing.
func (t *Terminator) Start(ctx context.Context) error { return t.src.start(ctx) }

// Stop ends certificate maintenance. It is safe to call more than once.
func (t *Terminator) Stop() { t.src.stop() }

// Mode returns the mode in force.
func (t *Terminator) Mode() string { return t.mode }

// CAPath returns the local CA certificate clients should trust in ModeLocal,
// else "".
func (t *Terminator) CAPath() string { return t.src.caPath() }

// TLSConfig returns a new server configuration: TLS 1.2 or later, ALPN h2
// and http/1.1 (and acme-tls/1 in ModeACME), the certificate of the mode.
func (t *Terminator) TLSConfig() *tls.Config { return t.tlsConf.Clone() }

// HTTPHandler returns the handler of the plain-HTTP listener: in ModeACME it
// answers HTTP-01 challenges; everything else is redirected to HTTPS (308,
// same host and path) when the host is one the sidecar serves, else refused
// with 421 (no open redirect). It never reads a request body.
func (t *Terminator) HTTPHandler() http.Handler {
	return t.src.httpHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		if !t.servesHost(host) {
			api.Write(w, api.UnknownHost)
			return
		}
		target := "https://" + host + r.URL.RequestURI()
		w.Header().Set("Location", target)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusPermanentRedirect)
	}))
}

// servesHost reports whether the sidecar has or may obtain a certificate
// for host, so a redirect there is not an open redirect.
func (t *Terminator) servesHost(host string) bool { return t.src.serves(strings.ToLower(host)) }

// hostOnly strips the port from a Host header.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.Trim(h, "[]")
}

// matchAny reports whether name equals a pattern or matches a "*.suffix"
// pattern with exactly one label in place of the star.
func matchAny(patterns []string, name string) bool {
	name = strings.ToLower(name)
	for _, p := range patterns {
		p = strings.ToLower(p)
		if p == name {
			return true
		}
		if suffix, ok := strings.CutPrefix(p, "*"); ok {
			if label, ok := strings.CutSuffix(name, suffix); ok && label != "" && !strings.Contains(label, ".") {
				return true
			}
		}
	}
	return false
}

// PortOf returns the port of a host:port address as an int, or 0.
func PortOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// HostOf returns the host of a host:port address, or "".
func HostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}
