package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/client"
)

// hints is what a failure message may say about the run, so that it can
// name the next step: the server, the envelope, the key file and key ID
// used, and whether a credential was given.
type hints struct {
	server     string
	mode       client.Mode
	keysFile   string
	keyID      string
	credential bool
}

// explain returns err's message with, for the failures a user can fix,
// what to check. It never quotes a credential or file content: the
// messages it adds to are the client's fixed texts.
func (h hints) explain(err error) string {
	msg := err.Error()
	if client.IsUnreachable(err) {
		cause := err
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			cause = op.Err
		}
		return fmt.Sprintf("cannot connect to %s: %v (is the sidecar running? start it with `make run`, or point --server or SEALOCR_SERVER at it)",
			h.server, cause)
	}
	if errors.Is(err, client.ErrOpenResponse) {
		return msg + " (wrong key, or the response was altered on the way)"
	}
	var se *client.ServerError
	if !errors.As(err, &se) {
		return msg
	}
	switch {
	case se.Code == api.CodeCannotOpen && h.mode == client.ModePSK:
		return fmt.Sprintf("%s (the sidecar does not hold the key used: key ID %q from %s; check --keys and --key-id)",
			msg, h.keyID, h.keysFile)
	case se.Code == api.CodeCannotOpen:
		return msg + " (the sidecar could not open the request: fetch its current keys with `sealctl keys` and retry)"
	case se.Status == http.StatusUnauthorized && h.credential:
		return msg + " (the sidecar refused the credential: check the token in --token-file or SEALOCR_TOKEN)"
	case se.Status == http.StatusUnauthorized:
		return msg + " (the sidecar requires authentication: pass --token-file FILE with a JWT or API key, or set SEALOCR_TOKEN)"
	case se.Status == http.StatusRequestEntityTooLarge && se.FromSidecar():
		return msg + " (over the sidecar's body limit: max_body_bytes, SEALOCR_MAX_BODY_BYTES, default 20 MiB)"
	case se.Status == http.StatusRequestEntityTooLarge:
		return msg + " (over the OCR server's body limit: the core's max_body_bytes, SEALOCR_CORE_MAX_BODY_BYTES, default 20 MiB)"
	case se.Code == api.CodeUpstreamUnavailable:
		return msg + " (the sidecar could not reach the OCR server behind it: is the core running? check the sidecar's upstream, SEALOCR_UPSTREAM)"
	case se.Code == api.CodeUpstreamTimeout:
		return msg + " (the OCR server behind the sidecar did not answer in time: the sidecar's upstream_timeout, or a busy core)"
	case se.Status == http.StatusTooManyRequests:
		return msg + " (rate-limited: lower --concurrency, or raise the sidecar's rate_limit for this client)"
	}
	return msg
}
