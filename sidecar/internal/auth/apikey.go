package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// APIKeysFile is the YAML layout of the API key file. It holds hashes only:
// the SHA-256 of each key, in hex (for example the output of
// `printf %s "$KEY" | sha256sum`). Keys must be random and long (at least
// 128 bits of entropy); they are not passwords, so a fast hash is enough.
type APIKeysFile struct {
	Keys []APIKeyEntry `yaml:"keys"`
}

// APIKeyEntry is one API key.
type APIKeyEntry struct {
	// ID names the key in logs (hashed) and in rate limiting.
	ID string `yaml:"id"`
	// SHA256 is the hex SHA-256 of the key.
	SHA256 string `yaml:"sha256"`
}

type apiKey struct {
	id   string
	hash [sha256.Size]byte
}

type apiKeys struct{ keys []apiKey }

// HashAPIKey returns the hex SHA-256 of key, as stored in the key file.
func HashAPIKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func loadAPIKeys(path string) (*apiKeys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeySource, err)
	}
	var f APIKeysFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: API key file %s: %v", ErrKeySource, path, err)
	}
	out := &apiKeys{}
	seen := map[string]bool{}
	for i, e := range f.Keys {
		h, err := hex.DecodeString(e.SHA256)
		if e.ID == "" || err != nil || len(h) != sha256.Size || seen[e.ID] {
			return nil, fmt.Errorf("%w: API key file %s: entry %d needs a unique id and a 64-digit hex sha256", ErrKeySource, path, i)
		}
		seen[e.ID] = true
		out.keys = append(out.keys, apiKey{id: e.ID, hash: [sha256.Size]byte(h)})
	}
	return out, nil
}

// lookup returns the ID of key. Every entry is compared in constant time.
func (a *apiKeys) lookup(key string) (string, bool) {
	if a == nil || key == "" {
		return "", false
	}
	h := sha256.Sum256([]byte(key))
	id, found := "", false
	for _, k := range a.keys {
		if subtle.ConstantTimeCompare(h[:], k.hash[:]) == 1 && !found {
			id, found = k.id, true
		}
	}
	return id, found
}
