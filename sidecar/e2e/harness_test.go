package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/api"
)

// Shared state set up by TestMain.
var (
	repoRoot    string // module root
	binDir      string // built binaries
	sidecarBin  string
	coreURL     string // http://127.0.0.1:PORT of the one core
	coreMetrics string // http://127.0.0.1:PORT/metrics, the core's metrics listener
	core        *process
)

// Timeouts. The core warms up once (model load and one inference).
const (
	coreReadyTimeout    = 3 * time.Minute
	sidecarReadyTimeout = 30 * time.Second
	requestTimeout      = 90 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	repoRoot, err = testkit.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	models, ortLib, err := modelPaths()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	binDir, err = os.MkdirTemp("", "sealocr-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	start := time.Now()
	coreBin := filepath.Join(binDir, "core")
	sidecarBin = filepath.Join(binDir, "sidecar")
	if err := testkit.GoBuild(coreBin, "./core/cmd/core", "CGO_ENABLED=1"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build core:", err)
		return 1
	}
	if err := testkit.GoBuild(sidecarBin, "./sidecar/cmd/sidecar", "CGO_ENABLED=0"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build sidecar:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: built core and sidecar in %s\n", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	core, coreURL, err = startCore(models, ortLib)
	if core != nil {
		coreMetrics = core.metricsURL
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: core:", err)
		if core != nil {
			core.stop()
			fmt.Fprintln(os.Stderr, core.tail())
			core.cleanup()
		}
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: core ready at %s in %s\n", coreURL, time.Since(start).Round(time.Millisecond))

	code := m.Run()

	crashed := core.crashed()
	core.stop()
	if crashed {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: the core exited during the tests\n"+core.tail())
		code = 1
	} else if p := panicLine(core.logs()); p != "" {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: the core logged a crash: "+p)
		code = 1
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, "e2e: core log tail:\n"+core.tail())
	}
	core.cleanup()
	return code
}

// modelPaths finds the models and ONNX Runtime the way the core does
// (SEALOCR_MODELS / SEALOCR_ORT_LIB, else the cache) and fails clearly when
// they are missing.
func modelPaths() (models, ortLib string, err error) {
	cache := os.Getenv("SEALOCR_CACHE")
	if cache == "" {
		home, herr := os.UserHomeDir()
		if herr != nil {
			return "", "", fmt.Errorf("no home folder to find the model cache: %w", herr)
		}
		cache = filepath.Join(home, ".cache", "sealocr")
	}
	models = os.Getenv("SEALOCR_MODELS")
	if models == "" {
		models = filepath.Join(cache, "models")
	}
	ortLib = os.Getenv("SEALOCR_ORT_LIB")
	if ortLib == "" {
		ortLib = filepath.Join(cache, "onnxruntime", "libonnxruntime.so.1")
	}
	var missing []string
	for _, f := range []string{
		filepath.Join(models, "ch_PP-OCRv4_det_infer.onnx"),
		filepath.Join(models, "ch_PP-OCRv4_rec_infer.onnx"),
		filepath.Join(models, "ch_ppocr_mobile_v2.0_cls_infer.onnx"),
		filepath.Join(models, "ppocr_keys_v1.txt"),
		ortLib,
	} {
		if _, serr := os.Stat(f); serr != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return "", "", fmt.Errorf("the OCR models or ONNX Runtime are missing (%s): run `make models` "+
			"(or set SEALOCR_MODELS and SEALOCR_ORT_LIB); the end-to-end tests need the real models", strings.Join(missing, ", "))
	}
	return models, ortLib, nil
}

// process is a child process with its output captured to files and its own
// HOME and TMPDIR, so that every file it writes can be inspected.
type process struct {
	*testkit.Process
	name       string
	root       string // removed by cleanup
	home       string // HOME and TMPDIR of the process
	stdoutPath string
	metricsURL string // a core's own /metrics listener (startCore)
	stderrPath string
}

// startProcess runs bin with args and exactly env (plus PATH, HOME, TMPDIR).
func startProcess(name, bin string, args []string, env map[string]string) (*process, error) {
	root, err := os.MkdirTemp("", "sealocr-e2e-"+name+"-")
	if err != nil {
		return nil, err
	}
	p := &process{
		name: name, root: root,
		home:       filepath.Join(root, "home"),
		stdoutPath: filepath.Join(root, "stdout.log"),
		stderrPath: filepath.Join(root, "stderr.log"),
	}
	if err := os.MkdirAll(p.home, 0o700); err != nil {
		return nil, err
	}
	stdout, err := os.Create(p.stdoutPath)
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(p.stderrPath)
	if err != nil {
		stdout.Close()
		return nil, err
	}
	vars := []string{"HOME=" + p.home, "TMPDIR=" + p.home}
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	p.Process, err = testkit.StartProcess(name, bin, args, testkit.ProcessOptions{Dir: p.home, Env: testkit.Env(vars...), Stdout: stdout, Stderr: stderr})
	if err != nil {
		stdout.Close()
		stderr.Close()
		os.RemoveAll(root)
		return nil, err
	}
	go func() {
		<-p.Done()
		stdout.Close()
		stderr.Close()
	}()
	return p, nil
}

func (p *process) exited() bool { return p.Exited() }

// crashed reports whether the process exited without being stopped.
func (p *process) crashed() bool { return p.Crashed() }

// stop sends SIGTERM, then SIGKILL after 10 s, and waits.
func (p *process) stop() { p.Stop(10 * time.Second) }

// waitErr is the exit status of a process that has exited.
func (p *process) waitErr() error { return p.Err() }

func (p *process) cleanup() { _ = os.RemoveAll(p.root) }

// logs returns everything the process wrote to stdout and stderr so far.
func (p *process) logs() string {
	a, _ := os.ReadFile(p.stdoutPath)
	b, _ := os.ReadFile(p.stderrPath)
	return string(a) + string(b)
}

func (p *process) tail() string {
	l := p.logs()
	if len(l) > 4000 {
		l = "…" + l[len(l)-4000:]
	}
	return fmt.Sprintf("--- %s output ---\n%s--- end of %s output ---", p.name, l, p.name)
}

// panicLine returns the first line that shows a crash, or "".
func panicLine(logs string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") ||
			strings.Contains(l, "panic in handler") || strings.Contains(l, "http: panic serving") {
			return l
		}
	}
	return ""
}

// startCore starts a core (the default one worker and queue, unless extra
// flags say otherwise) and waits until it is ready.
func startCore(models, ortLib string, extra ...string) (*process, string, error) {
	port, err := testkit.Port()
	if err != nil {
		return nil, "", err
	}
	mport, err := testkit.Port()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	metricsAddr := "127.0.0.1:" + strconv.Itoa(mport)
	p, err := startProcess("core", filepath.Join(binDir, "core"),
		append([]string{"--listen", addr, "--metrics-listen", metricsAddr,
			"--threads", "2", "--models", models, "--ort-lib", ortLib}, extra...),
		map[string]string{"SEALOCR_LOG_LEVEL": "debug", "SEALOCR_LOG_FORMAT": "json"})
	if err != nil {
		return nil, "", err
	}
	p.metricsURL = "http://" + metricsAddr + "/metrics"
	u := "http://" + addr
	deadline := time.Now().Add(coreReadyTimeout)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		if p.exited() {
			return p, "", fmt.Errorf("the core exited before it was ready (%v)", p.waitErr())
		}
		res, err := c.Get(u + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, u, nil
			}
		}
		if time.Now().After(deadline) {
			return p, "", fmt.Errorf("the core was not ready after %s", coreReadyTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sidecar is one running sidecar process.
type sidecar struct {
	proc     *process
	stateDir string
	addr     string // 127.0.0.1:PORT
	url      string // https://127.0.0.1:PORT
	metrics  string // http://127.0.0.1:PORT/metrics
	caPath   string
	keysPath string
	client   *http.Client // trusts only the sidecar's CA
	caPool   *x509.CertPool
}

// startSidecar starts a sidecar forwarding to the core (or to
// env["SEALOCR_UPSTREAM"]), and stops it when the test ends, failing the test
// if it crashed meanwhile.
func startSidecar(t *testing.T, env map[string]string) *sidecar {
	t.Helper()
	port, err := testkit.Port()
	if err != nil {
		t.Fatal(err)
	}
	mport, err := testkit.Port()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	all := map[string]string{
		"SEALOCR_LISTEN":         addr,
		"SEALOCR_UPSTREAM":       coreURL,
		"SEALOCR_METRICS_LISTEN": "127.0.0.1:" + strconv.Itoa(mport),
		"SEALOCR_LOG_LEVEL":      "debug",
		"SEALOCR_LOG_FORMAT":     "json",
		"SEALOCR_HTTP_LISTEN":    "off",
		// These tests count answers to envelopes, not requests per minute:
		// the refusal tables alone exceed the default legacy budget.
		"SEALOCR_RATE_LIMIT": "off",
		"SEALOCR_AUTH":       "off",
	}
	for k, v := range env {
		all[k] = v
	}
	p, err := startProcess("sidecar", sidecarBin, nil, all)
	if err != nil {
		t.Fatal(err)
	}
	s := &sidecar{proc: p, stateDir: all["SEALOCR_STATE_DIR"], addr: addr, url: "https://" + addr,
		metrics: "http://" + all["SEALOCR_METRICS_LISTEN"] + "/metrics"}
	t.Cleanup(func() {
		crashed := p.crashed()
		p.stop()
		if crashed {
			t.Errorf("the sidecar exited during the test (%v)\n%s", p.waitErr(), p.tail())
		} else if l := panicLine(p.logs()); l != "" {
			t.Errorf("the sidecar logged a crash: %s\n%s", l, p.tail())
		} else if t.Failed() {
			t.Log(p.tail())
		}
		p.cleanup()
	})
	return s
}

// newSidecar starts a sidecar with a fresh temporary state folder (unless
// env names one) and waits until /healthz answers over TLS trusting only the
// ca.pem it generated there.
func newSidecar(t *testing.T, env map[string]string) *sidecar {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["SEALOCR_STATE_DIR"]; !ok {
		dir, err := os.MkdirTemp("", "sealocr-e2e-state-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		env["SEALOCR_STATE_DIR"] = dir
	}
	s := startSidecar(t, env)
	s.caPath = filepath.Join(s.stateDir, "ca.pem")
	s.keysPath = filepath.Join(s.stateDir, "keys.yaml")
	if v := env["SEALOCR_KEYS_FILE"]; v != "" {
		s.keysPath = v
	}
	deadline := time.Now().Add(sidecarReadyTimeout)
	for {
		if s.proc.exited() {
			t.Fatalf("the sidecar exited at start (%v)\n%s", s.proc.waitErr(), s.proc.tail())
		}
		if s.client == nil {
			if pem, err := os.ReadFile(s.caPath); err == nil {
				pool := x509.NewCertPool()
				if pool.AppendCertsFromPEM(pem) {
					s.caPool = pool
					s.client = &http.Client{
						Timeout: requestTimeout,
						Transport: &http.Transport{
							TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
							ForceAttemptHTTP2: true,
						},
					}
				}
			}
		}
		if s.client != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/healthz", nil)
			res, err := s.client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			} else {
				s.client = nil // read ca.pem again: a sidecar may replace the CA it found at start
			}
			cancel()
			if err == nil && res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sidecar was not healthy after %s\n%s", sidecarReadyTimeout, s.proc.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// do sends a request to the sidecar and reads the whole answer.
func (s *sidecar) do(t *testing.T, method, target, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return doRequest(t, s.client, method, s.url+target, contentType, bytes.NewReader(body), int64(len(body)))
}

func doRequest(t *testing.T, c *http.Client, method, url, contentType string, body io.Reader, length int64) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	if length == 0 {
		req.Body = http.NoBody
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return res, b
}

// fixedAnswer is a documented status, media type and exact body.
type fixedAnswer struct {
	status      int
	contentType string
	body        string
}

// answer is the fixed answer id of the sidecar's one table (sidecar/api).
func answer(id api.ID) fixedAnswer {
	a := api.Lookup(id)
	return fixedAnswer{a.Status, a.ContentType, string(a.Body)}
}

// The sidecar's fixed answers the tests expect.
var (
	ansCannotOpen          = answer(api.CannotOpen)
	ansEncryptionRequired  = answer(api.EncryptionRequired)
	ansTooLarge            = answer(api.TooLarge)
	ansUpstreamUnavailable = answer(api.UpstreamUnavailable)
	ansOHTTPKeyUnknown     = answer(api.OHTTPKeyUnknown)
	ansLegacyError         = answer(api.LegacyError)
	ansHealthy             = answer(api.Healthy)
)

func checkAnswer(t *testing.T, what string, status int, contentType string, body []byte, want fixedAnswer) {
	t.Helper()
	if status != want.status || contentType != want.contentType || string(body) != want.body {
		t.Errorf("%s: got %d %q %q\nwant %d %q %q", what, status, contentType, body, want.status, want.contentType, want.body)
	}
}

func checkResponse(t *testing.T, what string, res *http.Response, body []byte, want fixedAnswer) {
	t.Helper()
	checkAnswer(t, what, res.StatusCode, res.Header.Get("Content-Type"), body, want)
}

// checkHealthy asserts that the sidecar still runs and answers /healthz.
func (s *sidecar) checkHealthy(t *testing.T) {
	t.Helper()
	if s.proc.exited() {
		t.Fatalf("the sidecar exited (%v)\n%s", s.proc.waitErr(), s.proc.tail())
	}
	res, body := s.do(t, http.MethodGet, "/healthz", "", nil)
	checkResponse(t, "GET /healthz", res, body, ansHealthy)
}

// ocrResult is the core's JSON answer.
type ocrResult struct {
	Text  string `json:"text"`
	Lines []struct {
		Text       string  `json:"text"`
		Confidence float64 `json:"confidence"`
	} `json:"lines"`
	Width     int     `json:"width"`
	Height    int     `json:"height"`
	ElapsedMS float64 `json:"elapsed_ms"`
}

// checkOCR parses a core JSON answer and compares its text with want,
// ignoring white space (PP-OCRv4 may drop a space).
func checkOCR(t *testing.T, what string, body []byte, want string) ocrResult {
	t.Helper()
	var r ocrResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: not the core's JSON: %v: %q", what, err, truncate(body))
	}
	if got := squash(r.Text); got != squash(want) {
		t.Errorf("%s: text %q, want %q", what, r.Text, want)
	}
	if r.Width <= 0 || r.Height <= 0 || len(r.Lines) == 0 {
		t.Errorf("%s: incomplete answer %+v", what, r)
	}
	return r
}

func squash(s string) string {
	return strings.Join(strings.Fields(s), "")
}

func truncate(b []byte) []byte {
	if len(b) > 300 {
		return append(b[:300:300], "…"...)
	}
	return b
}

// Test images and their expected text (core/testdata/ocr).
type testImage struct {
	path        string
	contentType string
	text        string
}

var (
	imgHello = testImage{"core/testdata/ocr/cnocr/lines/helloworld.jpg", "image/jpeg", "Hello world!你好世界"}
	imgP11   = testImage{"core/testdata/ocr/paddleocr/lines/p11_line00.png", "image/png", "纯臻营养护发素"}
)

func (im testImage) read(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(im.abs())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (im testImage) abs() string {
	if filepath.IsAbs(im.path) {
		return im.path
	}
	return filepath.Join(repoRoot, im.path)
}

// Texts rendered for tests whose request path cannot carry mode=line (the
// legacy mode forwards to /v1/ocr; bhttp-js drops the query), which the core
// reads in its default document mode.
var (
	docTexts = []string{"Sealed OCR works 2026", "Invoice 4711 paid"}
)

// renderedImage renders text (see renderText) into a PNG under t.TempDir().
func renderedImage(t *testing.T, text string) testImage {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rendered.png")
	if err := os.WriteFile(p, renderText(t, text, 40), 0o600); err != nil {
		t.Fatal(err)
	}
	return testImage{path: p, contentType: "image/png", text: text}
}
