package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// UsageFile is the name of the file, in the state folder, where a sidecar
// keeps when each key was last used, for `--check-config`.
const UsageFile = "key-usage.json"

// Usage records when each key was last used to open a request: a gauge
// per key (sealocr_sidecar_key_last_used_timestamp_seconds{envelope,
// key_id}) and a file in the state folder, so that an operator rotating keys
// can see when an old one may go. Key IDs are names from the key file (for
// OHTTP, configuration IDs), never key material. It is safe for concurrent
// use; a nil *Usage records nothing.
type Usage struct {
	path  string
	gauge *prometheus.GaugeVec

	mu    sync.Mutex
	last  map[string]time.Time // "envelope key_id"
	dirty bool
	// inForce lists the PSK key IDs in force (see Track); zero holds those
	// of them shown as never used (0), so that one removed from the file
	// loses its series.
	inForce func() []string
	zero    map[string]bool
}

// NewUsage returns a Usage that keeps its file at path ("" for none),
// starting from what the file holds, and registers its gauge on reg (nil
// for none).
func NewUsage(path string, reg prometheus.Registerer) *Usage {
	u := &Usage{path: path, last: map[string]time.Time{},
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sealocr_sidecar_key_last_used_timestamp_seconds",
			Help: "When this replica last opened a request with the key (Unix seconds), by envelope (psk, ohttp) and key ID; a key whose value stops moving can be removed.",
		}, []string{"envelope", "key_id"})}
	if path != "" {
		if old, err := ReadUsage(path); err == nil {
			for k, t := range old {
				u.last[k] = t
				env, id := splitUsageKey(k)
				u.gauge.WithLabelValues(env, id).Set(float64(t.Unix()))
			}
		}
	}
	if reg != nil {
		reg.MustRegister(u)
	}
	return u
}

// Track has the gauge show every pre-shared key that inForce lists (the
// key IDs in force, asked at each scrape), a key never used with 0, so
// that an unused key is seen rather than missing.
func (u *Usage) Track(inForce func() []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.inForce = inForce
}

// Describe implements prometheus.Collector.
func (u *Usage) Describe(ch chan<- *prometheus.Desc) { u.gauge.Describe(ch) }

// Collect implements prometheus.Collector: the keys used, and those in
// force never used (0).
func (u *Usage) Collect(ch chan<- prometheus.Metric) {
	u.mu.Lock()
	if u.inForce != nil {
		now := map[string]bool{}
		for _, id := range u.inForce() {
			if _, used := u.last["psk "+id]; !used {
				now[id] = true
				u.gauge.WithLabelValues("psk", id).Set(0)
			}
		}
		for id := range u.zero {
			if _, used := u.last["psk "+id]; !now[id] && !used {
				u.gauge.DeleteLabelValues("psk", id)
			}
		}
		u.zero = now
	}
	u.mu.Unlock()
	u.gauge.Collect(ch)
}

func splitUsageKey(k string) (string, string) {
	for i := 0; i < len(k); i++ {
		if k[i] == ' ' {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

// Used records that envelope's key keyID opened a request at t.
func (u *Usage) Used(envelope, keyID string, t time.Time) {
	if u == nil {
		return
	}
	k := envelope + " " + keyID
	t = t.Truncate(time.Second)
	u.mu.Lock()
	if u.last[k].Equal(t) {
		u.mu.Unlock()
		return
	}
	u.last[k], u.dirty = t, true
	u.mu.Unlock()
	u.gauge.WithLabelValues(envelope, keyID).Set(float64(t.Unix()))
}

// UsedOHTTP records an OHTTP configuration by its key ID.
func (u *Usage) UsedOHTTP(keyID uint8, t time.Time) { u.Used("ohttp", strconv.Itoa(int(keyID)), t) }

// Flush writes the file when something changed since the last flush.
func (u *Usage) Flush() error {
	if u == nil || u.path == "" {
		return nil
	}
	u.mu.Lock()
	if !u.dirty {
		u.mu.Unlock()
		return nil
	}
	out := make(map[string]string, len(u.last))
	for k, t := range u.last {
		out[k] = t.UTC().Format(time.RFC3339)
	}
	u.dirty = false
	u.mu.Unlock()
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(u.path), ".key-usage-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), u.path)
}

// ReadUsage reads a usage file: "envelope key_id" to the time of last use.
// A missing file is an empty map.
func ReadUsage(path string) (map[string]time.Time, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]time.Time{}, nil
	}
	if err != nil {
		return nil, err
	}
	var raw map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("keys: %s is not a usage file", path)
	}
	out := make(map[string]time.Time, len(raw))
	for k, v := range raw {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			out[k] = t
		}
	}
	return out, nil
}

// UsageReport describes, for --check-config, when each PSK key of s was
// last used by this replica according to the usage file at path, oldest
// first; "never" for a key without a record.
func UsageReport(s *Set, path string) ([]string, error) {
	last, err := ReadUsage(path)
	if err != nil {
		return nil, err
	}
	ids := slices.Clone(s.PSKIDs)
	slices.SortStableFunc(ids, func(a, b string) int {
		return last["psk "+a].Compare(last["psk "+b])
	})
	var out []string
	for _, id := range ids {
		when := "never"
		if t, ok := last["psk "+id]; ok {
			when = t.UTC().Format(time.RFC3339)
		}
		out = append(out, fmt.Sprintf("psk %s: last used %s", id, when))
	}
	for _, k := range slices.Sorted(maps.Keys(last)) {
		if env, id := splitUsageKey(k); env == "ohttp" {
			out = append(out, fmt.Sprintf("ohttp key ID %s: last used %s", id, last[k].UTC().Format(time.RFC3339)))
		}
	}
	return out, nil
}
