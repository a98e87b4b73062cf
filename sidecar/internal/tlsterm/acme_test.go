package tlsterm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/internal/tlsterm/pebbletest"
	"github.com/sealocr/sealocr/sidecar/logging"
)

type acmeSidecar struct {
	term *Terminator
	peb  *pebbletest.Pebble
	log  *testkit.SyncBuffer
	reg  *prometheus.Registry
	addr string // TLS listener
	http string // plain-HTTP listener
}

// startACME runs a Terminator in ACME mode against pebble, with its TLS and
// plain-HTTP listeners on the ports pebble validates.
func startACME(t *testing.T, peb *pebbletest.Pebble, a ACME) *acmeSidecar {
	t.Helper()
	buf := &testkit.SyncBuffer{}
	log, err := logging.New(logging.Options{Level: "debug", Output: buf})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	a.CA, a.CARoot = peb.Directory, peb.ServerCAFile
	a.StorageDir = t.TempDir()
	a.ListenHost, a.HTTPPort, a.TLSPort = "127.0.0.1", peb.HTTPPort, peb.TLSPort
	term, err := New(Options{Mode: ModeACME, ACME: a, Logger: log, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(term.Stop)
	s := &acmeSidecar{term: term, peb: peb, log: buf, reg: reg,
		addr: "127.0.0.1:" + strconv.Itoa(peb.TLSPort), http: "127.0.0.1:" + strconv.Itoa(peb.HTTPPort)}

	ln, err := tls.Listen("tcp", s.addr, term.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello over "+r.Proto)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	hln, err := net.Listen("tcp", s.http)
	if err != nil {
		t.Fatal(err)
	}
	hsrv := &http.Server{Handler: term.HTTPHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hsrv.Serve(hln) }()
	t.Cleanup(func() { _ = srv.Close(); _ = hsrv.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := term.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// handshake connects as a client that trusts only pebble's root.
func (s *acmeSidecar) handshake(name string) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", s.addr, &tls.Config{
		ServerName: name, RootCAs: s.peb.Roots, NextProtos: []string{"h2", "http/1.1"},
	})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	if st.Version < tls.VersionTLS12 {
		return nil, errors.New("TLS version below 1.2")
	}
	return st.PeerCertificates[0], nil
}

// waitCert polls the handshake until it succeeds with a certificate
// accepted by cond.
func (s *acmeSidecar) waitCert(t *testing.T, name string, timeout time.Duration, cond func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := s.handshake(name)
		if err == nil && (cond == nil || cond(c)) {
			return c
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no certificate for %s after %s: %v\nsidecar log:\n%s\npebble:\n%s", name, timeout, lastErr, s.log.String(), s.peb.Log())
	return nil
}

func TestACMEChallenges(t *testing.T) {
	for _, tc := range []struct {
		challenge string
		nonce     int
	}{
		{ChallengeHTTP01, 0},
		{ChallengeTLSALPN01, 0},
		// pebble rejects half of the valid nonces with badNonce; the ACME
		// client must retry and still succeed.
		{ChallengeHTTP01 + " with nonce rejections", 50},
	} {
		t.Run(tc.challenge, func(t *testing.T) {
			t.Parallel()
			challenge, _, _ := strings.Cut(tc.challenge, " ")
			// One name per subtest: certmagic keeps the challenges in
			// progress in one map per process, keyed by name, and these
			// subtests run in parallel.
			name := strings.ReplaceAll(tc.challenge, " ", "-") + ".sidecar.test"
			peb := pebbletest.Start(t, pebbletest.Options{NonceReject: tc.nonce})
			s := startACME(t, peb, ACME{Domains: []string{name}, Challenges: []string{challenge}})
			c := s.waitCert(t, name, 30*time.Second, nil)
			if c.Subject.CommonName != name && (len(c.DNSNames) != 1 || c.DNSNames[0] != name) {
				t.Errorf("certificate names %v", c.DNSNames)
			}
			if n := testutil.ToFloat64(s.term.src.(*acmeSource).challenges.WithLabelValues(challenge)); n < 1 {
				t.Errorf("no %s challenge reached the sidecar's listener", challenge)
			}
			other := ChallengeTLSALPN01
			if challenge == ChallengeTLSALPN01 {
				other = ChallengeHTTP01
			}
			if n := testutil.ToFloat64(s.term.src.(*acmeSource).challenges.WithLabelValues(other)); n != 0 {
				t.Errorf("%v %s challenges although it is disabled", n, other)
			}

			// The certificate serves HTTPS with h2; HTTP redirects there.
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: peb.Roots, ServerName: name},
				ForceAttemptHTTP2: true,
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, s.addr)
				},
			}
			defer tr.CloseIdleConnections()
			res, err := (&http.Client{Transport: tr}).Get("https://" + name + "/x")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(b) != "hello over HTTP/2.0" {
				t.Errorf("body %q", b)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.http+"/a?b=c", nil)
			req.Host = name
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err = noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != "https://"+name+"/a?b=c" {
				t.Errorf("redirect %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			req.Host = "evil.example"
			res, err = noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusMisdirectedRequest {
				t.Errorf("unknown host: status %d, want 421", res.StatusCode)
			}
		})
	}
}

func TestACMERenewal(t *testing.T) {
	t.Parallel()
	peb := pebbletest.Start(t, pebbletest.Options{Validity: 12 * time.Second})
	s := startACME(t, peb, ACME{
		Domains: []string{"renew.test"}, RenewCheckInterval: 500 * time.Millisecond, RenewalWindowRatio: 0.6,
	})
	first := s.waitCert(t, "renew.test", 30*time.Second, nil)
	if life := first.NotAfter.Sub(first.NotBefore); life > time.Minute {
		t.Fatalf("certificate lifetime %s; pebble ignored the validity period", life)
	}
	second := s.waitCert(t, "renew.test", 30*time.Second, func(c *x509.Certificate) bool {
		return c.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !second.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed certificate expires %s, the first %s", second.NotAfter, first.NotAfter)
	}
}

func TestACMEOnDemand(t *testing.T) {
	t.Parallel()
	peb := pebbletest.Start(t, pebbletest.Options{})
	asked := make(chan string, 10)
	ask := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := r.URL.Query().Get("domain")
		asked <- d
		if d == "asked.test" {
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}), ReadHeaderTimeout: 5 * time.Second}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ask.Serve(aln) }()
	t.Cleanup(func() { _ = ask.Close() })

	s := startACME(t, peb, ACME{OnDemand: OnDemand{
		Allow: []string{"*.allowed.test"},
		Ask:   "http://" + aln.Addr().String() + "/check",
	}})
	t.Run("refused", func(t *testing.T) {
		if _, err := s.handshake("evil.test"); err == nil {
			t.Fatal("handshake for a refused name succeeded")
		}
		if got := <-asked; got != "evil.test" {
			t.Errorf("ask endpoint asked about %q", got)
		}
		if n := testutil.ToFloat64(s.term.src.(*acmeSource).decisions.WithLabelValues("refused")); n < 1 {
			t.Errorf("refused decisions %v", n)
		}
		if _, err := s.handshake("a.b.allowed.test"); err == nil {
			t.Fatal("two labels matched a one-label wildcard")
		}
		<-asked
	})
	t.Run("allowlist", func(t *testing.T) {
		s.waitCert(t, "x.allowed.test", 30*time.Second, nil)
	})
	t.Run("ask", func(t *testing.T) {
		s.waitCert(t, "asked.test", 30*time.Second, nil)
	})
}

// TestACMEOnDemandBound: with a wildcard allowlist, new names beyond the
// issuance bound get no certificate, against a real ACME server (pebble):
// once by the rate (burst 1, one an hour) and once by the count (max 1). A
// name already approved keeps its certificate. Before the bound existed,
// every name of the wildcard was issued a certificate.
func TestACMEOnDemandBound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		od   OnDemand
	}{
		{"rate", OnDemand{Allow: []string{"*.wild.test"}, Rate: 1.0 / 3600, Burst: 1, Max: 100}},
		{"count", OnDemand{Allow: []string{"*.wild.test"}, Rate: 1000, Burst: 1000, Max: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peb := pebbletest.Start(t, pebbletest.Options{})
			s := startACME(t, peb, ACME{OnDemand: tc.od})
			first := s.waitCert(t, "a.wild.test", 30*time.Second, nil)
			for _, name := range []string{"b.wild.test", "c.wild.test"} {
				if _, err := s.handshake(name); err == nil {
					t.Errorf("%s: a certificate beyond the bound", name)
				}
			}
			src := s.term.src.(*acmeSource)
			if n := testutil.ToFloat64(src.decisions.WithLabelValues("bounded")); n < 2 {
				t.Errorf("bounded decisions %v, want at least 2", n)
			}
			again, err := s.handshake("a.wild.test")
			if err != nil || again.SerialNumber.Cmp(first.SerialNumber) != 0 {
				t.Errorf("the approved name lost its certificate: %v", err)
			}
		})
	}
}
