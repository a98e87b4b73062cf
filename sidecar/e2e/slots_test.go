package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
)

// chartMemoryLimit is the sidecar's memory limit in charts/sealocr
// (sidecar.resources.limits.memory: 256Mi).
const chartMemoryLimit = 256 << 20

// dialFrom returns a TLS client of s whose connections come from the
// loopback address src (127.0.0.2 is loopback on Linux too).
func (s *sidecar) clientFrom(src string, h2 bool, dials *atomic.Int32) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials != nil {
				dials.Add(1)
			}
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: s.caPool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: requestTimeout}
}

// slowUpload opens a TLS connection from src, sends the headers of a PSK
// request announcing length bytes, then one byte a second until the
// sidecar answers or closes, or until stop. It returns the status line
// (or "closed") and how long the connection lasted.
func (s *sidecar) slowUpload(src string, length int, stop <-chan struct{}) (string, time.Duration) {
	return s.trickle(src, "/v1/ocr", psk.RequestMediaType, length, 1, time.Second, stop)
}

// TestSlowUploadsHoldNoSlot: 70 uploads from 127.0.0.1 at 1 byte/s. While
// they run, /healthz must stay 200 and a client from 127.0.0.2 must be
// served; each slow upload must be refused (503 busy, over the client's
// share) or cut (408 too_slow / closed) within a bounded time. Before the
// fix, the 70 uploads held all 64 slots: /healthz and every other client
// got 503 busy for as long as they lasted.
func TestSlowUploadsHoldNoSlot(t *testing.T) {
	s := newSidecar(t, map[string]string{"SEALOCR_BODY_GRACE": "3s"})
	key := pskKey(t, s)
	const n, runFor = 70, 12 * time.Second
	stop := make(chan struct{})
	var wg sync.WaitGroup
	outcomes := make([]string, n)
	lasted := make([]time.Duration, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i], lasted[i] = s.slowUpload("127.0.0.1", 1000, stop)
		}()
	}
	time.AfterFunc(runFor, func() { close(stop) })
	time.Sleep(500 * time.Millisecond) // let every upload start

	other := s.clientFrom("127.0.0.2", false, nil)
	healthFails, otherFails, probes := 0, 0, 0
	for deadline := time.Now().Add(runFor - time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		probes++
		res, body := doRequest(t, other, http.MethodGet, s.url+"/healthz", "", nil, 0)
		if res.StatusCode != http.StatusOK {
			healthFails++
			t.Logf("/healthz: %d %s", res.StatusCode, body)
		}
		r := sealPSK(t, key, "/v1/ocr", "image/png", []byte("not an image"), time.Now())
		res, body = doRequest(t, other, http.MethodPost, s.url+r.target, psk.RequestMediaType, bytes.NewReader(r.body), int64(len(r.body)))
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != psk.ResponseMediaType {
			otherFails++
			t.Logf("client 127.0.0.2: %d %s", res.StatusCode, truncate(body))
		}
	}
	wg.Wait()
	if healthFails > 0 || otherFails > 0 {
		t.Errorf("during %d probes: /healthz failed %d times, the client from 127.0.0.2 %d times", probes, healthFails, otherFails)
	}
	counts := map[string]int{}
	for i, o := range outcomes {
		counts[o]++
		if o == "still open" {
			t.Errorf("slow upload %d still open after %s", i, lasted[i].Round(time.Second))
		}
	}
	var longest time.Duration
	for _, d := range lasted {
		longest = max(longest, d)
	}
	t.Logf("slow uploads: %v; the longest lasted %s", counts, longest.Round(100*time.Millisecond))
	busy := "HTTP/1.1 " + strconv.Itoa(api.Lookup(api.Busy).Status) + " Service Unavailable"
	if counts[busy] < n-8 {
		t.Errorf("%d of %d uploads from one address refused busy, want at least %d (max_concurrent_per_client 8)", counts[busy], n, n-8)
	}
}

// vmHWM returns the peak resident set size of process pid.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestBigBodiesFitTheChartLimit: 8 concurrent 20 MiB junk PSK bodies, over
// eight HTTP/1.1 connections and over one HTTP/2 connection, must leave the
// sidecar's peak RSS (VmHWM) under the chart's 256 MiB limit; the bodies the
// buffer budget cannot hold get 503 busy with Retry-After. Before the fix
// the eight bodies took the sidecar to 363 MiB.
func TestBigBodiesFitTheChartLimit(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Fatal("needs /proc (Linux)")
	}
	const n, size = 8, 20 << 20
	body := bytes.Repeat([]byte{0xa5}, size)
	for _, h2 := range []bool{false, true} {
		name := "http1.1"
		if h2 {
			name = "http2 one connection"
		}
		t.Run(name, func(t *testing.T) {
			s := newSidecar(t, nil)
			var dials atomic.Int32
			c := s.clientFrom("127.0.0.1", h2, &dials)
			if h2 { // open the one connection first, so the eight share it
				res, _ := doRequest(t, c, http.MethodGet, s.url+"/healthz", "", nil, 0)
				if res.ProtoMajor != 2 {
					t.Fatalf("protocol %s, want HTTP/2", res.Proto)
				}
			}
			before := vmHWM(t, s.proc.Cmd.Process.Pid)
			var wg sync.WaitGroup
			statuses := make([]string, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/ocr", bytes.NewReader(body))
					req.Header.Set("Content-Type", psk.RequestMediaType)
					res, err := c.Do(req)
					if err != nil {
						statuses[i] = "error: " + err.Error()
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					statuses[i] = strconv.Itoa(res.StatusCode)
					if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
						statuses[i] += " without Retry-After"
					}
				}()
			}
			wg.Wait()
			peak := vmHWM(t, s.proc.Cmd.Process.Pid)
			t.Logf("%s: answers %v, VmHWM %d MiB before, %d MiB after, %d connection(s)", name, statuses, before>>20, peak>>20, dials.Load())
			if peak >= chartMemoryLimit {
				t.Errorf("peak RSS %d MiB, over the chart's limit of %d MiB", peak>>20, chartMemoryLimit>>20)
			}
			if h2 && dials.Load() != 1 {
				t.Errorf("%d connections, want one", dials.Load())
			}
			for _, st := range statuses {
				if st != "400" && st != "503" {
					t.Errorf("answer %q, want 400 cannot_open or 503 busy", st)
				}
			}
		})
	}
}

// TestOHTTPBodiesFitTheChartLimit (issue 19 #3): 7 clients, each from its
// own address, post 10 MB OHTTP requests, 8 rounds each, all at once; the
// sidecar's peak RSS (VmHWM) must stay under the chart's 256 MiB limit.
// Every answer is the inner OCR answer or 503 busy (the byte budget, which
// counts every copy of a body). The upstream is a stand-in on 127.0.0.1
// that reads and drops the body. The audit measured 281 MB before the fix:
// the pooled ciphertext, the HPKE plaintext and the Binary HTTP content
// were three copies of which the budget counted one.
func TestOHTTPBodiesFitTheChartLimit(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Fatal("needs /proc (Linux)")
	}
	var forwarded atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if n >= 10_000_000 {
			forwarded.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"lines":[]}`)
	}))
	defer up.Close()
	// In a container with the chart's limit the sidecar gives the Go
	// runtime a soft limit of 90 % of it (memlimit.go, from the cgroup);
	// here, without a cgroup limit, GOMEMLIMIT says the same.
	s := newSidecar(t, map[string]string{"SEALOCR_UPSTREAM": up.URL, "GOMEMLIMIT": strconv.Itoa(chartMemoryLimit * 9 / 10)})
	cfg := ohttpKeys(t, s)[0]
	suite := cfg.Suites()[0]
	content := bytes.Repeat([]byte{0x5a}, 10_000_000)
	inner := datedInner(t, s, content)
	const clients, rounds = 7, 8
	before := vmHWM(t, s.proc.Cmd.Process.Pid)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := s.clientFrom("127.0.0."+strconv.Itoa(c+1), false, nil)
			for range rounds {
				// The inner Date must be fresh: re-encapsulate each round.
				enc, cc, err := ohttp.EncapsulateRequest(cfg, suite, inner)
				if err != nil {
					t.Error(err)
					return
				}
				req, _ := http.NewRequest(http.MethodPost, s.url+gateway.OHTTPPath, bytes.NewReader(enc))
				req.Header.Set("Content-Type", ohttp.RequestMediaType)
				res, err := hc.Do(req)
				outcome := ""
				switch {
				case err != nil:
					outcome = "error: " + err.Error()
				default:
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					outcome = strconv.Itoa(res.StatusCode)
					if res.StatusCode == http.StatusOK {
						out, err := cc.DecapsulateResponse(body)
						if err != nil {
							outcome = "undecryptable answer"
							break
						}
						bres, err := bhttp.ParseResponse(out, bhttp.Limits{})
						if err != nil || bres.Status != http.StatusOK {
							outcome = "inner answer not 200"
						}
					}
				}
				mu.Lock()
				counts[outcome]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	peak := vmHWM(t, s.proc.Cmd.Process.Pid)
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("%d clients x %d rounds of 10 MB OHTTP: answers %v, %d forwarded; VmHWM %d MiB before, %d MiB after (chart limit %d MiB); loadavg %s",
		clients, rounds, counts, forwarded.Load(), before>>20, peak>>20, chartMemoryLimit>>20, strings.TrimSpace(string(load)))
	if peak >= chartMemoryLimit {
		t.Errorf("peak RSS %d MiB, over the chart's limit of %d MiB", peak>>20, chartMemoryLimit>>20)
	}
	for o, n := range counts {
		if o != "200" && o != "503" {
			t.Errorf("%d answers %q, want 200 with the inner answer or 503 busy", n, o)
		}
	}
	if counts["200"] < clients {
		t.Errorf("only %d of %d requests served: the test proves nothing", counts["200"], clients*rounds)
	}
}

// trickle opens a TLS connection from src, sends the headers of a POST to
// path declaring length bytes of contentType, then chunk bytes every
// period until the sidecar answers or closes, or until stop. It returns
// the status line (or "closed") and how long the connection lasted.
func (s *sidecar) trickle(src, path, contentType string, length, chunk int, period time.Duration, stop <-chan struct{}) (string, time.Duration) {
	start := time.Now()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", s.addr, &tls.Config{RootCAs: s.caPool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	if err != nil {
		return "dial: " + err.Error(), time.Since(start)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, s.addr, contentType, length)
	answer := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			answer <- "closed"
			return
		}
		answer <- strings.TrimSpace(line)
	}()
	tick := time.NewTicker(period)
	defer tick.Stop()
	buf := bytes.Repeat([]byte{0x42}, chunk)
	for {
		select {
		case a := <-answer:
			return a, time.Since(start)
		case <-stop:
			return "still open", time.Since(start)
		case <-tick.C:
			if _, err := c.Write(buf); err != nil {
				return <-answer, time.Since(start)
			}
		}
	}
}

// TestTrickledOHTTPHoldsWhatArrived replays issue 19 #1 against the real
// processes: one address opens four OHTTP uploads declaring 3 × 20 MiB +
// 4 MiB and trickles them at 20 KB/s each. Meanwhile PSK and OHTTP requests
// from two other addresses must be served (not 503 busy), and the trickled
// uploads must be cut by body_timeout (6 s here) although they keep the
// minimum rate. Before the fix the declared 64 MiB were reserved from
// Content-Length and every other client got 503 busy for as long as the
// uploads lasted (~21 minutes for a 20 MiB body at the minimum rate).
func TestTrickledOHTTPHoldsWhatArrived(t *testing.T) {
	s := newSidecar(t, map[string]string{"SEALOCR_BODY_TIMEOUT": "6s"})
	key := pskKey(t, s)
	cfg := ohttpKeys(t, s)[0]
	const runFor = 12 * time.Second
	stop := make(chan struct{})
	time.AfterFunc(runFor, func() { close(stop) })
	lengths := []int{20 << 20, 20 << 20, 20 << 20, 4 << 20}
	outcomes := make([]string, len(lengths))
	lasted := make([]time.Duration, len(lengths))
	var wg sync.WaitGroup
	for i, n := range lengths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i], lasted[i] = s.trickle("127.0.0.1", gateway.OHTTPPath, ohttp.RequestMediaType, n, 2000, 100*time.Millisecond, stop)
		}()
	}
	time.Sleep(time.Second) // every upload has started
	pskClient := s.clientFrom("127.0.0.2", false, nil)
	ohttpClient := s.clientFrom("127.0.0.3", false, nil)
	fails, probes := 0, 0
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		probes++
		r := sealPSK(t, key, "/v1/ocr", "image/png", []byte("not an image"), time.Now())
		res, body := doRequest(t, pskClient, http.MethodPost, s.url+r.target, psk.RequestMediaType, bytes.NewReader(r.body), int64(len(r.body)))
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != psk.ResponseMediaType {
			fails++
			t.Logf("PSK from 127.0.0.2: %d %s", res.StatusCode, truncate(body))
		}
		enc, _, err := ohttp.EncapsulateRequest(cfg, cfg.Suites()[0], datedInner(t, s, junk, time.Now().UTC().Format(http.TimeFormat)))
		if err != nil {
			t.Fatal(err)
		}
		res, body = doRequest(t, ohttpClient, http.MethodPost, s.url+gateway.OHTTPPath, ohttp.RequestMediaType, bytes.NewReader(enc), int64(len(enc)))
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ohttp.ResponseMediaType {
			fails++
			t.Logf("OHTTP from 127.0.0.3: %d %s", res.StatusCode, truncate(body))
		}
	}
	wg.Wait()
	if fails > 0 {
		t.Errorf("%d of %d requests from other addresses failed during the trickle", fails, 2*probes)
	}
	for i, o := range outcomes {
		if !strings.HasPrefix(o, "HTTP/1.1 408") && o != "closed" {
			t.Errorf("trickled upload %d: %q after %s, want 408 too_slow or closed", i, o, lasted[i].Round(100*time.Millisecond))
		} else if lasted[i] > 9*time.Second {
			t.Errorf("trickled upload %d lasted %s, want about body_timeout (6 s)", i, lasted[i].Round(100*time.Millisecond))
		}
	}
	t.Logf("trickled uploads: %v after %v", outcomes, lasted)
}
