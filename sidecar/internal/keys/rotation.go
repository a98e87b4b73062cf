package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
)

// Rotation of the OHTTP key configurations a seed derives (ohttp_rotation).
//
// Time is cut into periods of the rotation length d, starting at whole
// multiples of d since the Unix epoch, so that every replica holding the
// seed knows the period from its clock alone. Period p has its own two
// configurations, derived from the seed (HKDF-SHA-256, a label naming p),
// with key IDs that differ from those of the periods next to it:
// RotationKeyIDBase + 2·(p mod RotationSlots) for X25519 and one more for
// ML-KEM-768+X25519. The key list offers period p's (and, in the last
// quarter of the period, period p+1's after them, so that clients can
// switch before it takes over); requests are accepted under periods p-1, p
// and p+1 (one period of overlap after a change, and a little clock skew
// between replicas before it). Older ones get the OHTTP key-unknown answer,
// after which clients refetch the list.
const (
	// RotationKeyIDBase is the first key ID of rotating configurations.
	// Configurations a key file lists itself must use IDs below it.
	RotationKeyIDBase = 16
	// RotationSlots is how many periods pass before a key ID comes back.
	RotationSlots = 120
	// MinRotation is the shortest rotation period.
	MinRotation = 10 * time.Second
)

// ErrRotation reports a rotation that cannot be used with a key file.
var ErrRotation = errors.New("keys: OHTTP key rotation")

// Period returns the rotation period of t under rotation length d.
func Period(t time.Time, d time.Duration) int64 {
	n := t.UnixNano() / int64(d)
	if t.UnixNano() < 0 && t.UnixNano()%int64(d) != 0 {
		n--
	}
	return n
}

// RotationKeyID returns the key ID of period p's X25519 configuration
// (the ML-KEM-768+X25519 one has the next ID).
func RotationKeyID(p int64) uint8 {
	m := p % RotationSlots
	if m < 0 {
		m += RotationSlots
	}
	return uint8(RotationKeyIDBase + 2*m)
}

// derivePeriod returns period p's two configurations from seed.
func derivePeriod(seed []byte, p int64) ([]*ohttp.KeyConfig, error) {
	id := RotationKeyID(p)
	var out []*ohttp.KeyConfig
	for i, kc := range []struct {
		kem   ohttp.KEM
		label string
	}{{ohttp.KEMX25519HKDFSHA256, "ohttp x25519"}, {ohttp.KEMMLKEM768X25519, "ohttp mlkem768x25519"}} {
		priv, err := hkdf.Key(sha256.New, seed, nil, fmt.Sprintf("sealocr key file seed v1 %s period %d", kc.label, p), 32)
		if err != nil {
			return nil, err
		}
		c, err := ohttp.NewKeyConfig(id+uint8(i), kc.kem, priv, ohttp.DefaultSuites()...)
		clear(priv)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CheckRotation reports whether s can rotate: it needs a seed, and the
// configurations its file lists must use key IDs below RotationKeyIDBase.
func (s *Set) CheckRotation() error {
	if len(s.seed) == 0 {
		return fmt.Errorf("%w: the key file has no seed to derive rotating configurations from (add one: see README, Key rotation)", ErrRotation)
	}
	for _, c := range s.fileOHTTP {
		if id := c.PublicConfig().KeyID(); id >= RotationKeyIDBase {
			return fmt.Errorf("%w: the key file's own OHTTP configuration has key ID %d, which rotating configurations use (give it an ID below %d)",
				ErrRotation, id, RotationKeyIDBase)
		}
	}
	return nil
}

// At returns the key set in force at now under rotation length d: s with
// its seed's OHTTP configurations replaced by those of the periods around
// now (see the package's rotation comment), beside the file's own. s must
// pass CheckRotation.
func (s *Set) At(now time.Time, d time.Duration) (*Set, error) {
	if err := s.CheckRotation(); err != nil {
		return nil, err
	}
	p := Period(now, d)
	var accept []*ohttp.KeyConfig
	var offer []ohttp.PublicKeyConfig
	next := time.Unix(0, (p+1)*int64(d))
	left := next.Sub(now)
	for q := p - 1; q <= p+1; q++ {
		cfgs, err := derivePeriod(s.seed, q)
		if err != nil {
			return nil, err
		}
		accept = append(accept, cfgs...)
		if q == p || (q == p+1 && left <= d/4) {
			for _, c := range cfgs {
				offer = append(offer, c.PublicConfig())
			}
		}
	}
	accept = append(accept, s.fileOHTTP...)
	for _, c := range s.fileOHTTP {
		offer = append(offer, c.PublicConfig())
	}
	g, err := ohttp.NewGateway(accept...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRotation, err)
	}
	out := *s
	out.OHTTP, out.Public = g, offer
	// Cached lists must not outlive the next change: the offer of the next
	// period in the last quarter, or the period's end.
	change := left
	if left > d/4 {
		change = left - d/4
	}
	out.KeyListMaxAge = min(DefaultKeyListMaxAge, change.Truncate(time.Second))
	return &out, nil
}
