package certstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/internal/redisstate/redistest"
	"github.com/sealocr/sealocr/sidecar/internal/tlsterm/pebbletest"
)

// TestTwoReplicasOrderOnce runs two certmagic configurations, each with its
// own cache and its own Storage (own connection pool) on one real
// redis-server, as two sidecar replicas. Both obtain a certificate for the
// same name at the same time from a real pebble: pebble sees one order and
// issues one certificate, and both replicas serve it.
func TestTwoReplicasOrderOnce(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	peb := pebbletest.Start(t, pebbletest.Options{})
	caPEM, err := os.ReadFile(peb.ServerCAFile)
	if err != nil {
		t.Fatal(err)
	}
	pebbleServerCA := x509.NewCertPool()
	pebbleServerCA.AppendCertsFromPEM(caPEM)
	const name = "shared.sealocr.test"

	type replicaCfg struct {
		magic *certmagic.Config
		cache *certmagic.Cache
	}
	newReplica := func() replicaCfg {
		store := replica(t, srv, Options{LockPoll: 100 * time.Millisecond})
		var magic *certmagic.Config
		cache := certmagic.NewCache(certmagic.CacheOptions{
			GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
			Logger:           zap.NewNop(),
		})
		t.Cleanup(cache.Stop)
		magic = certmagic.New(cache, certmagic.Config{Storage: store, Logger: zap.NewNop(), Issuers: []certmagic.Issuer{}})
		magic.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
			CA: peb.Directory, TestCA: peb.Directory, Email: "ops@sealocr.test", Agreed: true,
			DisableTLSALPNChallenge: true, ListenHost: "127.0.0.1", AltHTTPPort: peb.HTTPPort,
			TrustedRoots: pebbleServerCA, Logger: zap.NewNop(),
		})}
		return replicaCfg{magic: magic, cache: cache}
	}
	reps := []replicaCfg{newReplica(), newReplica()}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(reps))
	for i, r := range reps {
		wg.Go(func() { errs[i] = r.magic.ObtainCertSync(ctx, name) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: obtain: %v\npebble:\n%s", i, err, peb.Log())
		}
	}

	if n := strings.Count(peb.Log(), "Added order"); n != 1 {
		t.Errorf("pebble saw %d orders for two replicas, want 1\npebble:\n%s", n, peb.Log())
	}
	if n := strings.Count(peb.Log(), "Issued certificate serial"); n != 1 {
		t.Errorf("pebble issued %d certificates, want 1", n)
	}
	var serials []string
	for i, r := range reps {
		cert, err := r.magic.CacheManagedCertificate(ctx, name)
		if err != nil {
			t.Fatalf("replica %d: load the shared certificate: %v", i, err)
		}
		inter := x509.NewCertPool()
		for _, der := range cert.Certificate.Certificate[1:] {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			inter.AddCert(c)
		}
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: peb.Roots, Intermediates: inter}); err != nil {
			t.Errorf("replica %d: certificate does not verify against pebble's root: %v", i, err)
		}
		serials = append(serials, cert.Leaf.SerialNumber.String())
	}
	if serials[0] != serials[1] {
		t.Errorf("replicas serve different certificates: serials %v", serials)
	}

	// Redis down: both replicas keep serving the certificate from memory.
	srv.Stop()
	for i, r := range reps {
		got, err := r.magic.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: name})
		if err != nil || got == nil || got.Leaf == nil || got.Leaf.SerialNumber.String() != serials[0] {
			t.Errorf("replica %d with Redis down: GetCertificate = %v, want the shared certificate", i, err)
		}
	}
}
