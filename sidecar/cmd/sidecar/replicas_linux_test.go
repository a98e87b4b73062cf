package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/localtls"
	"github.com/sealocr/sealocr/sidecar/internal/redisstate"
	"github.com/sealocr/sealocr/sidecar/internal/redisstate/redistest"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/internal/tlsterm/pebbletest"
)

// beSidecar, set in a child's environment, makes the test binary run the
// sidecar's main instead of the tests: the replicas below are real sidecar
// processes without a separate build.
const beSidecar = "SEALOCR_TEST_BE_SIDECAR"

// beStandInCore, set to a listen address in a child's environment, makes
// the test binary serve the stand-in core there.
const beStandInCore = "SEALOCR_TEST_BE_STANDIN_CORE"

func TestMain(m *testing.M) {
	if os.Getenv(beSidecar) == "1" {
		main()
		return
	}
	if addr := os.Getenv(beStandInCore); addr != "" {
		// A stand-in core in a process of its own, so that a benchmark's
		// CPU figures are the client's alone.
		srv := &http.Server{Addr: addr, Handler: standInHandler(&standInCore{}), ReadHeaderTimeout: 10 * time.Second}
		fmt.Fprintln(os.Stderr, srv.ListenAndServe())
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// replica is one sidecar process of the test binary.
type replica struct {
	name    string
	env     map[string]string
	url     string // https://127.0.0.1:PORT
	metrics string // http://127.0.0.1:PORT/metrics
	client  *http.Client
	out     *testkit.SyncBuffer
	proc    *testkit.Process
	done    <-chan struct{}
	logs    []string // output of earlier runs (before a restart)
}

// startReplica starts a sidecar with env (plus PATH, HOME and the listen
// and metrics addresses, which it chooses) and stops it when the test ends,
// failing the test if it crashed meanwhile. It does not wait for it.
func startReplica(t testing.TB, name string, env map[string]string, client *http.Client) *replica {
	t.Helper()
	r := newReplica(t, name, env, client)
	r.start(t)
	t.Cleanup(func() {
		crashed := r.exited()
		r.stop(t)
		if crashed {
			t.Errorf("%s exited during the test\n%s", r.name, r.log())
		} else if l := crashLine(r.log()); l != "" {
			t.Errorf("%s logged a crash: %s", r.name, l)
		} else if t.Failed() {
			t.Logf("%s output:\n%s", r.name, tail(r.log()))
		}
	})
	return r
}

// newReplica prepares a sidecar with env (plus PATH, HOME and the listen and
// metrics addresses, which it chooses) without starting it: for a test that
// expects it to exit, or stops it itself (startReplica's cleanup takes an
// exit during the test for a crash).
func newReplica(t testing.TB, name string, env map[string]string, client *http.Client) *replica {
	t.Helper()
	r := &replica{name: name, env: map[string]string{}, client: client}
	for k, v := range env {
		r.env[k] = v
	}
	if r.env["SEALOCR_LISTEN"] == "" {
		r.env["SEALOCR_LISTEN"] = "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	}
	r.env["SEALOCR_METRICS_LISTEN"] = "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	r.env["HOME"] = t.TempDir()
	r.url = "https://" + r.env["SEALOCR_LISTEN"]
	r.metrics = "http://" + r.env["SEALOCR_METRICS_LISTEN"] + "/metrics"
	return r
}

func (r *replica) start(t testing.TB) {
	t.Helper()
	vars := []string{beSidecar + "=1"}
	for k, v := range r.env {
		vars = append(vars, k+"="+v)
	}
	r.out = &testkit.SyncBuffer{}
	p, err := testkit.StartProcess(r.name, os.Args[0], nil, testkit.ProcessOptions{Env: testkit.Env(vars...), Stdout: r.out, Stderr: r.out})
	if err != nil {
		t.Fatal(err)
	}
	r.proc, r.done = p, p.Done()
}

func (r *replica) exited() bool { return r.proc != nil && r.proc.Exited() }

// stop sends SIGTERM and waits (SIGKILL after 20 s).
func (r *replica) stop(t testing.TB) {
	if r.proc == nil {
		return
	}
	start := time.Now()
	r.proc.Stop(20 * time.Second)
	if time.Since(start) >= 20*time.Second {
		t.Errorf("%s did not stop within 20 s", r.name)
	}
	r.logs = append(r.logs, r.out.String())
	r.proc = nil
}

// restart stops the process and starts it again with the same
// configuration and addresses.
func (r *replica) restart(t testing.TB) {
	t.Helper()
	r.stop(t)
	r.start(t)
	r.waitHealthy(t, 30*time.Second)
}

func (r *replica) log() string {
	s := strings.Join(r.logs, "\n--- restart ---\n")
	if r.proc != nil {
		s += r.out.String()
	}
	return s
}

// waitHealthy waits until /healthz answers 200.
func (r *replica) waitHealthy(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if r.exited() {
			t.Fatalf("%s exited at start\n%s", r.name, r.log())
		}
		res, err := r.client.Get(r.url + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy after %s: %v\n%s", r.name, within, err, tail(r.log()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// do sends a request and reads the whole answer.
func (r *replica) do(t testing.TB, method, path, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s %s: %v", r.name, method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// metric returns the sum of the samples of name (any labels matching
// labels, a substring such as `op="replay"`) on the metrics listener.
func (r *replica) metric(t testing.TB, name, labels string) float64 {
	t.Helper()
	res, err := http.Get(r.metrics)
	if err != nil {
		t.Fatalf("%s metrics: %v", r.name, err)
	}
	defer res.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name) || !strings.Contains(l, labels) {
			continue
		}
		rest := strings.TrimPrefix(l, name)
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func crashLine(logs string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.Contains(l, "http: panic serving") ||
			strings.Contains(l, "WARNING: DATA RACE") {
			return l
		}
	}
	return ""
}

func tail(s string) string {
	if len(s) > 6000 {
		return "…" + s[len(s)-6000:]
	}
	return s
}

// standInCore is the core's place at the edge: it counts the requests that
// reach it.
type standInCore struct {
	*httptest.Server
	ocr, plain atomic.Int64
}

func newStandInCore(t testing.TB) *standInCore {
	c := &standInCore{}
	c.Server = httptest.NewServer(standInHandler(c))
	t.Cleanup(c.Close)
	return c
}

// standInHandler answers as the stand-in core, counting into c.
func standInHandler(c *standInCore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/ocr":
			c.ocr.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"lines":[{"text":"hello"}]}`)
		case r.Method == http.MethodGet && r.URL.Path == "/":
			c.plain.Add(1)
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<!doctype html><title>ocr</title>")
		default:
			http.NotFound(w, r)
		}
	})
}

// sealed is one captured PSK request.
type sealed struct {
	body   []byte
	opener *psk.ResponseOpener
}

func sealPSK(t testing.TB, key psk.Key) sealed {
	t.Helper()
	b, o, err := psk.SealRequest(nil, key, http.MethodPost, "/v1/ocr", "image/png", time.Now(), []byte("fake image bytes"))
	if err != nil {
		t.Fatal(err)
	}
	return sealed{b, o}
}

// send posts s to r and reports the status and the fixed answer's code when
// it is one.
func (s sealed) send(t testing.TB, r *replica) (int, string) {
	t.Helper()
	res, body := r.do(t, http.MethodPost, "/v1/ocr", psk.RequestMediaType, s.body)
	if res.StatusCode == http.StatusOK {
		status, _, plain, err := s.opener.Open(body)
		if err != nil || status != http.StatusOK || string(plain) != `{"lines":[{"text":"hello"}]}` {
			t.Fatalf("%s: sealed answer %d %q %v", r.name, status, plain, err)
		}
		return http.StatusOK, ""
	}
	return res.StatusCode, answerCode(body)
}

// capturedOHTTP is one captured Oblivious HTTP request (inner Date now).
type capturedOHTTP struct {
	enc []byte
	cc  *ohttp.ClientContext
}

func sealOHTTP(t testing.TB, set *keys.Set) capturedOHTTP {
	t.Helper()
	breq := &bhttp.Request{Method: http.MethodPost, Scheme: "https", Authority: "ocr", Path: "/v1/ocr",
		Header:  []bhttp.Field{{Name: "content-type", Value: "image/png"}, {Name: "date", Value: time.Now().UTC().Format(http.TimeFormat)}},
		Content: []byte("fake image bytes")}
	inner, err := breq.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	cfg := set.Public[0]
	enc, cc, err := ohttp.EncapsulateRequest(cfg, cfg.Suites()[0], inner)
	if err != nil {
		t.Fatal(err)
	}
	return capturedOHTTP{enc, cc}
}

// send posts the request to r: 200 with the inner answer checked, or the
// outer status and fixed answer's code.
func (o capturedOHTTP) send(t testing.TB, r *replica) (int, string) {
	t.Helper()
	res, body := r.do(t, http.MethodPost, route.OHTTPPath, ohttp.RequestMediaType, o.enc)
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, answerCode(body)
	}
	dec, err := o.cc.DecapsulateResponse(body)
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	bres, err := bhttp.ParseResponse(dec, bhttp.Limits{})
	if err != nil || bres.Status != http.StatusOK || string(bres.Content) != `{"lines":[{"text":"hello"}]}` {
		t.Fatalf("%s: inner answer %+v %v", r.name, bres, err)
	}
	return http.StatusOK, ""
}

// answerCode returns the code of a fixed JSON answer.
func answerCode(body []byte) string {
	for _, id := range []api.ID{api.CannotOpen, api.Busy, api.RateLimited} {
		if string(api.Lookup(id).Body) == string(body) {
			return api.Lookup(id).Code
		}
	}
	return string(body)
}

// sharedSetup writes what the replicas share: a key file and a TLS
// certificate (files mode), and returns the client that trusts it.
func sharedSetup(t testing.TB) (keyFile string, set *keys.Set, env map[string]string, client *http.Client) {
	t.Helper()
	dir := t.TempDir()
	keyFile = filepath.Join(dir, "keys.yaml")
	b, err := keys.Generate("replicas")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	set, err = keys.LoadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	lt, err := localtls.Ensure(filepath.Join(dir, "tls"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(lt.CAPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
	t.Cleanup(client.CloseIdleConnections)
	env = map[string]string{
		"SEALOCR_TLS_MODE":   "files",
		"SEALOCR_TLS_CERT":   lt.CertPath,
		"SEALOCR_TLS_KEY":    lt.KeyPath,
		"SEALOCR_KEYS_FILE":  keyFile,
		"SEALOCR_LOG_LEVEL":  "debug",
		"SEALOCR_LOG_FORMAT": "json",
	}
	return keyFile, set, env, client
}

// TestReplicasShareRedis runs three sidecar processes on one redis-server
// (with an append-only file, as the chart's Redis): a PSK request accepted
// by one replica is refused by the others and by itself after a restart;
// one client's plain-route limit (3 an hour) holds across the three, one of
// them reading a copy of the key file with a comment added; with
// Redis stopped no request is accepted unchecked, the rate limit fails open
// (or closed where configured), nothing crashes; with Redis back everything
// recovers without restarting the sidecars, and what was recorded before
// the outage still counts.
func TestReplicasShareRedis(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	core := newStandInCore(t)
	keyFile, set, env, client := sharedSetup(t)
	key := set.PSKKeys[0]
	cfgFile := filepath.Join(t.TempDir(), "sidecar.yaml")
	if err := os.WriteFile(cfgFile, []byte("rate_limit:\n  rate: 6000/m\n  burst: 1000\n  plain_rate: 3/h\n  plain_burst: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Replica 2's key file holds the same keys with an operator's comment
	// on top: the replicas must still share their rate-limit buckets (the
	// hash key derives from the keys, not from the file's bytes).
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	editedKeyFile := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(editedKeyFile, append([]byte("# rotated on Tuesday, ticket 1234\n"), kb...), 0o600); err != nil {
		t.Fatal(err)
	}
	env["SEALOCR_CONFIG"] = cfgFile
	env["SEALOCR_UPSTREAM"] = core.URL
	env["SEALOCR_REDIS_URL"] = rs.URL
	env["SEALOCR_REDIS_TIMEOUT"] = "200ms"
	var reps []*replica
	for i := range 3 {
		e := map[string]string{"SEALOCR_STATE_DIR": t.TempDir()}
		for k, v := range env {
			e[k] = v
		}
		if i == 1 {
			e["SEALOCR_KEYS_FILE"] = editedKeyFile
		}
		if i == 2 {
			e["SEALOCR_RATE_LIMIT_FAIL"] = "closed"
		}
		reps = append(reps, startReplica(t, "replica"+strconv.Itoa(i+1), e, client))
	}
	for _, r := range reps {
		r.waitHealthy(t, 60*time.Second)
	}
	r1, r2, r3 := reps[0], reps[1], reps[2]
	expect := func(what string, gotStatus int, gotCode string, wantStatus int, wantCode string) {
		t.Helper()
		if gotStatus != wantStatus || gotCode != wantCode {
			t.Errorf("%s: got %d %q, want %d %q", what, gotStatus, gotCode, wantStatus, wantCode)
		}
	}
	cannotOpen := api.Lookup(api.CannotOpen)

	t.Run("replay across replicas and restarts", func(t *testing.T) {
		a := sealPSK(t, key)
		s, c := a.send(t, r1)
		expect("first sight on replica1", s, c, http.StatusOK, "")
		s, c = a.send(t, r2)
		expect("replay to replica2", s, c, cannotOpen.Status, cannotOpen.Code)
		s, c = a.send(t, r3)
		expect("replay to replica3", s, c, cannotOpen.Status, cannotOpen.Code)
		o := sealOHTTP(t, set)
		s, c = o.send(t, r1)
		expect("OHTTP first sight on replica1", s, c, http.StatusOK, "")
		s, c = o.send(t, r2)
		expect("OHTTP replay to replica2", s, c, cannotOpen.Status, cannotOpen.Code)
		s, c = o.send(t, r3)
		expect("OHTTP replay to replica3", s, c, cannotOpen.Status, cannotOpen.Code)
		r1.restart(t)
		s, c = a.send(t, r1)
		expect("replay to replica1 after its restart", s, c, cannotOpen.Status, cannotOpen.Code)
		s, c = o.send(t, r1)
		expect("OHTTP replay to replica1 after its restart", s, c, cannotOpen.Status, cannotOpen.Code)
		if n := core.ocr.Load(); n != 2 {
			t.Errorf("the core got %d OCR requests, want 2 (one PSK, one OHTTP)", n)
		}
	})

	t.Run("one limit across replicas", func(t *testing.T) {
		var allowed []string
		for i := range 9 {
			r := reps[i%3]
			res, body := r.do(t, http.MethodGet, "/", "", nil)
			switch res.StatusCode {
			case http.StatusOK:
				allowed = append(allowed, r.name)
				if res.Header.Get("RateLimit") == "" {
					t.Errorf("%s: no RateLimit header on an allowed request", r.name)
				}
			case http.StatusTooManyRequests:
				if answerCode(body) != api.Lookup(api.RateLimited).Code || res.Header.Get("Retry-After") == "" {
					t.Errorf("%s: refusal %q Retry-After %q", r.name, body, res.Header.Get("Retry-After"))
				}
			default:
				t.Errorf("%s: GET / answered %d %q", r.name, res.StatusCode, body)
			}
		}
		if want := []string{"replica1", "replica2", "replica3"}; strings.Join(allowed, ",") != strings.Join(want, ",") {
			t.Errorf("allowed %v of 9 requests (3 per replica in turn), want exactly the first three %v: a burst of 3 an hour across all replicas", allowed, want)
		}
	})

	// Captured before the outage, replayed during and after it.
	b := sealPSK(t, key)
	if s, c := b.send(t, r2); s != http.StatusOK {
		t.Fatalf("request before the outage: %d %q", s, c)
	}

	t.Run("redis stopped", func(t *testing.T) {
		ocrBefore := core.ocr.Load()
		rs.Stop()
		busy := api.Lookup(api.Busy)
		for _, r := range reps {
			// Nothing is accepted unchecked: a replay and fresh requests
			// alike get 503 busy with Retry-After (on replica3, with
			// rate_limit.fail=closed, already from the rate limit).
			s, c := b.send(t, r)
			expect(r.name+": replay with Redis down", s, c, busy.Status, busy.Code)
			s, c = sealPSK(t, key).send(t, r)
			expect(r.name+": fresh PSK request with Redis down", s, c, busy.Status, busy.Code)
			s, c = sealOHTTP(t, set).send(t, r)
			expect(r.name+": fresh OHTTP request with Redis down", s, c, busy.Status, busy.Code)
			res, _ := r.do(t, http.MethodPost, "/v1/ocr", psk.RequestMediaType, sealPSK(t, key).body)
			if res.Header.Get("Retry-After") == "" {
				t.Errorf("%s: 503 without Retry-After", r.name)
			}
		}
		if n := core.ocr.Load(); n != ocrBefore {
			t.Errorf("the core got %d OCR requests with Redis down", n-ocrBefore)
		}
		// The plain bucket is empty (3 an hour, used above): fail open
		// serves without a check, fail closed refuses with 503 busy.
		for _, r := range []*replica{r1, r2} {
			res, body := r.do(t, http.MethodGet, "/", "", nil)
			if res.StatusCode != http.StatusOK || res.Header.Get("RateLimit") != "" {
				t.Errorf("%s (fail open): %d %q RateLimit %q, want 200 without RateLimit headers", r.name, res.StatusCode, body, res.Header.Get("RateLimit"))
			}
			if n := r.metric(t, "sealocr_sidecar_rate_limit_unchecked_total", ""); n < 1 {
				t.Errorf("%s: sealocr_sidecar_rate_limit_unchecked_total %v", r.name, n)
			}
		}
		res, body := r3.do(t, http.MethodGet, "/", "", nil)
		if res.StatusCode != busy.Status || answerCode(body) != busy.Code || res.Header.Get("Retry-After") == "" {
			t.Errorf("replica3 (fail closed): %d %q Retry-After %q, want 503 busy with Retry-After", res.StatusCode, body, res.Header.Get("Retry-After"))
		}
		for _, r := range reps {
			r.waitHealthy(t, 5*time.Second) // no crash, health independent of Redis
			op := `op="replay"`             // replica3 refuses at the rate limit, before the replay check
			if r == r3 {
				op = `op="rate_limit"`
			}
			if n := r.metric(t, "sealocr_sidecar_redis_errors_total", op); n < 1 {
				t.Errorf("%s: sealocr_sidecar_redis_errors_total{%s} %v", r.name, op, n)
			}
			if !strings.Contains(r.log(), `"msg":"redis unavailable"`) {
				t.Errorf("%s logged no warning", r.name)
			}
			if strings.Contains(r.log(), "fake image bytes") {
				t.Errorf("%s logged the payload", r.name)
			}
		}
	})

	t.Run("redis restarted", func(t *testing.T) {
		rs.Restart()
		back := time.Now()
		// Recovery without restarting the sidecars: fresh requests pass
		// again on every replica.
		for _, r := range reps {
			for {
				s, c := sealPSK(t, key).send(t, r)
				if s == http.StatusOK {
					break
				}
				if time.Since(back) > 15*time.Second {
					t.Fatalf("%s did not recover within 15 s of Redis's restart: %d %q", r.name, s, c)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		t.Logf("all three replicas serve again %s after Redis accepts connections", time.Since(back).Round(time.Millisecond))
		for _, r := range reps {
			s, c := sealOHTTP(t, set).send(t, r)
			expect(r.name+": fresh OHTTP request after recovery", s, c, http.StatusOK, "")
		}
		// The append-only file kept what was recorded before the outage.
		for _, r := range reps {
			s, c := b.send(t, r)
			expect(r.name+": replay of a request recorded before the outage", s, c, cannotOpen.Status, cannotOpen.Code)
		}
		res, _ := r1.do(t, http.MethodGet, "/", "", nil)
		if res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("replica1 plain route after recovery: %d, want 429 (the bucket survived)", res.StatusCode)
		}
		res, _ = r3.do(t, http.MethodGet, "/", "", nil)
		if res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("replica3 plain route after recovery: %d, want 429", res.StatusCode)
		}
		deadline := time.Now().Add(12 * time.Second)
		for r1.metric(t, "sealocr_sidecar_redis_up", "") != 1 {
			if time.Now().After(deadline) {
				t.Error("sealocr_sidecar_redis_up did not return to 1")
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
	if l := rs.Log(); t.Failed() {
		t.Logf("redis-server:\n%s", tail(l))
	}
}

// waitListening waits until r accepts connections on every address.
func waitListening(t *testing.T, r *replica, addrs ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if r.exited() {
				t.Fatalf("%s exited\n%s", r.name, r.log())
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not listen on %s: %v", r.name, a, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestReplicasOneACMEOrder runs three sidecar processes in ACME mode on one
// redis-server against pebble: they order the name once, and all three
// serve the same certificate. pebble validates on replica1's ports, but
// replica1 manages no name at start (on-demand only): replicas 2 and 3
// contend for the lock, the winner orders, and replica1 answers the
// challenge from the data the winner stored in Redis; then replica1 serves
// the certificate from Redis without ordering.
func TestReplicasOneACMEOrder(t *testing.T) {
	peb := pebbletest.Start(t, pebbletest.Options{})
	rs := redistest.Start(t, redistest.Options{})
	core := newStandInCore(t)
	keyFile, _, _, _ := sharedSetup(t)
	const name = "shared.sidecar.test"
	var reps []*replica
	var addrs []string
	for i := range 3 {
		listen, httpListen := "127.0.0.1:"+strconv.Itoa(testkit.FreePort(t)), "127.0.0.1:"+strconv.Itoa(testkit.FreePort(t))
		if i == 0 {
			listen, httpListen = "127.0.0.1:"+strconv.Itoa(peb.TLSPort), "127.0.0.1:"+strconv.Itoa(peb.HTTPPort)
		}
		addrs = append(addrs, listen)
		env := map[string]string{
			"SEALOCR_STATE_DIR":    t.TempDir(),
			"SEALOCR_KEYS_FILE":    keyFile,
			"SEALOCR_ACME_CA":      peb.Directory,
			"SEALOCR_ACME_CA_ROOT": peb.ServerCAFile,
			"SEALOCR_LISTEN":       listen,
			"SEALOCR_HTTP_LISTEN":  httpListen,
			"SEALOCR_UPSTREAM":     core.URL,
			"SEALOCR_REDIS_URL":    rs.URL,
			"SEALOCR_LOG_LEVEL":    "debug",
			// One ACME order is under test, not authentication.
			"SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED": "true",
		}
		if i == 0 {
			env["SEALOCR_ACME_ON_DEMAND_ALLOW"] = name
		} else {
			env["SEALOCR_DOMAINS"] = name
		}
		reps = append(reps, startReplica(t, "replica"+strconv.Itoa(i+1), env, nil))
		if i == 0 {
			// pebble validates on replica1's ports: they must be open
			// before another replica can order (on a loaded machine
			// replica1 came up after the first validation, which failed,
			// and the winner ordered again).
			waitListening(t, reps[0], listen, httpListen)
		}
	}
	var serials []string
	for _, i := range []int{1, 2, 0} { // replica1 last: it must find the certificate in Redis
		r, addr := reps[i], addrs[i]
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: peb.Roots, MinVersion: tls.VersionTLS12},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		deadline := time.Now().Add(90 * time.Second)
		for {
			res, err := c.Get("https://" + name + "/healthz")
			if err == nil {
				res.Body.Close()
				serials = append(serials, res.TLS.PeerCertificates[0].SerialNumber.String())
				break
			}
			if r.exited() {
				t.Fatalf("%s exited\n%s", r.name, r.log())
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s serves no certificate for %s: %v\npebble:\n%s", r.name, name, err, tail(peb.Log()))
			}
			time.Sleep(250 * time.Millisecond)
		}
		tr.CloseIdleConnections()
	}
	if serials[0] != serials[1] || serials[1] != serials[2] {
		t.Errorf("the replicas serve different certificates: serials %v", serials)
	}
	var ordered []string
	for _, r := range reps {
		if strings.Contains(r.log(), "certificate obtained successfully") {
			ordered = append(ordered, r.name)
		}
	}
	// pebble validates on replica1's ports; when another replica ordered,
	// replica1 answered the challenge from the data in Redis.
	t.Logf("ordered by %v; served by all three with serial %s", ordered, serials[0])
	if len(ordered) != 1 || ordered[0] == "replica1" {
		t.Errorf("replicas that obtained the certificate: %v, want exactly one of replica2 and replica3", ordered)
	}
	if n := strings.Count(peb.Log(), "Added order"); n != 1 {
		t.Errorf("pebble got %d orders, want 1\n%s", n, tail(peb.Log()))
	}
	if n := strings.Count(peb.Log(), "Issued certificate serial"); n != 1 {
		t.Errorf("pebble issued %d certificates, want 1", n)
	}
}

// BenchmarkReplicas reports the requests per second (PSK, through a
// stand-in core that answers at once) of one sidecar with its state in
// memory, one on Redis, and three on one Redis, sent by 8 clients round
// robin. On a machine with few cores the processes share them: the figure
// shows the cost of the shared state, not the scaling of a cluster.
func BenchmarkReplicas(b *testing.B) {
	for _, bc := range []struct {
		name  string
		n     int
		redis bool
	}{{"memory-1", 1, false}, {"redis-1", 1, true}, {"redis-3", 3, true}} {
		b.Run(bc.name, func(b *testing.B) {
			core := newStandInCore(b)
			_, set, env, client := sharedSetup(b)
			env["SEALOCR_UPSTREAM"], env["SEALOCR_LOG_LEVEL"] = core.URL, "warn"
			env["SEALOCR_RATE_LIMIT"] = "off"
			if bc.redis {
				env["SEALOCR_REDIS_URL"] = redistest.Start(b, redistest.Options{}).URL
			}
			var reps []*replica
			for i := range bc.n {
				e := map[string]string{"SEALOCR_STATE_DIR": b.TempDir()}
				for k, v := range env {
					e[k] = v
				}
				reps = append(reps, startReplica(b, "replica"+strconv.Itoa(i+1), e, client))
			}
			for _, r := range reps {
				r.waitHealthy(b, 60*time.Second)
			}
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i] = sealPSK(b, set.PSKKeys[0]).body
			}
			var next atomic.Int64
			var failed atomic.Int64
			b.ResetTimer()
			start := time.Now()
			done := make(chan struct{})
			for range 8 {
				go func() {
					defer func() { done <- struct{}{} }()
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						r := reps[i%len(reps)]
						req, _ := http.NewRequest(http.MethodPost, r.url+"/v1/ocr", bytes.NewReader(bodies[i]))
						req.Header.Set("Content-Type", psk.RequestMediaType)
						res, err := client.Do(req)
						if err != nil {
							failed.Add(1)
							continue
						}
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							failed.Add(1)
						}
					}
				}()
			}
			for range 8 {
				<-done
			}
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d requests failed", n, b.N)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// TestReplicaRedisACL runs the sidecar as a real Redis ACL user. Limited to
// another key pattern than its prefix, it refuses to start, saying why.
// Limited to its prefix (~sealocr:*), it starts and serves, and every key it
// writes is under the prefix (with redis_rate's own "rate:" in front, the
// rate limit was refused with NOPERM and fail-open served everything
// unchecked). When the ACL changes under a running sidecar, the NOPERM is
// counted, logged as an error, and the request is refused with 503 busy even
// with rate_limit.fail=open: fail-open never hides it.
func TestReplicaRedisACL(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	core := newStandInCore(t)
	_, _, env, client := sharedSetup(t)
	admin, err := redisstate.Open(redisstate.Options{URL: rs.URL, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	acl := func(pattern string) {
		t.Helper()
		if err := admin.Redis().Do(ctx, "ACL", "SETUSER", "sidecar", "on", ">acl-password", "resetkeys", pattern, "+@all").Err(); err != nil {
			t.Fatal(err)
		}
	}
	u, err := url.Parse(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("sidecar")
	env["SEALOCR_UPSTREAM"] = core.URL
	env["SEALOCR_REDIS_URL"] = u.String()
	env["SEALOCR_REDIS_PASSWORD_ENV"] = "REDIS_PW"
	env["REDIS_PW"] = "acl-password"
	env["SEALOCR_RATE_LIMIT_FAIL"] = "open"

	t.Run("refuses to start without write access", func(t *testing.T) {
		acl("~someone-else:*")
		env["SEALOCR_STATE_DIR"] = t.TempDir()
		r := newReplica(t, "limited", env, client)
		r.start(t)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			r.stop(t)
			t.Fatalf("the sidecar started without write access under its prefix\n%s", tail(r.log()))
		}
		if r.proc.Cmd.ProcessState.Success() {
			t.Error("the sidecar exited 0")
		}
		if out := r.out.String(); !strings.Contains(out, `cannot write under the key prefix "sealocr:"`) ||
			!strings.Contains(out, "~sealocr:*") || strings.Contains(out, "acl-password") {
			t.Errorf("start-up error does not say what to fix (or shows the password):\n%s", tail(out))
		}
	})

	t.Run("serves under its prefix, NOPERM refuses loudly", func(t *testing.T) {
		acl("~sealocr:*")
		env["SEALOCR_STATE_DIR"] = t.TempDir()
		r := startReplica(t, "acl", env, client)
		r.waitHealthy(t, 60*time.Second)
		for range 3 {
			if res, body := r.do(t, http.MethodGet, "/", "", nil); res.StatusCode != http.StatusOK || res.Header.Get("RateLimit") == "" {
				t.Fatalf("GET / as the prefix-limited user: %d %q RateLimit=%q", res.StatusCode, body, res.Header.Get("RateLimit"))
			}
		}
		keys, err := admin.Redis().Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			t.Error("no rate-limit bucket was written")
		}
		for _, k := range keys {
			if !strings.HasPrefix(k, "sealocr:") {
				t.Errorf("key %q outside the prefix", k)
			}
		}
		acl("~someone-else:*")
		res, body := r.do(t, http.MethodGet, "/", "", nil)
		if busy := api.Lookup(api.Busy); res.StatusCode != busy.Status || answerCode(body) != busy.Code {
			t.Errorf("GET / after the ACL lost the prefix: %d %q, want %d %s (fail-open must not hide NOPERM)",
				res.StatusCode, body, busy.Status, busy.Code)
		}
		if n := r.metric(t, "sealocr_sidecar_redis_permission_errors_total", `op="rate_limit"`); n < 1 {
			t.Errorf("permission errors metric %v, want at least 1", n)
		}
		if n := r.metric(t, "sealocr_sidecar_rate_limit_unchecked_total", ""); n != 0 {
			t.Errorf("%v requests served unchecked, want none", n)
		}
		if !strings.Contains(r.log(), "NOPERM") || !strings.Contains(r.log(), `"level":"error"`) {
			t.Errorf("no error line about NOPERM:\n%s", tail(r.log()))
		}
	})
}
