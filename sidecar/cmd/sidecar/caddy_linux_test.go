package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/client"
)

// startChild runs this test binary as a child with env (PATH kept) and
// stops it when tb ends.
func startChild(tb testing.TB, env ...string) {
	tb.Helper()
	p, err := testkit.StartProcess("child", os.Args[0], nil, testkit.ProcessOptions{Env: testkit.Env(env...)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Stop(5 * time.Second) })
}

// startCaddy runs Debian's caddy as a TLS-terminating reverse proxy to
// upstream (host:port) with the certificate and key given, on a free
// loopback port, and returns its https URL once it answers.
func startCaddy(tb testing.TB, upstream, cert, key string, rt http.RoundTripper) string {
	tb.Helper()
	bin := testkit.NeedTool(tb, "caddy", "apt-get install -y caddy")
	dir := tb.TempDir()
	port := testkit.FreePort(tb)
	url := "https://127.0.0.1:" + strconv.Itoa(port)
	cfg := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tstorage file_system %s\n}\n%s {\n\ttls %s %s\n\treverse_proxy %s\n}\n",
		filepath.Join(dir, "data"), url, cert, key, upstream)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	out := &testkit.SyncBuffer{}
	p, err := testkit.StartProcess("caddy", bin, []string{"run", "--config", file, "--adapter", "caddyfile"}, testkit.ProcessOptions{
		Env: testkit.Env("HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir), Stdout: out, Stderr: out})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Stop(5 * time.Second) })
	waitUp(tb, &http.Client{Transport: rt, Timeout: time.Second}, url+"/v1/ocr", out)
	return url
}

// waitUp posts to url until it answers 200 (10 s at most).
func waitUp(tb testing.TB, c *http.Client, url string, out *testkit.SyncBuffer) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := c.Post(url, "image/png", bytes.NewReader([]byte("x")))
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer: %v\n%s", url, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpuTime is the CPU time (user and system) of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAgainstCaddy is issue 20's anchor: the same stand-in core (a
// process of its own) reached three ways, one request at a time over one
// connection per client — directly (plain HTTP), through Debian's caddy as
// a TLS-terminating reverse proxy (a plain TLS POST), and through a real
// sidecar process with the Go client in PSK mode — at 1 KiB, 100 KiB and
// 1 MiB over HTTP/1.1 and HTTP/2, the three interleaved request by request
// so that a change in the machine's load hits all three alike. It reports
// per request the direct time, the time each proxy adds to it, their ratio
// (goal: sidecar/caddy at most 1.2), and the client's CPU time for a
// sealed request and for a plain TLS POST (this process runs only the
// clients; goal: at most 1.5 times).
func BenchmarkAgainstCaddy(b *testing.B) {
	corePort := testkit.FreePort(b)
	coreAddr := "127.0.0.1:" + strconv.Itoa(corePort)
	startChild(b, beStandInCore+"="+coreAddr)
	direct := &http.Client{Transport: &http.Transport{}}
	waitUp(b, direct, "http://"+coreAddr+"/v1/ocr", &testkit.SyncBuffer{})
	keyFile, _, env, tlsClient := sharedSetup(b)
	env["SEALOCR_UPSTREAM"], env["SEALOCR_LOG_LEVEL"] = "http://"+coreAddr, "warn"
	env["SEALOCR_RATE_LIMIT"] = "off"
	env["SEALOCR_STATE_DIR"] = b.TempDir()
	r := startReplica(b, "sidecar", env, tlsClient)
	r.waitHealthy(b, 60*time.Second)
	ks, err := client.LoadKeys(keyFile)
	if err != nil {
		b.Fatal(err)
	}
	pskKey, err := ks.PSK("")
	if err != nil {
		b.Fatal(err)
	}
	base := tlsClient.Transport.(*http.Transport)
	transport := func(proto string) *http.Transport {
		t := base.Clone()
		if proto == "h1" {
			t.ForceAttemptHTTP2 = false
			t.TLSClientConfig = t.TLSClientConfig.Clone()
			t.TLSClientConfig.NextProtos = []string{"http/1.1"}
		}
		t.MaxIdleConnsPerHost = 1
		return t
	}
	caddy := startCaddy(b, coreAddr, env["SEALOCR_TLS_CERT"], env["SEALOCR_TLS_KEY"], transport("h2"))
	for _, sz := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"100KiB", 100 << 10}, {"1MiB", 1 << 20}} {
		payload := bytes.Repeat([]byte{0x5a}, sz.n)
		for _, proto := range []string{"h1", "h2"} {
			b.Run(sz.name+"/"+proto, func(b *testing.B) {
				plainTLS := &http.Client{Transport: transport(proto)}
				sc, err := client.New(client.Config{Server: r.url, HTTPClient: &http.Client{Transport: transport(proto)},
					PSKKey: pskKey, MaxRetries: -1})
				if err != nil {
					b.Fatal(err)
				}
				post := func(c *http.Client, url string) {
					res, err := c.Post(url, "image/png", bytes.NewReader(payload))
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK || (url != "http://"+coreAddr+"/v1/ocr" && res.Proto[5] != map[string]byte{"h1": '1', "h2": '2'}[proto]) {
						b.Fatalf("%s: %d %s", url, res.StatusCode, res.Proto)
					}
				}
				sealed := func() {
					if _, err := sc.OCRJSON(context.Background(), payload, client.OCROptions{ContentType: "image/png"}); err != nil {
						b.Fatal(err)
					}
				}
				// One of each first: connections open, TLS done.
				post(direct, "http://"+coreAddr+"/v1/ocr")
				post(plainTLS, caddy+"/v1/ocr")
				sealed()
				var tDirect, tCaddy, tSidecar, cpuPlain, cpuSealed time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					s := time.Now()
					post(direct, "http://"+coreAddr+"/v1/ocr")
					tDirect += time.Since(s)
					s, c := time.Now(), cpuTime()
					post(plainTLS, caddy+"/v1/ocr")
					tCaddy += time.Since(s)
					cpuPlain += cpuTime() - c
					s, c = time.Now(), cpuTime()
					sealed()
					tSidecar += time.Since(s)
					cpuSealed += cpuTime() - c
				}
				b.StopTimer()
				n := float64(b.N)
				us := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
				caddyAdded, sidecarAdded := us(tCaddy)-us(tDirect), us(tSidecar)-us(tDirect)
				b.ReportMetric(us(tDirect), "direct-µs/op")
				b.ReportMetric(caddyAdded, "caddy-added-µs/op")
				b.ReportMetric(sidecarAdded, "sidecar-added-µs/op")
				b.ReportMetric(sidecarAdded/caddyAdded, "sidecar/caddy")
				b.ReportMetric(us(cpuPlain), "cpu-plain-tls-µs/op")
				b.ReportMetric(us(cpuSealed), "cpu-sealed-µs/op")
				b.ReportMetric(float64(cpuSealed)/float64(cpuPlain), "cpu-sealed/plain")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
