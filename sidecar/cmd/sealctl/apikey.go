package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sealocr/sealocr/sidecar/internal/auth"
)

// apiKeyPrefix starts every key sealctl makes, so that a key found in a
// file or a paste can be told for what it is (and secret scanners can
// match it).
const apiKeyPrefix = "sealocr_"

// apiKeyBytes is the randomness of a key: 256 bits.
const apiKeyBytes = 32

const apikeyUsage = `Usage: sealctl apikey new [--id ID]

Makes a new API key for a sidecar that requires authentication and prints it
once, with the entry to add to the sidecar's API key file (auth.api_keys_file,
SEALOCR_AUTH_API_KEYS_FILE; the chart's auth.apiKeys Secret). The file holds
only the key's SHA-256; the key itself goes to the client (sealctl
--token-file FILE, or SEALOCR_TOKEN) and is never stored by the sidecar.

Flags:
`

// runAPIKey runs "sealctl apikey SUBCOMMAND".
func runAPIKey(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "new" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, strings.TrimSuffix(apikeyUsage, "Flags:\n"))
			return nil
		}
		fmt.Fprint(stderr, apikeyUsage)
		return exitCode(2)
	}
	fs := flag.NewFlagSet("sealctl apikey new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var idb [4]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return err
	}
	id := fs.String("id", "key-"+hex.EncodeToString(idb[:]), "ID of the key: names it in logs (hashed) and rate limits; 1-64 letters, digits, . _ -")
	fs.Usage = func() {
		fmt.Fprint(stderr, apikeyUsage)
		fs.PrintDefaults()
	}
	if done, err := parseNoArgs(fs, args[1:], stderr); done {
		return err
	}
	if !validKeyID(*id) {
		return errors.New("apikey: --id wants 1-64 letters, digits, '.', '_' or '-'")
	}
	var raw [apiKeyBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	key := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	clear(raw[:])
	entry, err := yaml.Marshal(auth.APIKeysFile{Keys: []auth.APIKeyEntry{{ID: *id, SHA256: auth.HashAPIKey(key)}}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API key %s (shown once: give it to the client, e.g. in a file for sealctl --token-file):\n\n  %s\n\n", *id, key)
	fmt.Fprintf(stdout, "Add this entry to the sidecar's API key file (auth.api_keys_file, SEALOCR_AUTH_API_KEYS_FILE),\n"+
		"under its keys: list when the file exists, then set SEALOCR_AUTH=required:\n\n%s", entry)
	return nil
}

// validKeyID reports whether id is 1-64 characters of [A-Za-z0-9._-].
func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
