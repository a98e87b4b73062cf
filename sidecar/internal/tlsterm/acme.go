package tlsterm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// acmeSource obtains and renews certificates through certmagic.
type acmeSource struct {
	log        *zap.Logger
	magic      *certmagic.Config
	cache      *certmagic.Cache
	issuer     *certmagic.ACMEIssuer
	domains    []string
	onDemand   OnDemand
	askClient  *http.Client
	challenges *prometheus.CounterVec
	decisions  *prometheus.CounterVec
	stopOnce   sync.Once

	// The on-demand issuance bound (OnDemand.Rate, Burst, Max).
	boundMu sync.Mutex
	bound   *rate.Limiter
	granted map[string]bool
}

// Validate reports every problem of a's settings at once, without I/O;
// each message names the setting as the sidecar's configuration does under
// tls.acme. The sidecar's configuration calls it; New calls it again for
// callers that build ACME themselves.
func (a ACME) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(a.Domains) == 0 && !a.OnDemand.Enabled() {
		add("domains is empty and there is no on-demand decision (on_demand_allow or on_demand_ask)")
	}
	for _, d := range a.Domains {
		if !ValidName(d) {
			add("domains: %q is not a DNS name", d)
		}
	}
	for _, p := range a.OnDemand.Allow {
		if !ValidPattern(p) {
			add("on_demand_allow: %q is not a DNS name or *.name pattern", p)
		}
	}
	if a.OnDemand.Ask != "" && !httpURL(a.OnDemand.Ask) {
		add("on_demand_ask: want an http(s) URL")
	}
	if a.OnDemand.Rate < 0 {
		add("on_demand_rate: want a positive rate")
	}
	if a.OnDemand.Burst != 0 && (a.OnDemand.Burst < 1 || a.OnDemand.Burst > 1000) {
		add("on_demand_burst %d out of range 1..1000", a.OnDemand.Burst)
	}
	if a.OnDemand.Max != 0 && (a.OnDemand.Max < 1 || a.OnDemand.Max > 100000) {
		add("on_demand_max %d out of range 1..100000", a.OnDemand.Max)
	}
	if a.CA != "" && !httpURL(a.CA) {
		add("ca: want an http(s) directory URL")
	}
	if a.CA != "" && a.Staging {
		add("staging selects Let's Encrypt staging and cannot be combined with ca")
	}
	if a.Storage == nil && !filepath.IsAbs(a.StorageDir) {
		add("storage_dir %q is not an absolute path", a.StorageDir)
	}
	if a.CARoot != "" && !filepath.IsAbs(a.CARoot) {
		add("ca_root %q is not an absolute path", a.CARoot)
	}
	for _, c := range a.Challenges {
		if c != ChallengeHTTP01 && c != ChallengeTLSALPN01 {
			add("challenges: %q: want %s or %s", c, ChallengeHTTP01, ChallengeTLSALPN01)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// httpURL reports an http or https URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func newACME(o Options) (source, error) {
	a := o.ACME
	var errs []error
	if err := a.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("acme: %w", err))
	}
	httpOn, alpnOn := len(a.Challenges) == 0, len(a.Challenges) == 0
	for _, c := range a.Challenges {
		switch c {
		case ChallengeHTTP01:
			httpOn = true
		case ChallengeTLSALPN01:
			alpnOn = true
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
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	storage := a.Storage
	if storage == nil {
		if err := os.MkdirAll(a.StorageDir, 0o700); err != nil {
			return nil, fmt.Errorf("tlsterm: acme storage: %w", err)
		}
		storage = &certmagic.FileStorage{Path: a.StorageDir}
	}
	t := &acmeSource{log: o.Logger}
	ca := a.CA
	if ca == "" {
		ca = LetsEncryptProduction
		if a.Staging {
			ca = LetsEncryptStaging
		}
	}
	t.domains = slices.Clone(a.Domains)
	t.onDemand = a.OnDemand
	if t.onDemand.Rate <= 0 {
		t.onDemand.Rate = DefaultOnDemandRate
	}
	if t.onDemand.Burst <= 0 {
		t.onDemand.Burst = DefaultOnDemandBurst
	}
	if t.onDemand.Max <= 0 {
		t.onDemand.Max = DefaultOnDemandMax
	}
	t.bound = rate.NewLimiter(rate.Limit(t.onDemand.Rate), t.onDemand.Burst)
	t.granted = map[string]bool{}
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
		Help: "On-demand certificate decisions, by result (allowed, asked, refused, bounded: over the issuance bound).",
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
		Storage:            storage,
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
	return t, nil
}

// getCertificate is certmagic's GetCertificate, counting TLS-ALPN-01
// validation handshakes.
func (t *acmeSource) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
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

// decide is the on-demand decision: a configured domain, else an allowlist
// match or the ask URL's approval within the issuance bound.
func (t *acmeSource) decide(ctx context.Context, name string) error {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if slices.Contains(t.domains, name) {
		t.decisions.WithLabelValues("allowed").Inc()
		return nil
	}
	if err := t.approve(ctx, name); err != nil {
		return err
	}
	if !t.spend(name) {
		t.decisions.WithLabelValues("bounded").Inc()
		t.log.Warn("on-demand certificate refused: issuance bound reached", zap.String("server_name", name),
			zap.Int("max", t.onDemand.Max), zap.Float64("per_hour", t.onDemand.Rate*3600))
		return fmt.Errorf("%w: %q: issuance bound reached", ErrOnDemandRefused, name)
	}
	return nil
}

// spend reports whether name is within the issuance bound: approved before,
// or new with a token of the rate and room under Max.
func (t *acmeSource) spend(name string) bool {
	t.boundMu.Lock()
	defer t.boundMu.Unlock()
	if t.granted[name] {
		return true
	}
	if len(t.granted) >= t.onDemand.Max || !t.bound.Allow() {
		return false
	}
	t.granted[name] = true
	return true
}

// approve is the allowlist, else the ask URL.
func (t *acmeSource) approve(ctx context.Context, name string) error {
	if matchAny(t.onDemand.Allow, name) {
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

func (t *acmeSource) nextProtos() []string { return []string{acmeTLS1} }

func (t *acmeSource) caPath() string { return "" }

func (t *acmeSource) start(ctx context.Context) error {
	if len(t.domains) == 0 {
		return nil
	}
	if err := t.magic.ManageAsync(ctx, t.domains); err != nil {
		return fmt.Errorf("tlsterm: acme: %w", err)
	}
	return nil
}

func (t *acmeSource) stop() { t.stopOnce.Do(t.cache.Stop) }

func (t *acmeSource) serves(host string) bool {
	return slices.Contains(t.domains, host) || matchAny(t.onDemand.Allow, host) ||
		len(t.cache.AllMatchingCertificates(host)) > 0
}

// httpHandler answers HTTP-01 challenges and passes everything else on.
func (t *acmeSource) httpHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if certmagic.LooksLikeHTTPChallenge(r) {
			t.challenges.WithLabelValues(ChallengeHTTP01).Inc()
			if t.issuer.HandleHTTPChallenge(w, r) {
				return
			}
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
