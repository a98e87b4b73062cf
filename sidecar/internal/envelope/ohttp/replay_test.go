package ohttp

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestReplayKey(t *testing.T) {
	kc, err := GenerateKeyConfig(7, KEMX25519HKDFSHA256)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGateway(kc)
	if err != nil {
		t.Fatal(err)
	}
	suite := kc.PublicConfig().Suites()[0]
	enc1, _, err := EncapsulateRequest(kc.PublicConfig(), suite, []byte("same request"))
	if err != nil {
		t.Fatal(err)
	}
	enc2, _, err := EncapsulateRequest(kc.PublicConfig(), suite, []byte("same request"))
	if err != nil {
		t.Fatal(err)
	}
	_, a, err := g.DecapsulateRequest(enc1)
	if err != nil {
		t.Fatal(err)
	}
	_, b, _ := g.DecapsulateRequest(enc1)
	_, c, _ := g.DecapsulateRequest(enc2)
	if !bytes.Equal(a.ReplayKey(), b.ReplayKey()) {
		t.Error("the same encapsulated request posted twice must have the same replay key")
	}
	if bytes.Equal(a.ReplayKey(), c.ReplayKey()) {
		t.Error("two encapsulations of the same content must have different replay keys")
	}
	if !bytes.Equal(a.ReplayKey(), enc1[:requestHeaderSize+32]) {
		t.Error("the replay key is the header and enc")
	}
}

func TestCheckDate(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	past, future := 5*time.Minute, 30*time.Second
	f := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	for _, c := range []struct {
		name     string
		values   []string
		required bool
		ok       bool
		expiry   time.Time
	}{
		{"now", []string{f(0)}, false, true, now.Add(past + time.Second)},
		{"29 s ahead", []string{f(29 * time.Second)}, false, true, now.Add(29*time.Second + past + time.Second)},
		{"31 s ahead", []string{f(31 * time.Second)}, false, false, time.Time{}},
		{"5 min behind", []string{f(-past)}, false, true, now.Add(time.Second)},
		{"5 min 1 s behind", []string{f(-past - time.Second)}, false, false, time.Time{}},
		{"RFC 850 form", []string{now.Format(time.RFC850)}, false, true, now.Add(past + time.Second)},
		{"not a date", []string{"yesterday"}, false, false, time.Time{}},
		{"two dates", []string{f(0), f(0)}, false, false, time.Time{}},
		{"absent", nil, false, true, now.Add(past + time.Second)},
		{"absent but required", nil, true, false, time.Time{}},
	} {
		exp, err := CheckDate(c.values, now, past, future, c.required)
		if c.ok != (err == nil) || err != nil && !errors.Is(err, ErrDate) {
			t.Errorf("%s: err %v", c.name, err)
		}
		if c.ok && !exp.Equal(c.expiry) {
			t.Errorf("%s: expiry %s, want %s", c.name, exp, c.expiry)
		}
	}
}
