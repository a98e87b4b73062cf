package e2e

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
)

// The padding-oracle attack of issue 10 (finding 1), run against the real
// sidecar and core. Bounds: at most oracleMaxQueries requests to the
// sidecar and oracleMaxTime, all on loopback.
const (
	oracleMaxQueries = 20_000
	oracleMaxTime    = 4 * time.Minute
)

// TestLegacyPaddingOracle runs a Vaudenay padding-oracle client against a
// legacy sidecar: it captures a legacy response and tries to recover the
// last plaintext byte of one of its blocks, using every signal it can
// measure — status, body, time (medians of repeated probes) and the core's
// request counters (its /metrics). It must fail against the current code.
//
// The rate limit is off (SEALOCR_RATE_LIMIT=off, the harness default) and
// the legacy mode admits anonymous clients (SEALOCR_UNSAFE_LEGACY_ANONYMOUS):
// both are defences in depth that an attacker works around (many client
// addresses, one stolen or purchased credential); the test proves that the
// oracle itself is closed.
func TestLegacyPaddingOracle(t *testing.T) {
	env := map[string]string{"SEALOCR_UNSAFE_LEGACY_ANONYMOUS": "true"}
	t.Run("current", func(t *testing.T) {
		s := newLegacySidecar(t, env)
		r := attackOracle(t, s)
		t.Logf("attack on the current code: %s", r)
		if r.recovered && r.guess == r.truth {
			t.Fatalf("the padding oracle is open: byte %#02x recovered in %d queries (%s)", r.truth, r.queries, r.how)
		}
		s.checkHealthy(t)
	})
	// The same attacker against a deliberately vulnerable legacy server (a
	// handler of this test that answers bad padding 400 and good padding
	// otherwise): it must recover the byte there, on every run, or the
	// "closed" verdict above proves nothing.
	t.Run("attacker works on an open oracle", func(t *testing.T) {
		srv := httptest.NewTLSServer(vulnerableLegacy(t, []byte(legacySecret)))
		defer srv.Close()
		r := attackOracle(t, &sidecar{url: srv.URL, client: srv.Client()})
		t.Logf("attack on the vulnerable handler: %s", r)
		if !r.recovered || r.guess != r.truth {
			t.Fatalf("the attacker failed against an open padding oracle: the attack test proves nothing (%s)", r)
		}
	})
}

// vulnerableLegacy is a legacy endpoint with the padding oracle that issue
// 10 closed: it decrypts with AES-CBC and answers 400 "bad padding" when
// the PKCS#7 padding is wrong, 502 when the padding is right but the
// plaintext is not a request the core takes, and a sealed answer to a
// well-formed request. Only the attack test's self-check talks to it.
func vulnerableLegacy(t *testing.T, secret []byte) http.Handler {
	key := legacyKey(t, string(secret))
	block, err := aes.NewCipher(secret)
	if err != nil {
		t.Fatal(err)
	}
	const answer = `{"text":"Invoice 2024-0117 total 1,234.50 EUR, due in thirty days","lines":[]}`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct{ Data string }
		raw, err := base64.StdEncoding.DecodeString(func() string { _ = json.Unmarshal(body, &req); return req.Data }())
		if err != nil || len(raw) < 32 || len(raw)%16 != 0 {
			http.Error(w, `{"status":"error","message":"malformed"}`, http.StatusBadRequest)
			return
		}
		pt := make([]byte, len(raw)-16)
		cipher.NewCBCDecrypter(block, raw[:16]).CryptBlocks(pt, raw[16:])
		n := int(pt[len(pt)-1])
		if n == 0 || n > 16 || !bytes.Equal(pt[len(pt)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
			http.Error(w, `{"status":"error","message":"bad padding"}`, http.StatusBadRequest)
			return
		}
		if _, err := legacycbc.Open(key, body); err != nil || !bytes.HasPrefix(pt, []byte("\x89PNG")) {
			http.Error(w, `{"status":"error","message":"upstream"}`, http.StatusBadGateway)
			return
		}
		out, err := legacycbc.Seal(nil, key, []byte(answer))
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}

// TestLegacyCoreDownOneAnswer: with the core down, a request with valid
// padding and one with invalid padding get the same answer (before the fix:
// 502 and 400).
func TestLegacyCoreDownOneAnswer(t *testing.T) {
	port, err := testkit.Port()
	if err != nil {
		t.Fatal(err)
	}
	s := newLegacySidecar(t, map[string]string{"SEALOCR_UNSAFE_LEGACY_ANONYMOUS": "true",
		"SEALOCR_UPSTREAM": "http://127.0.0.1:" + strconv.Itoa(port)})
	key := legacyKey(t, legacySecret)
	good, err := legacycbc.SealRequest(nil, key, imgHello.read(t))
	if err != nil {
		t.Fatal(err)
	}
	badPad := make([]byte, 32)
	badPad[31] = 0x11
	for name, body := range map[string][]byte{"valid padding": good, "invalid padding": rawCBC(t, []byte(legacySecret), badPad)} {
		res, b := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, body)
		checkResponse(t, name+" with the core down", res, b, ansLegacyError)
	}
}

// oracleResult is what the attacker got.
type oracleResult struct {
	recovered bool   // the attacker claims a byte
	guess     byte   // the claimed byte
	truth     byte   // the real byte (the test knows the key)
	queries   int    // requests sent to the sidecar
	how       string // which signal decided, or why none did
	stats     string // the measured figures
}

func (r oracleResult) String() string {
	claim := "no byte claimed"
	if r.recovered {
		claim = fmt.Sprintf("claimed %#02x (truth %#02x, correct=%v)", r.guess, r.truth, r.guess == r.truth)
	}
	return fmt.Sprintf("%s after %d queries; %s; %s", claim, r.queries, r.how, r.stats)
}

// oracle is the attacker's view of one sidecar.
type oracle struct {
	t        *testing.T
	s        *sidecar
	client   *http.Client
	prev     []byte // the ciphertext block before the target (or the IV)
	target   []byte // the attacked ciphertext block
	queries  int
	deadline time.Time
}

// probe is one measured request.
type probe struct {
	sig string        // status and a hash of the body
	dur time.Duration // client-side round trip
}

// attackOracle captures a legacy response from the sidecar and attacks its
// penultimate ciphertext block (real JSON text, not padding).
func attackOracle(t *testing.T, s *sidecar) oracleResult {
	t.Helper()
	key := legacyKey(t, legacySecret)
	img := renderedImage(t, docTexts[1])
	req, err := legacycbc.SealRequest(nil, key, img.read(t))
	if err != nil {
		t.Fatal(err)
	}
	res, body := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, req)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("capture: %d %s", res.StatusCode, body)
	}
	var env struct{ Result string }
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Result)
	if err != nil || len(raw) < 48 {
		t.Fatalf("capture: result of %d bytes (%v)", len(raw), err)
	}
	plain, err := legacycbc.OpenResponse(key, body)
	if err != nil {
		t.Fatal(err)
	}
	n := len(raw)/16 - 1 // ciphertext blocks after the IV
	ti := n - 1          // the penultimate block: JSON text
	o := &oracle{t: t, s: s, client: s.client,
		prev: raw[16*(ti-1) : 16*ti], target: raw[16*ti : 16*(ti+1)], deadline: time.Now().Add(oracleMaxTime)}
	truth := plain[16*(ti-1)+15]
	r := o.run()
	r.truth = truth
	r.stats += "; " + o.diagnose(truth^0x01^o.prev[15])
	return r
}

// diagnose is not part of the attack: knowing the key, the test measures
// the candidate that gives valid padding (valid) against one that does not
// (valid^0x80) — 200 interleaved probes each for time, then 20 each with
// the core's counters read around them — for the closing note's figures.
func (o *oracle) diagnose(valid byte) string {
	o.queries, o.deadline = 0, time.Now().Add(time.Minute) // a budget of its own
	rnd := make([]byte, 16)
	_, _ = rand.Read(rnd)
	var tv, ti []time.Duration
	for range 200 {
		pv, ok1 := o.send(o.body(rnd, valid))
		pi, ok2 := o.send(o.body(rnd, valid^0x80))
		if !ok1 || !ok2 {
			break
		}
		tv, ti = append(tv, pv.dur), append(ti, pi.dur)
	}
	delta := func(g byte) string {
		before := o.coreCounters()
		for range 20 {
			o.send(o.body(rnd, g))
		}
		d := counterDelta(before, o.coreCounters())
		if d == "" {
			d = "none"
		}
		return d
	}
	return fmt.Sprintf("diagnosis (test knows the key): valid padding median %.1f µs (n=%d) vs invalid %.1f µs (n=%d); core counters over 20 probes: valid %s, invalid %s",
		median(tv), len(tv), median(ti), len(ti), delta(valid), delta(valid^0x80))
}

// body builds the probe request: IV' ‖ target, where IV' is r with its last
// byte set to the candidate g. The sidecar decrypts the target block to
// D(target) ⊕ IV'; its padding is valid (0x01) exactly when
// g = D(target)[15] ⊕ 0x01.
func (o *oracle) body(r []byte, g byte) []byte {
	iv := bytes.Clone(r)
	iv[15] = g
	return legacyJSON(append(iv, o.target...))
}

func (o *oracle) send(b []byte) (probe, bool) {
	if o.queries >= oracleMaxQueries || time.Now().After(o.deadline) {
		return probe{}, false
	}
	o.queries++
	req, err := http.NewRequest(http.MethodPost, o.s.url+"/ocr", bytes.NewReader(b))
	if err != nil {
		o.t.Fatal(err)
	}
	req.Header.Set("Content-Type", legacycbc.MediaType)
	start := time.Now()
	res, err := o.client.Do(req)
	if err != nil {
		return probe{sig: "transport error", dur: time.Since(start)}, true
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	d := time.Since(start)
	h := sha256.Sum256(out)
	return probe{sig: fmt.Sprintf("%d %x", res.StatusCode, h[:6]), dur: d}, true
}

// coreCounters reads the core's request counters (every series of
// sealocr_core_requests_total) from its /metrics.
func (o *oracle) coreCounters() map[string]float64 {
	res, err := http.Get(coreMetricsURL())
	if err != nil {
		o.t.Fatalf("core metrics: %v", err)
	}
	defer res.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "sealocr_core_requests_total") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			m[l[:i]] = v
		}
	}
	return m
}

func counterDelta(a, b map[string]float64) string {
	var parts []string
	for k, v := range b {
		if d := v - a[k]; d != 0 {
			parts = append(parts, fmt.Sprintf("%s+%g", k, d))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// run is the attack. Phase 1 probes every candidate a few times, reading
// the core's counters around each probe: if status, body or counter delta
// single out one candidate, that is the oracle. Otherwise phase 2 narrows
// the candidates by median time (successive halving, probes interleaved
// round-robin so that drift hits every candidate alike) and claims the
// survivor only if its median stands apart from the others' by far more
// than their spread. Every claim is checked as a real attacker would (the
// 0x02 0x02 case): flipping byte 14 of IV' must keep the signal.
func (o *oracle) run() oracleResult {
	rnd := make([]byte, 16)
	_, _ = rand.Read(rnd)
	// Phase 1: exact signals.
	const r1 = 3
	sigs := make([]map[string]int, 256)
	times := make([][]time.Duration, 256)
	for g := 0; g < 256; g++ {
		sigs[g] = map[string]int{}
		for range r1 {
			before := o.coreCounters()
			p, ok := o.send(o.body(rnd, byte(g)))
			if !ok {
				return oracleResult{queries: o.queries, how: "budget exhausted in phase 1"}
			}
			sig := p.sig + " core:" + counterDelta(before, o.coreCounters())
			sigs[g][sig]++
			times[g] = append(times[g], p.dur)
		}
	}
	classes := map[string][]int{}
	for g := range 256 {
		keys := make([]string, 0, len(sigs[g]))
		for k := range sigs[g] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		k := strings.Join(keys, "|")
		classes[k] = append(classes[k], g)
	}
	var summary []string
	for k, gs := range classes {
		summary = append(summary, fmt.Sprintf("%d candidates: %s", len(gs), k))
	}
	slices.Sort(summary)
	stats := "phase 1 signatures: " + strings.Join(summary, " / ")
	if len(classes) > 1 {
		// The smallest class that holds one or two candidates is the
		// oracle's "valid padding".
		for _, gs := range classes {
			if len(gs) <= 2 {
				for _, g := range gs {
					if o.confirmExact(rnd, byte(g), sigs[g]) {
						return oracleResult{recovered: true, guess: byte(g) ^ 0x01 ^ o.prev[15], queries: o.queries,
							how: "status/body/core counters", stats: stats}
					}
				}
			}
		}
	}
	// Phase 2: time.
	cands := make([]int, 256)
	for g := range cands {
		cands[g] = g
	}
	for _, round := range []struct{ reps, keep int }{{12, 32}, {60, 8}, {250, 2}} {
		for range round.reps {
			for _, g := range cands {
				p, ok := o.send(o.body(rnd, byte(g)))
				if !ok {
					return oracleResult{queries: o.queries, how: "budget exhausted in phase 2", stats: stats}
				}
				times[g] = append(times[g], p.dur)
			}
		}
		cands = o.byDeviation(times, cands)[:round.keep]
	}
	best := cands[0]
	// Final check: the best candidate against 7 controls, interleaved,
	// with IV' byte 14 flipped (a real 0x01 survives it).
	flipped := bytes.Clone(rnd)
	flipped[14] ^= 0xff
	controls := []int{best}
	for len(controls) < 8 {
		b := make([]byte, 1)
		_, _ = rand.Read(b)
		if !slices.Contains(controls, int(b[0])) {
			controls = append(controls, int(b[0]))
		}
	}
	final := make(map[int][]time.Duration)
	for range 400 {
		for _, g := range controls {
			p, ok := o.send(o.body(flipped, byte(g)))
			if !ok {
				goto decide
			}
			final[g] = append(final[g], p.dur)
		}
	}
decide:
	meds := make([]float64, 0, len(controls)-1)
	for _, g := range controls[1:] {
		meds = append(meds, median(final[g]))
	}
	mb, mc, spread := median(final[best]), medianF(meds), mad(meds)
	stats += fmt.Sprintf("; phase 2: best candidate %#02x median %.1f µs, controls' median %.1f µs (spread %.1f µs); all-candidate medians after phase 1: %s",
		best, mb, mc, spread, timeSummary(times))
	// A claim needs a gap of 20 µs and of 6 times the controls' spread.
	if len(final[best]) >= 100 && math.Abs(mb-mc) > math.Max(20, 6*spread) {
		return oracleResult{recovered: true, guess: byte(best) ^ 0x01 ^ o.prev[15], queries: o.queries, how: "timing", stats: stats}
	}
	return oracleResult{queries: o.queries, how: "no signal separates any candidate", stats: stats}
}

// confirmExact re-probes g with IV' byte 14 flipped and checks that the
// exact signature is the same.
func (o *oracle) confirmExact(rnd []byte, g byte, want map[string]int) bool {
	flipped := bytes.Clone(rnd)
	flipped[14] ^= 0xff
	before := o.coreCounters()
	p, ok := o.send(o.body(flipped, g))
	if !ok {
		return false
	}
	_, same := want[p.sig+" core:"+counterDelta(before, o.coreCounters())]
	return same
}

// byDeviation orders candidates by how far their median time is from the
// median of all candidates' medians.
func (o *oracle) byDeviation(times [][]time.Duration, cands []int) []int {
	meds := make([]float64, 256)
	all := make([]float64, 0, len(cands))
	for _, g := range cands {
		meds[g] = median(times[g])
		all = append(all, meds[g])
	}
	center := medianF(all)
	out := slices.Clone(cands)
	slices.SortFunc(out, func(a, b int) int {
		da, db := math.Abs(meds[a]-center), math.Abs(meds[b]-center)
		switch {
		case da > db:
			return -1
		case da < db:
			return 1
		}
		return 0
	})
	return out
}

// median returns the median in microseconds.
func median(d []time.Duration) float64 {
	f := make([]float64, len(d))
	for i, v := range d {
		f[i] = float64(v) / float64(time.Microsecond)
	}
	return medianF(f)
}

func medianF(f []float64) float64 {
	if len(f) == 0 {
		return math.NaN()
	}
	s := slices.Clone(f)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// mad is the median absolute deviation.
func mad(f []float64) float64 {
	m := medianF(f)
	d := make([]float64, len(f))
	for i, v := range f {
		d[i] = math.Abs(v - m)
	}
	return medianF(d)
}

func timeSummary(times [][]time.Duration) string {
	meds := make([]float64, 0, 256)
	for _, ts := range times {
		meds = append(meds, median(ts))
	}
	slices.Sort(meds)
	return fmt.Sprintf("min %.1f, median %.1f, max %.1f µs", meds[0], medianF(meds), meds[len(meds)-1])
}

// coreMetricsURL is where the core serves its Prometheus metrics.
func coreMetricsURL() string { return coreMetrics } // the core's own metrics listener
