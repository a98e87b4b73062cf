package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/client"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/route"
)

// TestRotationAcrossReplicas runs two sidecar processes that share a seed,
// with ohttp_rotation 10s, through three periods: both publish the same key
// list in each period, with new key IDs every period; a request
// encapsulated under the previous period's configuration is accepted, one
// two periods old is refused with the OHTTP key-unknown answer; and the Go
// client, holding a list two periods old, recovers by itself (refused once,
// refetches, succeeds).
func TestRotationAcrossReplicas(t *testing.T) {
	const period = 10 * time.Second
	core := newStandInCore(t)
	keyFile, _, env, hc := sharedSetup(t)
	seed := make([]byte, 32)
	copy(seed, "rotation test seed, not secret!!")
	if err := os.WriteFile(keyFile, []byte("seed: "+base64.StdEncoding.EncodeToString(seed)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["SEALOCR_UPSTREAM"] = core.URL
	env["SEALOCR_OHTTP_ROTATION"] = period.String()
	var reps []*replica
	for _, name := range []string{"replica1", "replica2"} {
		e := map[string]string{"SEALOCR_STATE_DIR": t.TempDir()}
		for k, v := range env {
			e[k] = v
		}
		reps = append(reps, startReplica(t, name, e, hc))
	}
	for _, r := range reps {
		r.waitHealthy(t, 60*time.Second)
	}
	keyList := func(r *replica) ([]byte, []ohttp.PublicKeyConfig) {
		t.Helper()
		res, body := r.do(t, http.MethodGet, route.OHTTPPath, "", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: key list %d", r.name, res.StatusCode)
		}
		cfgs, err := ohttp.ParseKeyList(body)
		if err != nil {
			t.Fatal(err)
		}
		return body, cfgs
	}
	// waitPeriod sleeps until 3 s into the next period and returns it.
	waitPeriod := func() int64 {
		now := time.Now()
		p := keys.Period(now, period) + 1
		time.Sleep(time.Until(time.Unix(0, p*int64(period)).Add(3 * time.Second)))
		return p
	}
	c, err := client.New(client.Config{Server: reps[0].url, HTTPClient: hc, Mode: client.ModeOHTTP})
	if err != nil {
		t.Fatal(err)
	}
	refusals := func(r *replica) int { return strings.Count(r.log(), `"answer":"ohttp_key_unknown"`) }

	var first ohttp.PublicKeyConfig
	var ids []uint8
	for i := range 3 {
		p := waitPeriod()
		l1, cfgs := keyList(reps[0])
		l2, cfgs2 := keyList(reps[1])
		if !bytes.Equal(l1, l2) {
			t.Errorf("period %d: the replicas publish different key lists", i)
		}
		t.Logf("period %d (starts %s): %s publishes key IDs %v, %s publishes %v",
			p, time.Unix(0, p*int64(period)).UTC().Format(time.TimeOnly), reps[0].name, keyIDs(cfgs), reps[1].name, keyIDs(cfgs2))
		if len(cfgs) != 2 || cfgs[0].KeyID() != keys.RotationKeyID(p) {
			t.Fatalf("period %d: published %v, want the pair of period %d (key ID %d)", i, cfgs, p, keys.RotationKeyID(p))
		}
		ids = append(ids, cfgs[0].KeyID(), cfgs[1].KeyID())
		switch i {
		case 0:
			first = cfgs[0]
			if _, err := c.OCR(context.Background(), []byte("\x89PNG\r\n\x1a\nfake"), client.OCROptions{}); err != nil {
				t.Fatalf("Go client in period 0: %v", err)
			}
		case 1:
			// The previous period's configuration, on the other replica.
			s, code := sendOHTTP(t, reps[1], first)
			if s != http.StatusOK {
				t.Errorf("a request under the previous period's key: %d %s, want it accepted", s, code)
			}
			t.Logf("period %d: a request under period %d's key ID %d on %s: %d %s", p, p-1, first.KeyID(), reps[1].name, s, code)
		case 2:
			ku := api.Lookup(api.OHTTPKeyUnknown)
			s, body := sendOHTTP(t, reps[1], first)
			if s != ku.Status || body != string(ku.Body) {
				t.Errorf("a request under a key two periods old: %d %q, want %d %s", s, body, ku.Status, ku.Body)
			}
			t.Logf("period %d: a request under period %d's key ID %d on %s: %d %s", p, p-2, first.KeyID(), reps[1].name, s, body)
			before := refusals(reps[0])
			if _, err := c.OCR(context.Background(), []byte("\x89PNG\r\n\x1a\nfake"), client.OCROptions{}); err != nil {
				t.Fatalf("Go client with a list two periods old: %v", err)
			}
			if n := refusals(reps[0]) - before; n != 1 {
				t.Errorf("the Go client was refused %d times, want once (then it refetched the list)", n)
			}
			t.Logf("period %d: the Go client holding period %d's list was refused %d time(s) by %s, refetched and got its answer",
				p, p-2, refusals(reps[0])-before, reps[0].name)
		}
	}
	t.Logf("key IDs published over three periods (X25519, X-Wing): %v", ids)
	seen := map[uint8]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("key ID %d published in two periods: %v", id, ids)
		}
		seen[id] = true
	}
}

// keyIDs lists the key IDs of cfgs in order.
func keyIDs(cfgs []ohttp.PublicKeyConfig) []uint8 {
	ids := make([]uint8, 0, len(cfgs))
	for _, c := range cfgs {
		ids = append(ids, c.KeyID())
	}
	return ids
}

// sendOHTTP posts one request encapsulated under cfg to r and returns the
// outer status (200 with the inner answer checked) and the refusal's code
// (or, for a problem answer, its body).
func sendOHTTP(t *testing.T, r *replica, cfg ohttp.PublicKeyConfig) (int, string) {
	t.Helper()
	set := &keys.Set{Public: []ohttp.PublicKeyConfig{cfg}}
	return sealOHTTP(t, set).send(t, r)
}

// TestKeyLastUsed: a sidecar reports when each pre-shared key last opened a
// request, as a gauge while it runs and, after it stopped, in
// --check-config; a key added by a rotation and not used yet is "never".
func TestKeyLastUsed(t *testing.T) {
	core := newStandInCore(t)
	keyFile, set, env, hc := sharedSetup(t)
	env["SEALOCR_UPSTREAM"] = core.URL
	env["SEALOCR_STATE_DIR"] = t.TempDir()
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	added, err := keys.AddPSK(data, "next", psk.DefaultSuite)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, added, 0o600); err != nil {
		t.Fatal(err)
	}
	// Started by hand: the test stops it itself (startReplica's cleanup
	// takes an exit during the test for a crash).
	r := newReplica(t, "usage", env, hc)
	r.start(t)
	defer r.stop(t)
	r.waitHealthy(t, 60*time.Second)
	start := time.Now().Truncate(time.Second)
	if s, code := sealPSK(t, set.PSKKeys[0]).send(t, r); s != http.StatusOK {
		t.Fatalf("PSK request: %d %s", s, code)
	}
	if got := r.metric(t, "sealocr_sidecar_key_last_used_timestamp_seconds", `key_id="replicas"`); got < float64(start.Unix()) {
		t.Errorf("last used %v, want at least %d", got, start.Unix())
	}
	if got := r.metric(t, "sealocr_sidecar_key_last_used_timestamp_seconds", `key_id="next"`); got != 0 {
		t.Errorf("an unused key has last used %v", got)
	}
	r.stop(t)
	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"--check-config"}, func(k string) string { return env[k] }, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "# psk next: last used never\n# psk replicas: last used "+start.UTC().Format("2006-01-02T15")) {
		t.Errorf("--check-config does not report the keys' last use:\n%s", out.String())
	}
}
