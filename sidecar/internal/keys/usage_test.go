package keys

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// usageSeries gathers reg's last-used gauge: "envelope key_id" to value.
func usageSeries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "sealocr_sidecar_key_last_used_timestamp_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var env, id string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "envelope":
					env = l.GetValue()
				case "key_id":
					id = l.GetValue()
				}
			}
			out[env+" "+id] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestUsageGauge: a used key shows when it was last used; a key in force
// that was never used shows 0 (not a missing series); a never-used key
// removed from the file loses its series; the usage file carries the last
// use to the next start.
func TestUsageGauge(t *testing.T) {
	path := filepath.Join(t.TempDir(), UsageFile)
	reg := prometheus.NewRegistry()
	u := NewUsage(path, reg)
	inForce := []string{"old", "new"}
	u.Track(func() []string { return inForce })
	at := time.Unix(1_800_000_000, 0)
	u.Used("psk", "old", at)
	u.UsedOHTTP(17, at)
	got := usageSeries(t, reg)
	want := map[string]float64{"psk old": float64(at.Unix()), "psk new": 0, "ohttp 17": float64(at.Unix())}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	inForce = []string{"old"}
	if got := usageSeries(t, reg); len(got) != 2 {
		t.Errorf("after the unused key left the file: series %v, want psk old and ohttp 17", got)
	} else if _, ok := got["psk new"]; ok {
		t.Error("a removed, never-used key keeps its series")
	}
	if err := u.Flush(); err != nil {
		t.Fatal(err)
	}
	reg2 := prometheus.NewRegistry()
	u2 := NewUsage(path, reg2)
	u2.Track(func() []string { return []string{"old", "newer"} })
	got = usageSeries(t, reg2)
	if got["psk old"] != float64(at.Unix()) || got["psk newer"] != 0 || len(got) != 3 {
		t.Errorf("after a restart: series %v", got)
	}
}
