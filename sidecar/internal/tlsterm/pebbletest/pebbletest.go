// Package pebbletest runs Let's Encrypt's pebble ACME test server and its
// pebble-challtestsrv DNS companion for tests, on free 127.0.0.1 ports.
//
// The DNS server answers every A query with 127.0.0.1 (and no AAAA), so
// pebble's validation of any name really connects to the HTTP-01 and
// TLS-ALPN-01 ports of the process under test on the loopback interface.
// Both programs come from Debian's pebble package (binaries pebble and
// pebble-challtestsrv); a test fails, never skips, when they are missing.
package pebbletest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/internal/localtls"
)

// Options configure Start.
type Options struct {
	// NonceReject is the percentage of valid nonces pebble rejects with
	// badNonce (PEBBLE_WFE_NONCEREJECT); 0 rejects none.
	NonceReject int
	// Validity is the lifetime of issued certificates; zero means pebble's
	// default (five years).
	Validity time.Duration
}

// Pebble is a running pebble.
type Pebble struct {
	// Directory is the ACME directory URL.
	Directory string
	// ServerCAFile is a PEM file with the CA of pebble's own HTTPS
	// certificate: what an ACME client must trust to talk to pebble.
	ServerCAFile string
	// Roots holds pebble's issuing root, fetched from its management API:
	// what a TLS client must trust to accept the certificates it issues.
	Roots *x509.CertPool
	// RootPEM is the same root in PEM.
	RootPEM []byte
	// HTTPPort and TLSPort are the ports pebble validates HTTP-01 and
	// TLS-ALPN-01 challenges against, on 127.0.0.1.
	HTTPPort, TLSPort int

	out *testkit.SyncBuffer
}

// Log returns what pebble and pebble-challtestsrv printed so far.
func (p *Pebble) Log() string { return p.out.String() }

// Start runs pebble-challtestsrv and pebble, waits for both, fetches the
// issuing root and stops both when the test ends.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	pebbleBin, err1 := exec.LookPath("pebble")
	chalBin, err2 := exec.LookPath("pebble-challtestsrv")
	if err1 != nil || err2 != nil {
		t.Fatalf("pebble and pebble-challtestsrv are required for the ACME tests and were not found in PATH "+
			"(install the Debian package: apt-get install -y pebble; .ci/run does this): %v %v", err1, err2)
	}
	dir := t.TempDir()
	// pebble's own HTTPS listeners present a leaf of the sidecar's real local
	// CA (localtls): localhost and 127.0.0.1.
	l, err := localtls.Ensure(filepath.Join(dir, "server-tls"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile := l.CAPath, l.CertPath, l.KeyPath

	p := &Pebble{ServerCAFile: caFile, out: &testkit.SyncBuffer{}}
	dnsPort := testkit.FreeUDPAndTCPPort(t)
	chalMgmt := testkit.FreePort(t)
	acmePort, mgmtPort := testkit.FreePort(t), testkit.FreePort(t)
	p.HTTPPort, p.TLSPort = testkit.FreePort(t), testkit.FreePort(t)

	start(t, p.out, nil, chalBin,
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dns01", "127.0.0.1:"+strconv.Itoa(dnsPort),
		"-http01", "", "-https01", "", "-tlsalpn01", "",
		"-management", "127.0.0.1:"+strconv.Itoa(chalMgmt))

	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(acmePort),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmtPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       p.HTTPPort,
		"tlsPort":                        p.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"certificateValidityPeriod":      uint64(o.Validity / time.Second),
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PEBBLE_VA_NOSLEEP=1",
		"PEBBLE_WFE_NONCEREJECT=" + strconv.Itoa(o.NonceReject),
		"PEBBLE_AUTHZREUSE=0",
	}
	start(t, p.out, env, pebbleBin, "-config", cfgFile, "-dnsserver", "127.0.0.1:"+strconv.Itoa(dnsPort))

	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	p.Directory = "https://127.0.0.1:" + strconv.Itoa(acmePort) + "/dir"
	waitOK(t, p, client, p.Directory)
	p.RootPEM = waitOK(t, p, client, "https://127.0.0.1:"+strconv.Itoa(mgmtPort)+"/roots/0")
	p.Roots = x509.NewCertPool()
	if !p.Roots.AppendCertsFromPEM(p.RootPEM) {
		t.Fatalf("pebble root is not PEM: %q", p.RootPEM)
	}
	return p
}

// start runs a program until the test ends.
func start(t testing.TB, out io.Writer, env []string, bin string, args ...string) {
	t.Helper()
	p, err := testkit.StartProcess(filepath.Base(bin), bin, args, testkit.ProcessOptions{Env: append(os.Environ(), env...), Stdout: out, Stderr: out})
	if err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
}

// waitOK polls url until it answers 200 (30 s at most: a loaded machine starts pebble slowly) and returns the body.
func waitOK(t testing.TB, p *Pebble, c *http.Client, url string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := c.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(res.Body, 1<<20))
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK && rerr == nil {
				return b
			}
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not answer %s: %v\npebble output:\n%s", url, err, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
