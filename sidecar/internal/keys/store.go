package keys

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// Store holds the current key set and swaps it atomically on reload. A
// reload that fails keeps the previous set, so a bad edit never takes the
// service down; keys stay valid until a good file without them is loaded.
type Store struct {
	path      string
	legacyEnv string
	legacyMAC bool
	log       *zap.Logger
	cur       atomic.Pointer[Set]
	mu        sync.Mutex // serialises reloads

	// rotation, when not zero, rotates the seed's OHTTP configurations
	// (Set.At); rotated caches the set of the current period.
	rotation time.Duration
	now      func() time.Time
	rotated  atomic.Pointer[rotatedSet]
}

// rotatedSet is the key set of one rotation period (and offer state) of
// one loaded file.
type rotatedSet struct {
	base      *Set
	period    int64
	offerNext bool
	set       *Set
}

// NewStore loads path once; legacyEnv is the AES_SECRET_KEY value to add as
// a legacy key ("" for none).
func NewStore(path, legacyEnv string, log *zap.Logger) (*Store, error) {
	return NewStoreLegacyMAC(path, legacyEnv, false, log)
}

// NewStoreLegacyMAC is NewStore with the MAC policy of the AES_SECRET_KEY
// key: requireMAC accepts only legacy requests with a valid "mac" member.
func NewStoreLegacyMAC(path, legacyEnv string, requireMAC bool, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Store{path: path, legacyEnv: legacyEnv, legacyMAC: requireMAC, log: log}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the key set in force: with rotation, the loaded file's
// set with the OHTTP configurations of the period now (derived once per
// period and cached).
func (s *Store) Current() *Set {
	base := s.cur.Load()
	if s.rotation == 0 || base == nil || base.CheckRotation() != nil {
		return base
	}
	now := s.now()
	p := Period(now, s.rotation)
	offerNext := time.Unix(0, (p+1)*int64(s.rotation)).Sub(now) <= s.rotation/4
	if r := s.rotated.Load(); r != nil && r.base == base && r.period == p && r.offerNext == offerNext {
		return r.set
	}
	set, err := base.At(now, s.rotation)
	if err != nil {
		s.log.Error("OHTTP key rotation failed; serving the key file's configurations", zap.Error(err))
		return base
	}
	s.rotated.Store(&rotatedSet{base: base, period: p, offerNext: offerNext, set: set})
	return set
}

// SetRotation turns on the rotation of the seed's OHTTP configurations
// with period d (at least MinRotation), on the clock now (nil: time.Now).
// The key file in force must have a seed (Set.CheckRotation); a reload of a
// file that has none serves that file's configurations without rotating,
// with an error in the log.
func (s *Store) SetRotation(d time.Duration, now func() time.Time) error {
	if d < MinRotation {
		return fmt.Errorf("%w: period %s is under %s", ErrRotation, d, MinRotation)
	}
	if err := s.cur.Load().CheckRotation(); err != nil {
		return err
	}
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	s.rotation, s.now = d, now
	s.mu.Unlock()
	return nil
}

// Reload reads the file again; on failure the previous set stays.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := LoadFile(s.path)
	if err == nil {
		err = set.WithLegacyEnvMAC(s.legacyEnv, s.legacyMAC)
	}
	if err != nil {
		if s.cur.Load() != nil {
			s.log.Error("key file reload failed; keeping the previous keys", zap.Error(err))
		}
		return err
	}
	if s.rotation > 0 {
		if err := set.CheckRotation(); err != nil {
			s.log.Error("the reloaded key file cannot rotate; serving its OHTTP configurations as they are", zap.Error(err))
		}
	}
	prev := s.cur.Swap(set)
	if prev != nil {
		s.log.Info("key file reloaded", zap.Int("psk_keys", len(set.PSKIDs)), zap.Int("ohttp_configs", len(set.Public)),
			zap.Int("legacy_keys", len(set.Legacy)))
	}
	return nil
}

// Watch reloads when the key file or its folder changes (covering editors
// that replace the file and Kubernetes' symlink swap) until ctx ends. Events
// are debounced.
func (s *Store) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(s.path)); err != nil {
		return err
	}
	var timer *time.Timer
	fire := make(chan struct{}, 1)
	last := s.fingerprint()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			_ = ev
			if timer != nil {
				timer.Stop()
			}
			timer = time.AfterFunc(100*time.Millisecond, func() {
				select {
				case fire <- struct{}{}:
				default:
				}
			})
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			s.log.Warn("key file watch error", zap.Error(err))
		case <-fire:
			if fp := s.fingerprint(); fp != last {
				last = fp
				_ = s.Reload()
			}
		}
	}
}

// fingerprint hashes the file behind the path (following symlinks), so a
// swap that keeps size and time is still seen.
func (s *Store) fingerprint() [32]byte {
	data, err := os.ReadFile(s.path)
	if err != nil {
		return [32]byte{}
	}
	defer clear(data)
	return sha256.Sum256(data)
}
