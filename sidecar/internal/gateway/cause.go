package gateway

import (
	"context"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// causes name the errors the gateway logs about a request, first match in
// order. Only the name is logged, never the error's text: an opener, a
// Binary HTTP parser, a URL parser or a token parser fed with the client's
// bytes may quote them in its message (the second audit found a multipart
// header line, decrypted, in a log line).
var causes = []struct {
	err  error
	name string
}{
	{psk.ErrMalformed, "psk_malformed"},
	{psk.ErrUnknownKey, "psk_unknown_key"},
	{psk.ErrExpired, "psk_expired"},
	{psk.ErrSuiteMismatch, "psk_suite_mismatch"},
	{psk.ErrReplay, "psk_replay"},
	{psk.ErrReplayStore, "psk_replay_store"},
	{psk.ErrDecrypt, "psk_decrypt"},
	{psk.ErrOpen, "psk_open"},
	{ohttp.ErrUnknownKey, "ohttp_unknown_key"},
	{ohttp.ErrUnsupported, "ohttp_unsupported"},
	{ohttp.ErrDecrypt, "ohttp_decrypt"},
	{ohttp.ErrDate, "ohttp_date"},
	{ohttp.ErrMalformed, "ohttp_malformed"},
	{bhttp.ErrTooLarge, "bhttp_too_large"},
	{bhttp.ErrMalformed, "bhttp_malformed"},
	{bhttp.ErrInvalid, "bhttp_invalid"},
	{legacycbc.ErrOpen, "legacy_open"},
	{auth.ErrNoCredentials, "auth_no_credentials"},
	{auth.ErrUnsupportedScheme, "auth_unsupported_scheme"},
	{auth.ErrInvalidToken, "auth_invalid_token"},
	{auth.ErrInvalidAPIKey, "auth_invalid_api_key"},
	{auth.ErrKeySource, "auth_key_source"},
	{upstream.ErrBadRequest, "upstream_bad_request"},
	{upstream.ErrTimeout, "upstream_timeout"},
	{upstream.ErrResponseTooLarge, "upstream_response_too_large"},
	{upstream.ErrNotReady, "upstream_not_ready"},
	{upstream.ErrRemote, "upstream_remote"},
	{upstream.ErrUnavailable, "upstream_unavailable"},
	{context.DeadlineExceeded, "deadline"},
	{context.Canceled, "canceled"},
}

// knownMethod is method when it is one of RFC 9110's methods (or PATCH),
// else "other": an inner request's method is the client's text.
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// cause is the log field naming err's cause from the fixed list above
// ("other" when none matches), in place of zap.Error.
func cause(err error) zap.Field {
	for _, c := range causes {
		if errors.Is(err, c.err) {
			return zap.String("cause", c.name)
		}
	}
	return zap.String("cause", "other")
}
