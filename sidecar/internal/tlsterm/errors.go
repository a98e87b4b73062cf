package tlsterm

import "errors"

// ErrNoCertificate is returned by a handshake for which no certificate is
// available: an ACME certificate not obtained yet, or a name that is not
// configured.
var ErrNoCertificate = errors.New("tlsterm: no certificate for this name")

// ErrOnDemandRefused is returned by the on-demand decision for a name that
// neither matches the allowlist nor is approved by the ask endpoint.
var ErrOnDemandRefused = errors.New("tlsterm: on-demand certificate refused")

// ErrConfig reports unusable Options; New wraps it with the detail.
var ErrConfig = errors.New("tlsterm: invalid options")
