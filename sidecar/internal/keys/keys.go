// Package keys loads the sidecar's key file — pre-shared keys with their IDs
// and Oblivious HTTP private key configurations — generates development key
// files, and keeps the current key set, reloading it when the file changes
// (a mounted Kubernetes Secret is swapped by symlink) or on demand (SIGHUP).
//
// Key material never leaves this package in printable form: the types it
// hands out come from the envelope packages, which redact themselves.
package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sealocr/sealocr/configs"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// LegacyEnvVar is the environment variable existing deployments use for the
// legacy AES-256-CBC key: its value's UTF-8 bytes are the key, exactly 32.
const LegacyEnvVar = "AES_SECRET_KEY"

// ErrInvalid reports a key file that cannot be used. Its message never
// contains key material.
var ErrInvalid = errors.New("keys: invalid key file")

// File is the YAML layout of a key file.
type File struct {
	// PSK lists pre-shared keys.
	PSK []PSKEntry `yaml:"psk"`
	// Legacy lists the keys of the legacy CBC mode (in addition to the
	// AES_SECRET_KEY variable). A legacy key is never also a PSK secret.
	Legacy []LegacyEntry `yaml:"legacy,omitempty"`
	// OHTTP holds PEM blocks of type "OHTTP PRIVATE KEY CONFIG".
	OHTTP string `yaml:"ohttp"`
	// Seed, base64 (standard) of at least 32 random bytes, derives keys
	// deterministically (see DeriveSeed): one AES-256-GCM pre-shared key,
	// in addition to the keys listed, and, when the file lists no OHTTP
	// configuration itself, two OHTTP key configurations (X25519 as key ID
	// 1, ML-KEM-768+X25519 as key ID 2); under ohttp_rotation, those of
	// each period (see At). Every replica given the same seed has the same
	// keys: the Helm chart generates one seed per release.
	Seed string `yaml:"seed,omitempty"`
}

// MinSeedSize is the least number of bytes a key file's seed holds.
const MinSeedSize = 32

// SeedPSKIDPrefix starts the ID of the pre-shared key derived from a seed;
// eight hex digits that depend on the seed follow.
const SeedPSKIDPrefix = "seed-"

// DeriveSeed returns the keys a seed derives, as key file entries: one
// AES-256-GCM pre-shared key (ID SeedPSKIDPrefix + 8 hex digits) and the PEM
// of two OHTTP key configurations (IDs 1 and 2). Each key is HKDF-SHA-256
// of the seed with its own label, so no derived key reveals another or the
// seed.
func DeriveSeed(seed []byte) (PSKEntry, string, error) {
	if len(seed) < MinSeedSize {
		return PSKEntry{}, "", fmt.Errorf("%w: seed: want at least %d bytes", ErrInvalid, MinSeedSize)
	}
	derive := func(label string, n int) ([]byte, error) {
		return hkdf.Key(sha256.New, seed, nil, "sealocr key file seed v1 "+label, n)
	}
	id, err := derive("psk id", 4)
	if err != nil {
		return PSKEntry{}, "", err
	}
	secret, err := derive("psk aes-256-gcm", 32)
	if err != nil {
		return PSKEntry{}, "", err
	}
	e := PSKEntry{ID: SeedPSKIDPrefix + hex.EncodeToString(id), Secret: base64.StdEncoding.EncodeToString(secret)}
	clear(secret)
	var pems []byte
	for _, kc := range []struct {
		id    uint8
		kem   ohttp.KEM
		label string
	}{{1, ohttp.KEMX25519HKDFSHA256, "ohttp x25519"}, {2, ohttp.KEMMLKEM768X25519, "ohttp mlkem768x25519"}} {
		priv, err := derive(kc.label, 32) // an X25519 private key; the X-Wing seed
		if err != nil {
			return PSKEntry{}, "", err
		}
		c, err := ohttp.NewKeyConfig(kc.id, kc.kem, priv, ohttp.DefaultSuites()...)
		clear(priv)
		if err != nil {
			return PSKEntry{}, "", fmt.Errorf("%w: seed: %v", ErrInvalid, err)
		}
		p, err := c.MarshalPEM()
		if err != nil {
			return PSKEntry{}, "", err
		}
		pems = append(pems, p...)
	}
	return e, string(pems), nil
}

// PSKEntry is one pre-shared key.
type PSKEntry struct {
	ID string `yaml:"id"`
	// Suite is the key's envelope suite: "aes-256-gcm" (the default when
	// empty), "sm4-gcm" or "sm4-gcm-sm3" (see psk.Suite).
	Suite  string `yaml:"suite,omitempty"`
	Secret string `yaml:"secret"` // base64 (standard) of exactly the suite's key size: 32 bytes for AES, 16 for SM4
	// LegacyCBC is refused: it used to accept this key in the legacy CBC
	// mode too, which made a legacy key also a PSK secret. Give the legacy
	// client its own key in the legacy section instead.
	LegacyCBC bool `yaml:"legacy_cbc,omitempty"`
}

// LegacyEntry is one key of the legacy CBC mode.
type LegacyEntry struct {
	// ID names the key in logs; it is not sent by clients.
	ID string `yaml:"id"`
	// Algorithm is "AES-256-CBC" (the default when empty) or "SM4-CBC".
	Algorithm string `yaml:"algorithm,omitempty"`
	// Secret is base64 (standard) of 32 bytes (AES-256-CBC) or 16 (SM4-CBC).
	Secret string `yaml:"secret"`
	// LegacyMAC is "optional" (the default when empty: requests may carry
	// a "mac" member, checked when present) or "required" (requests
	// without a valid "mac" are refused).
	LegacyMAC string `yaml:"legacy_mac,omitempty"`
}

// Legacy MAC policies of LegacyEntry.LegacyMAC and the legacy_mac option.
const (
	LegacyMACOptional = "optional"
	LegacyMACRequired = "required"
)

// ParseLegacyMAC parses a legacy MAC policy: true means required.
func ParseLegacyMAC(v string) (bool, error) {
	switch v {
	case "", LegacyMACOptional:
		return false, nil
	case LegacyMACRequired:
		return true, nil
	}
	return false, fmt.Errorf("legacy_mac: want %s or %s", LegacyMACOptional, LegacyMACRequired)
}

// Set is one loaded generation of keys.
type Set struct {
	PSK     *psk.KeySet
	PSKIDs  []string
	PSKKeys []psk.Key
	Legacy  []legacycbc.Key
	// pskDigests are SHA-256 digests of the PSK secrets, kept only to
	// refuse a legacy key that is also a PSK secret.
	pskDigests [][sha256.Size]byte
	OHTTP      *ohttp.Gateway // nil when the file has no OHTTP configs
	Public     []ohttp.PublicKeyConfig
	LoadedAt   time.Time
	// material is a digest of what the file means, not of how it is
	// written: of the seed when there is one, else of every key's parsed
	// bytes in a canonical order. See DeriveKey.
	material [sha256.Size]byte
	// seed is the file's seed (nil without one), kept to derive the OHTTP
	// configurations of each rotation period (see At).
	seed []byte
	// fileOHTTP are the OHTTP configurations the file lists itself, beside
	// those its seed derives.
	fileOHTTP []*ohttp.KeyConfig
	// KeyListMaxAge is how long a client may cache the key list (the
	// Cache-Control max-age of GET /.well-known/ohttp-gateway): until the
	// list changes under rotation, else DefaultKeyListMaxAge.
	KeyListMaxAge time.Duration
}

// DefaultKeyListMaxAge is how long clients may cache a key list that does
// not rotate.
const DefaultKeyListMaxAge = 5 * time.Minute

// DeriveKey returns n bytes derived (HKDF-SHA-256, label as the info) from
// the key material the file holds: from the seed when the file has one,
// else from the parsed keys themselves (each PSK's ID, suite and secret,
// each legacy key, each OHTTP private key configuration), sorted. Two files
// that hold the same keys derive the same bytes whatever their comments,
// layout or order, so replicas given equivalent files agree (the hash key
// of rate-limit buckets in Redis); with a seed, replicas agree as long as
// they share it, even while a rotation adds keys to one file first.
func (s *Set) DeriveKey(label string, n int) ([]byte, error) {
	return hkdf.Key(sha256.New, s.material[:], nil, label, n)
}

// materialDigest hashes the length-prefixed parts of each key, the keys
// sorted so that their order in the file does not count.
func materialDigest(keys [][][]byte) [sha256.Size]byte {
	enc := make([][]byte, len(keys))
	for i, parts := range keys {
		for _, p := range parts {
			enc[i] = binary.BigEndian.AppendUint64(enc[i], uint64(len(p)))
			enc[i] = append(enc[i], p...)
		}
	}
	slices.SortFunc(enc, bytes.Compare)
	h := sha256.New()
	h.Write([]byte("sealocr key material v1"))
	for _, e := range enc {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(e)))
		h.Write(n[:])
		h.Write(e)
		clear(e)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// Parse reads a key file's bytes.
func Parse(data []byte) (*Set, error) {
	var f File
	if err := decodeFile(data, &f); err != nil {
		return nil, err
	}
	s := &Set{KeyListMaxAge: DefaultKeyListMaxAge}
	var errs []error
	// material collects the parsed key bytes for the digest behind
	// DeriveKey; with a seed, the seed alone.
	var material [][][]byte
	defer func() {
		for _, parts := range material {
			for _, p := range parts {
				clear(p)
			}
		}
	}()
	if f.Seed != "" {
		seed, err := base64.StdEncoding.DecodeString(f.Seed)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: seed is not base64", ErrInvalid))
		} else if e, pems, err := DeriveSeed(seed); err != nil {
			errs = append(errs, err)
		} else {
			if f.OHTTP != "" {
				if cfgs, err := ohttp.ParseKeyConfigsPEM([]byte(f.OHTTP)); err == nil {
					s.fileOHTTP = cfgs
				}
			}
			f.PSK = append([]PSKEntry{e}, f.PSK...)
			// The seed's own pair stands in only for a file that lists
			// none: a sealctl keygen file given a seed to rotate from
			// keeps its configurations (key IDs 1 and 2, like the seed's).
			if strings.TrimSpace(f.OHTTP) == "" {
				f.OHTTP = pems
			}
			s.material = materialDigest([][][]byte{{[]byte("seed"), seed}})
			s.seed = bytes.Clone(seed)
		}
		clear(seed)
	}
	keep := func(parts ...[]byte) {
		if f.Seed == "" {
			material = append(material, parts)
		}
	}
	for i, e := range f.PSK {
		suite, err := psk.ParseSuite(e.Suite)
		if err != nil {
			// The value is not quoted: a secret pasted into the wrong field
			// must not reach a log.
			errs = append(errs, fmt.Errorf("%w: psk[%d]: unknown suite (want aes-256-gcm, sm4-gcm or sm4-gcm-sm3)", ErrInvalid, i))
			continue
		}
		if e.LegacyCBC {
			errs = append(errs, fmt.Errorf("%w: psk[%d]: legacy_cbc is refused: a legacy key must never also be a PSK secret "+
				"(the legacy mode has no integrity protection); give the legacy client its own key in the legacy section", ErrInvalid, i))
			continue
		}
		secret, err := base64.StdEncoding.DecodeString(e.Secret)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: psk[%d]: secret is not base64", ErrInvalid, i))
			continue
		}
		k, err := psk.NewSuiteKey(e.ID, suite, secret)
		if err != nil {
			clear(secret)
			errs = append(errs, fmt.Errorf("%w: psk[%d]: %v", ErrInvalid, i, err))
			continue
		}
		s.PSKKeys = append(s.PSKKeys, k)
		s.PSKIDs = append(s.PSKIDs, e.ID)
		s.pskDigests = append(s.pskDigests, sha256.Sum256(secret))
		keep([]byte("psk"), []byte(e.ID), []byte(suite.String()), bytes.Clone(secret))
		clear(secret)
	}
	for i, e := range f.Legacy {
		alg := e.Algorithm
		if alg == "" {
			alg = legacycbc.Algorithm
		}
		required, err := ParseLegacyMAC(e.LegacyMAC)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: legacy[%d]: %v", ErrInvalid, i, err))
			continue
		}
		secret, err := base64.StdEncoding.DecodeString(e.Secret)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: legacy[%d]: secret is not base64", ErrInvalid, i))
			continue
		}
		if err := s.addLegacy(alg, secret, required); err != nil {
			errs = append(errs, fmt.Errorf("%w: legacy[%d]: %v", ErrInvalid, i, err))
		}
		keep([]byte("legacy"), []byte(alg), bytes.Clone(secret))
		clear(secret)
	}
	ks, err := psk.NewKeySet(s.PSKKeys...)
	if err != nil {
		errs = append(errs, fmt.Errorf("%w: %v", ErrInvalid, err))
	}
	s.PSK = ks
	if f.OHTTP != "" {
		cfgs, err := ohttp.ParseKeyConfigsPEM([]byte(f.OHTTP))
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: ohttp: %v", ErrInvalid, err))
		} else if g, err := ohttp.NewGateway(cfgs...); err != nil {
			errs = append(errs, fmt.Errorf("%w: ohttp: %v", ErrInvalid, err))
		} else {
			s.OHTTP = g
			for _, c := range cfgs {
				s.Public = append(s.Public, c.PublicConfig())
			}
			for rest := []byte(f.OHTTP); ; {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				keep([]byte("ohttp"), b.Bytes)
			}
		}
	}
	if f.Seed == "" {
		s.material = materialDigest(material)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(s.PSKKeys) == 0 && s.OHTTP == nil {
		return nil, fmt.Errorf("%w: no keys", ErrInvalid)
	}
	return s, nil
}

// decodeFile decodes a key file strictly (unknown keys refused). Its errors
// give positions only: yaml.v3 quotes the offending value in its messages
// ("cannot unmarshal !!str `c2VjcmV0...`"), and a secret pasted into a field
// of another type would reach the start-up error and the reload log line.
func decodeFile(data []byte, f *File) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%w: not valid YAML%s", ErrInvalid, yamlLines(err.Error(), nil, false))
	}
	if root.Kind == 0 {
		return nil // empty file: "no keys" below
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(f)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%w: not valid YAML%s", ErrInvalid, yamlLines(err.Error(), nil, false))
	}
	var errs []error
	for _, m := range te.Errors {
		what := "a value of the wrong type (psk and legacy are lists of id/secret entries; ohttp and seed are strings)"
		key := strings.Contains(m, " not found in type ")
		if key {
			what = "an unknown key (known: psk, legacy, ohttp, seed; in entries: id, suite, secret, algorithm, legacy_mac)"
		}
		errs = append(errs, fmt.Errorf("%w: %s%s", ErrInvalid, what, yamlLines(m, &root, key)))
	}
	return errors.Join(errs...)
}

// yamlLines returns " at line L, column C" for the line number a yaml.v3
// message names, or "" when it names none. The column, looked up in root
// when given, is the first node's on that line for a key (first) and the
// last one's for a value. Nothing else of the message is kept.
func yamlLines(msg string, root *yaml.Node, first bool) string {
	n := configs.YAMLErrorLine(msg)
	if n == 0 {
		return ""
	}
	if col := columnOn(root, n, first); col > 0 {
		return fmt.Sprintf(" at line %d, column %d", n, col)
	}
	return fmt.Sprintf(" at line %d", n)
}

// columnOn is the smallest (first) or largest column of a node on line in
// the tree, or 0.
func columnOn(n *yaml.Node, line int, first bool) int {
	if n == nil {
		return 0
	}
	best := 0
	if n.Line == line && n.Column > 0 {
		best = n.Column
	}
	for _, c := range n.Content {
		if col := columnOn(c, line, first); col > 0 && (best == 0 || (first && col < best) || (!first && col > best)) {
			best = col
		}
	}
	return best
}

// addLegacy adds a legacy key unless its bytes are a PSK secret.
func (s *Set) addLegacy(alg string, secret []byte, requireMAC bool) error {
	d := sha256.Sum256(secret)
	for _, p := range s.pskDigests {
		if subtle.ConstantTimeCompare(d[:], p[:]) == 1 {
			return errors.New("the legacy key is also a PSK secret; a legacy key must never be a PSK secret " +
				"(the legacy mode has no integrity protection): give the legacy client its own key")
		}
	}
	k, err := legacycbc.NewAlgorithmKey(alg, secret)
	if err != nil {
		return err
	}
	if requireMAC {
		k = k.WithMACRequired()
	}
	s.Legacy = append(s.Legacy, k)
	return nil
}

// WithLegacyEnv adds the legacy AES-256-CBC key from the AES_SECRET_KEY
// value (its UTF-8 bytes, exactly 32); requests may carry a MAC.
func (s *Set) WithLegacyEnv(value string) error { return s.WithLegacyEnvMAC(value, false) }

// WithLegacyEnvMAC is WithLegacyEnv with the key's MAC policy: requireMAC
// accepts only requests with a valid "mac" member. A value that is also a
// PSK secret is refused.
func (s *Set) WithLegacyEnvMAC(value string, requireMAC bool) error {
	if value == "" {
		return nil
	}
	if len(value) != legacycbc.KeySize {
		return fmt.Errorf("%w: %s must be exactly %d bytes", ErrInvalid, LegacyEnvVar, legacycbc.KeySize)
	}
	if err := s.addLegacy(legacycbc.Algorithm, []byte(value), requireMAC); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, LegacyEnvVar, err)
	}
	return nil
}

// Generate returns a new key file with one AES-256-GCM pre-shared key and
// two OHTTP key configurations (X25519 as key ID 1, ML-KEM-768+X25519 as key
// ID 2).
func Generate(pskID string) ([]byte, error) {
	return GenerateSuite(pskID, psk.DefaultSuite)
}

// GenerateSuite is [Generate] with a pre-shared key of the given suite. The
// suite is written into the file only when it is not the default, so that
// an AES-256-GCM key file stays readable by sidecars that predate suites.
func GenerateSuite(pskID string, suite psk.Suite) ([]byte, error) {
	if !suite.Valid() {
		return nil, fmt.Errorf("%w: unknown suite %s", ErrInvalid, suite)
	}
	secret := make([]byte, suite.KeySize())
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	e := PSKEntry{ID: pskID, Secret: base64.StdEncoding.EncodeToString(secret)}
	if suite != psk.DefaultSuite {
		e.Suite = suite.String()
	}
	f := File{PSK: []PSKEntry{e}}
	clear(secret)
	var pems []byte
	for _, kc := range []struct {
		id  uint8
		kem ohttp.KEM
	}{{1, ohttp.KEMX25519HKDFSHA256}, {2, ohttp.KEMMLKEM768X25519}} {
		c, err := ohttp.GenerateKeyConfig(kc.id, kc.kem, ohttp.DefaultSuites()...)
		if err != nil {
			return nil, err
		}
		p, err := c.MarshalPEM()
		if err != nil {
			return nil, err
		}
		pems = append(pems, p...)
	}
	f.OHTTP = string(pems)
	body, err := yaml.Marshal(&f)
	if err != nil {
		return nil, err
	}
	head := "# sealocr key file: pre-shared keys (psk) and Oblivious HTTP private key configs (ohttp).\n" +
		"# Secret: keep it mode 0600 and out of version control. Generated " + time.Now().UTC().Format(time.RFC3339) + ".\n"
	return append([]byte(head), body...), nil
}

// EnsureDevFile writes a generated key file at path unless one exists. It
// reports whether it created one.
func EnsureDevFile(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	data, err := Generate("dev-" + time.Now().UTC().Format("20060102"))
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return false, err
	}
	// Link, not rename: never replace a file another process created meanwhile.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// LoadFile reads and parses a key file. A file that group or others may
// write is refused, as a TLS private key readable by them is: whoever can
// write it can add a key of their own (or swap the OHTTP configuration
// clients are offered). Read bits are left to the operator (a Kubernetes
// Secret is mounted 0644 by default).
func LoadFile(path string) (*Set, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o: group or others may write it; chmod 600 it", ErrInvalid, path, m)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	s, err := Parse(data)
	clear(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.LoadedAt = time.Now()
	return s, nil
}

// AddPSK returns the key file data with one more pre-shared key, a new
// random secret of suite under id, appended to its psk list; the other
// keys, the seed, the OHTTP configurations and comments stay, and so does
// every line of a file sealctl keygen wrote (a file written by hand is
// re-indented as keygen writes: 4 spaces).
// It refuses an ID the file already holds and a result that does not
// parse.
func AddPSK(data []byte, id string, suite psk.Suite) ([]byte, error) {
	if !suite.Valid() {
		return nil, fmt.Errorf("%w: unknown suite %s", ErrInvalid, suite)
	}
	set, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if slices.Contains(set.PSKIDs, id) {
		return nil, fmt.Errorf("%w: the file already holds a pre-shared key with ID %q", ErrInvalid, id)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: not a mapping of keys", ErrInvalid)
	}
	root := doc.Content[0]
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "psk" {
			list = root.Content[i+1]
		}
	}
	if list == nil || (list.Kind == yaml.ScalarNode && list.Tag == "!!null") {
		if list == nil {
			list = &yaml.Node{}
			root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "psk"}, list)
		}
		*list = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%w: psk is not a list", ErrInvalid)
	}
	secret := make([]byte, suite.KeySize())
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	entry := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k, v string) {
		entry.Content = append(entry.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: v})
	}
	add("id", id)
	if suite != psk.DefaultSuite {
		add("suite", suite.String())
	}
	add("secret", base64.StdEncoding.EncodeToString(secret))
	clear(secret)
	entry.HeadComment = "added " + time.Now().UTC().Format(time.RFC3339)
	list.Content = append(list.Content, entry)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf) // indent 4, as yaml.Marshal wrote the file in GenerateSuite
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	check, err := Parse(out)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(check.PSKIDs, id) || len(check.PSKIDs) != len(set.PSKIDs)+1 {
		return nil, fmt.Errorf("%w: the new key did not land in the file", ErrInvalid)
	}
	return out, nil
}
