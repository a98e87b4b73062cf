package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sealocr/sealocr/sidecar/client"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// runKeygen writes a new key file, never replacing an existing one.
func runKeygen(args []string, env environment, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sealctl keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", env.statePath("keys.yaml"), "key file to write (must not exist)")
	addTo := fs.String("add", "", "add a new pre-shared key to this existing key file instead, leaving its other keys as they are")
	id := fs.String("id", "key-"+time.Now().UTC().Format("20060102"), "ID of the pre-shared key (1-64 visible ASCII characters)")
	suiteName := fs.String("suite", psk.DefaultSuite.String(), "suite of the pre-shared key: aes-256-gcm (32-byte key), sm4-gcm or sm4-gcm-sm3 (16-byte SM4 key; HKDF-SHA256 or HKDF-SM3)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: sealctl keygen [--out FILE] [--id ID] [--suite SUITE]\n       sealctl keygen --add FILE [--id ID] [--suite SUITE]\n\n"+
			"Writes a new key file (mode 0600) with one pre-shared key and two Oblivious HTTP key configurations;\n"+
			"with --add, appends one new pre-shared key to an existing key file (for a rotation: README, Key rotation).")
		fs.PrintDefaults()
	}
	if done, err := parseNoArgs(fs, args, stderr); done {
		return err
	}
	if *addTo != "" {
		return addPSK(*addTo, *id, *suiteName, stdout)
	}
	if *out == "" {
		return errors.New("keygen: no --out given and no state folder (set HOME or SEALOCR_STATE_DIR)")
	}
	suite, err := psk.ParseSuite(*suiteName)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	data, err := keys.GenerateSuite(*id, suite)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	defer clear(data)
	set, err := keys.Parse(data)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := writeNew(*out, data); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600)\npsk key ID: %s\npsk suite: %s\n", *out, *id, suite)
	for _, c := range set.Public {
		b, err := c.MarshalBinary()
		if err != nil {
			return fmt.Errorf("keygen: %w", err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(stdout, "ohttp key %d %s sha256:%s\n", c.KeyID(), kemName(c.KEM()), hex.EncodeToString(sum[:]))
	}
	return nil
}

// kemName names a KEM as package client does.
func kemName(k ohttp.KEM) string {
	switch k {
	case ohttp.KEMX25519HKDFSHA256:
		return client.KEMX25519
	case ohttp.KEMMLKEM768X25519:
		return client.KEMMLKEM768X25519
	}
	return fmt.Sprintf("0x%04x", uint16(k))
}

// writeNew creates path with mode 0600 and writes data; it fails if path
// exists, and removes a partly written file.
func writeNew(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("refusing to overwrite %s", path)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// runKeys lists the gateway's Oblivious HTTP key configurations.
func runKeys(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sealctl keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", env.server(client.DefaultServer), "sidecar base URL (env SEALOCR_SERVER)")
	ca := fs.String("ca", "", "CA file to trust (default <state_dir>/ca.pem if it exists, else the system roots)")
	timeout := fs.Duration("timeout", 30*time.Second, "time limit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: sealctl keys [--server URL] [--ca FILE]\n\nLists the gateway's Oblivious HTTP key configurations with their SHA-256 fingerprints (for --pin).")
		fs.PrintDefaults()
	}
	if done, err := parseNoArgs(fs, args, stderr); done {
		return err
	}
	c, err := client.New(client.Config{
		Server:  *server,
		CAFile:  caFile(fs, *ca, env),
		Mode:    client.ModeOHTTP,
		Timeout: *timeout,
	})
	if err != nil {
		return err
	}
	infos, err := c.OHTTPKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEM\tSUITES\tSHA256")
	for _, k := range infos {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", k.ID, k.KEM, strings.Join(k.Suites, ","), k.Fingerprint)
	}
	return tw.Flush()
}

// caFile returns the CA file to use: the --ca value if given (empty means
// the system roots), else <state_dir>/ca.pem if it exists.
func caFile(fs *flag.FlagSet, value string, env environment) string {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "ca" })
	if given {
		return value
	}
	def := env.statePath("ca.pem")
	if def == "" {
		return ""
	}
	if _, err := os.Stat(def); err != nil {
		return ""
	}
	return def
}

// addPSK appends a new pre-shared key to the key file at path, replacing
// the file atomically (same folder, mode 0600); the sidecar reloads it by
// itself.
func addPSK(path, id, suiteName string, stdout io.Writer) error {
	suite, err := psk.ParseSuite(suiteName)
	if err != nil {
		return fmt.Errorf("keygen --add: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("keygen --add: %w", err)
	}
	defer clear(data)
	out, err := keys.AddPSK(data, id, suite)
	if err != nil {
		return fmt.Errorf("keygen --add: %s: %w", path, err)
	}
	defer clear(out)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return fmt.Errorf("keygen --add: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keygen --add: %w", err)
	}
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("keygen --add: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keygen --add: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("keygen --add: %w", err)
	}
	fmt.Fprintf(stdout, "added pre-shared key %s (%s) to %s; the other keys are unchanged.\n"+
		"Give clients the file (sealctl --keys FILE --key-id %s), then remove the old key's entry once its\n"+
		"sealocr_sidecar_key_last_used_timestamp_seconds stops moving (README: Key rotation).\n", id, suite, path, id)
	return nil
}
