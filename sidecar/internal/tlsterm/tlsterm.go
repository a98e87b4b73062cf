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
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/localtls"
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
	// persistent volume in Kubernetes. Required.
	StorageDir string
	// Challenges lists the enabled challenge types (ChallengeHTTP01,
	// ChallengeTLSALPN01); empty means both.
	Challenges []string
	// ListenHost is the host the TLS and HTTP listeners bind ("" for all
	// interfaces); certmagic needs it to recognise that the challenge ports
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
}

// Enabled reports whether on-demand issuance has a decision source.
func (d OnDemand) Enabled() bool { return len(d.Allow) > 0 || d.Ask != "" }

// Terminator supplies the TLS configuration of the sidecar's listener.
type Terminator struct {
	mode    string
	log     *zap.Logger
	tlsConf *tls.Config

	local *localtls.Local // ModeLocal
	files *fileCert       // ModeFiles

	// ModeACME
	magic      *certmagic.Config
	cache      *certmagic.Cache
	issuer     *certmagic.ACMEIssuer
	domains    []string
	onDemand   OnDemand
	askClient  *http.Client
	challenges *prometheus.CounterVec
	decisions  *prometheus.CounterVec
	stopOnce   sync.Once
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
	t := &Terminator{mode: o.Mode, log: o.Logger}
	if t.mode == "" {
		t.mode = ModeLocal
	}
	base := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
	}
	switch t.mode {
	case ModeLocal:
		l, err := localtls.Ensure(o.StateDir, o.Now())
		if err != nil {
			return nil, fmt.Errorf("tlsterm: local: %w", err)
		}
		t.local = l
		lc := l.TLSConfig()
		base.Certificates = lc.Certificates
		base.GetCertificate = lc.GetCertificate
	case ModeFiles:
		f, err := newFileCert(o.CertFile, o.KeyFile, o.Now, o.Logger)
		if err != nil {
			return nil, err
		}
		t.files = f
		base.GetCertificate = f.getCertificate
	case ModeACME:
		if err := t.setupACME(o); err != nil {
			return nil, err
		}
		base.NextProtos = append(base.NextProtos, acmeTLS1)
		base.GetCertificate = t.getACMECertificate
	default:
		return nil, fmt.Errorf("%w: mode %q (want %s, %s or %s)", ErrConfig, o.Mode, ModeLocal, ModeFiles, ModeACME)
	}
	t.tlsConf = base
	return t, nil
}

func (t *Terminator) setupACME(o Options) error {
	a := o.ACME
	var errs []error
	if len(a.Domains) == 0 && !a.OnDemand.Enabled() {
		errs = append(errs, fmt.Errorf("%w: acme: no domains and no on-demand decision", ErrConfig))
	}
	if a.StorageDir == "" {
		errs = append(errs, fmt.Errorf("%w: acme: empty storage folder", ErrConfig))
	}
	httpOn, alpnOn := len(a.Challenges) == 0, len(a.Challenges) == 0
	for _, c := range a.Challenges {
		switch c {
		case ChallengeHTTP01:
			httpOn = true
		case ChallengeTLSALPN01:
			alpnOn = true
		default:
			errs = append(errs, fmt.Errorf("%w: acme: challenge %q (want %s or %s)", ErrConfig, c, ChallengeHTTP01, ChallengeTLSALPN01))
		}
	}
	var roots *x509.CertPool
	if a.CARoot != "" {
		b, err := os.ReadFile(a.CARoot)
		if err != nil {
			errs = append(errs, fmt.Errorf("tlsterm: acme CA root: %w", err))
		} else {
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(b) {
				errs = append(errs, fmt.Errorf("%w: acme CA root %s holds no PEM certificate", ErrConfig, a.CARoot))
			}
		}
	}
	if a.OnDemand.Ask != "" {
		if u, err := url.Parse(a.OnDemand.Ask); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%w: on-demand ask URL must be http(s)://host/path", ErrConfig))
		}
	}
	for _, p := range a.OnDemand.Allow {
		if !validPattern(p) {
			errs = append(errs, fmt.Errorf("%w: on-demand allow pattern %q", ErrConfig, p))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.MkdirAll(a.StorageDir, 0o700); err != nil {
		return fmt.Errorf("tlsterm: acme storage: %w", err)
	}
	ca := a.CA
	if ca == "" {
		ca = LetsEncryptProduction
		if a.Staging {
			ca = LetsEncryptStaging
		}
	}
	t.domains = slices.Clone(a.Domains)
	t.onDemand = a.OnDemand
	t.askClient = a.AskClient
	if t.askClient == nil {
		t.askClient = &http.Client{Timeout: 5 * time.Second}
	}
	t.challenges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealocr_sidecar_acme_challenges_total",
		Help: "ACME challenge requests answered by the sidecar's listeners, by type.",
	}, []string{"type"})
	t.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealocr_sidecar_tls_on_demand_decisions_total",
		Help: "On-demand certificate decisions, by result (allowed, asked, refused).",
	}, []string{"result"})
	if o.Registry != nil {
		o.Registry.MustRegister(t.challenges, t.decisions)
	}

	log := o.Logger.Named("certmagic")
	var magic *certmagic.Config
	t.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		RenewCheckInterval: a.RenewCheckInterval,
		OCSPCheckInterval:  a.RenewCheckInterval,
		Logger:             log,
	})
	tmpl := certmagic.Config{
		RenewalWindowRatio: a.RenewalWindowRatio,
		Storage:            &certmagic.FileStorage{Path: a.StorageDir},
		Logger:             log,
		Issuers:            []certmagic.Issuer{}, // replaced below; non-nil keeps certmagic's default issuer out
	}
	if len(a.Domains) > 0 {
		tmpl.DefaultServerName = a.Domains[0]
	}
	if a.OnDemand.Enabled() {
		tmpl.OnDemand = &certmagic.OnDemandConfig{DecisionFunc: t.decide}
	}
	magic = certmagic.New(t.cache, tmpl)
	t.issuer = certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                      ca,
		TestCA:                  ca, // retries stay on the named CA (certmagic would switch to LE staging)
		Email:                   a.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    !httpOn,
		DisableTLSALPNChallenge: !alpnOn,
		ListenHost:              a.ListenHost,
		AltHTTPPort:             a.HTTPPort,
		AltTLSALPNPort:          a.TLSPort,
		TrustedRoots:            roots,
		Logger:                  log.Named("acme"),
	})
	magic.Issuers = []certmagic.Issuer{t.issuer}
	t.magic = magic
	return nil
}

// Start obtains and then maintains the certificates of ACME.Domains in the
// background (certmagic retries failures with backoff); the TLS and
// plain-HTTP listeners must be serving, since the challenges arrive there.
// In the other modes it does nothing.
func (t *Terminator) Start(ctx context.Context) error {
	if t.mode != ModeACME || len(t.domains) == 0 {
		return nil
	}
	if err := t.magic.ManageAsync(ctx, t.domains); err != nil {
		return fmt.Errorf("tlsterm: acme: %w", err)
	}
	return nil
}

// Stop ends certificate maintenance. It is safe to call more than once.
func (t *Terminator) Stop() {
	if t.cache != nil {
		t.stopOnce.Do(t.cache.Stop)
	}
}

// Mode returns the mode in force.
func (t *Terminator) Mode() string { return t.mode }

// CAPath returns the local CA certificate clients should trust in ModeLocal,
// else "".
func (t *Terminator) CAPath() string {
	if t.local == nil {
		return ""
	}
	return t.local.CAPath
}

// TLSConfig returns a new server configuration: TLS 1.2 or later, ALPN h2
// and http/1.1 (and acme-tls/1 in ModeACME), the certificate of the mode.
func (t *Terminator) TLSConfig() *tls.Config { return t.tlsConf.Clone() }

// getACMECertificate is certmagic's GetCertificate, counting TLS-ALPN-01
// validation handshakes.
func (t *Terminator) getACMECertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1 {
		t.challenges.WithLabelValues(ChallengeTLSALPN01).Inc()
	}
	c, err := t.magic.GetCertificate(hello)
	if err != nil {
		t.log.Info("no certificate for handshake", zap.String("server_name", hello.ServerName), zap.Error(err))
		return nil, fmt.Errorf("%w: %q", ErrNoCertificate, hello.ServerName)
	}
	return c, nil
}

// decide is the on-demand decision: an allowlist match, else the ask URL.
func (t *Terminator) decide(ctx context.Context, name string) error {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if slices.Contains(t.domains, name) || matchAny(t.onDemand.Allow, name) {
		t.decisions.WithLabelValues("allowed").Inc()
		return nil
	}
	if t.onDemand.Ask != "" {
		u, _ := url.Parse(t.onDemand.Ask) // validated in New
		q := u.Query()
		q.Set("domain", name)
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err == nil {
			var res *http.Response
			if res, err = t.askClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					t.decisions.WithLabelValues("asked").Inc()
					return nil
				}
				err = fmt.Errorf("ask endpoint answered %d", res.StatusCode)
			}
		}
		t.log.Info("on-demand ask refused", zap.String("server_name", name), zap.Error(err))
	}
	t.decisions.WithLabelValues("refused").Inc()
	t.log.Info("on-demand certificate refused", zap.String("server_name", name))
	return fmt.Errorf("%w: %q", ErrOnDemandRefused, name)
}

// HTTPHandler returns the handler of the plain-HTTP listener: in ModeACME it
// answers HTTP-01 challenges; everything else is redirected to HTTPS (308,
// same host and path) when the host is one the sidecar serves, else refused
// with 421 (no open redirect). It never reads a request body.
func (t *Terminator) HTTPHandler() http.Handler {
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		if !t.servesHost(host) {
			api.Write(w, api.UnknownHost)
			return
		}
		target := "https://" + host + r.URL.RequestURI()
		w.Header().Set("Location", target)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
	if t.mode != ModeACME {
		return redirect
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if certmagic.LooksLikeHTTPChallenge(r) {
			t.challenges.WithLabelValues(ChallengeHTTP01).Inc()
			if t.issuer.HandleHTTPChallenge(w, r) {
				return
			}
			http.NotFound(w, r)
			return
		}
		redirect.ServeHTTP(w, r)
	})
}

// servesHost reports whether the sidecar has or may obtain a certificate
// for host, so a redirect there is not an open redirect.
func (t *Terminator) servesHost(host string) bool {
	host = strings.ToLower(host)
	switch t.mode {
	case ModeACME:
		return slices.Contains(t.domains, host) || matchAny(t.onDemand.Allow, host) ||
			len(t.cache.AllMatchingCertificates(host)) > 0
	case ModeLocal:
		return host == "localhost" || host == "127.0.0.1" || host == "::1"
	case ModeFiles:
		return t.files.covers(host)
	}
	return false
}

// hostOnly strips the port from a Host header.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.Trim(h, "[]")
}

// validPattern reports whether p is a DNS name or "*." followed by one.
func validPattern(p string) bool {
	p = strings.TrimPrefix(p, "*.")
	if p == "" || len(p) > 253 || strings.ContainsAny(p, "*/:@ ") {
		return false
	}
	for _, l := range strings.Split(p, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
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

// fileCert is a certificate pair on disk, reloaded when either file's size or
// modification time changes (checked at most once a second, on a handshake).
type fileCert struct {
	certPath, keyPath string
	now               func() time.Time
	log               *zap.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string
	checked time.Time
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

func (f *fileCert) covers(host string) bool {
	c := f.current()
	if c.Leaf == nil {
		return false
	}
	return c.Leaf.VerifyHostname(host) == nil
}
