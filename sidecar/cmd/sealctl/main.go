// Command sealctl is the command-line client of a sealocr sidecar: it sends
// images for OCR sealed with a pre-shared key or Oblivious HTTP, generates
// key files, and lists the gateway's Oblivious HTTP keys.
//
// Usage:
//
//	sealctl ocr [flags] IMAGE|DIR|-... recognise text
//	sealctl keygen [--out FILE] [--id ID] [--suite SUITE]
//	sealctl keys [--server URL] [--ca FILE]
//	sealctl apikey new [--id ID]
//	sealctl version
//
// Run "sealctl COMMAND -h" for the flags of a command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/sealocr/sealocr/configs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	var code exitCode
	switch {
	case err == nil:
	case errors.As(err, &code):
		os.Exit(int(code))
	default:
		fmt.Fprintln(os.Stderr, "sealctl:", err)
		os.Exit(1)
	}
}

// exitCode is an error that ends the program with the code and no further
// message, because the message was already written (usage errors: 2).
type exitCode int

// Error implements error.
func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

const usage = `sealctl is the command-line client of a sealocr sidecar.

Usage:
  sealctl ocr [flags] IMAGE|DIR|-... recognise the text of images (sealed requests)
  sealctl keygen [--out FILE] [--id ID] [--suite SUITE]  write a new key file (mode 0600)
  sealctl keys [--server URL] [--ca FILE]  list the gateway's Oblivious HTTP keys
  sealctl apikey new [--id ID]       make an API key; print it once with its key-file entry
  sealctl version                    print the version

Run "sealctl COMMAND -h" for the flags of a command.
Environment: SEALOCR_SERVER (default server), SEALOCR_STATE_DIR (default
$XDG_STATE_HOME/sealocr or ~/.local/state/sealocr; holds ca.pem and keys.yaml).
`

// run is the whole program; main only adds the process around it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	env := environment{getenv: getenv, stdin: stdin}
	switch args[0] {
	case "ocr":
		return runOCR(ctx, args[1:], env, stdout, stderr)
	case "keygen":
		return runKeygen(args[1:], env, stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], env, stdout, stderr)
	case "apikey":
		return runAPIKey(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "sealctl", buildVersion())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "sealctl: unknown command %q\n\n%s", args[0], usage)
	return exitCode(2)
}

// buildVersion is the binary's version (configs.BuildVersion).
func buildVersion() string { return configs.BuildVersion(version) }

// environment resolves defaults from environment variables, and holds
// standard input (the input "-").
type environment struct {
	getenv func(string) string
	stdin  io.Reader
}

// stateDir is SEALOCR_STATE_DIR, $XDG_STATE_HOME/sealocr or
// ~/.local/state/sealocr ("" if none can be found).
func (e environment) stateDir() string {
	if d := e.getenv("SEALOCR_STATE_DIR"); d != "" {
		return d
	}
	if d := e.getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "sealocr")
	}
	if h := e.getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "sealocr")
	}
	return ""
}

// statePath is name inside the state folder, or "".
func (e environment) statePath(name string) string {
	d := e.stateDir()
	if d == "" {
		return ""
	}
	return filepath.Join(d, name)
}

// server is SEALOCR_SERVER or the client's default.
func (e environment) server(def string) string {
	if s := e.getenv("SEALOCR_SERVER"); s != "" {
		return s
	}
	return def
}

// parseFlags parses flags that may come before, between or after the
// positional arguments; "--" ends the flags. Usage errors are reported on
// the flag set's output and returned as exitCode(2); -h returns
// flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, exitCode(2)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseNoArgs parses a command that takes flags only. done reports that
// nothing more is to be done (help was printed); err is a usage error.
func parseNoArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (done bool, err error) {
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	if err != nil {
		return true, err
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments\n", fs.Name())
		fs.Usage()
		return true, exitCode(2)
	}
	return false, nil
}
