package upstream

import "errors"

// ErrUnavailable means the upstream could not be reached or broke off the
// exchange. Callers answer 502 with the fixed body of ErrorResponse.
var ErrUnavailable = errors.New("upstream unavailable")

// ErrTimeout means the upstream did not answer before the per-call deadline.
// Callers answer 504 with the fixed body of ErrorResponse.
var ErrTimeout = errors.New("upstream timeout")

// ErrResponseTooLarge means the upstream's response body exceeded
// Options.MaxResponseBytes. Callers answer 502 with the fixed body of
// ErrorResponse.
var ErrResponseTooLarge = errors.New("upstream response too large")

// ErrNotReady means the upstream answered its readiness probe with a status
// other than 200.
var ErrNotReady = errors.New("upstream not ready")

// ErrRemote means the upstream URL names a host that is not loopback while
// remote upstreams are not allowed (Options.AllowRemote, the configuration's
// unsafe_allow_remote_upstream).
var ErrRemote = errors.New("upstream is not loopback or a unix socket")

// ErrBadRequest means Do was given a method or path that cannot be forwarded,
// such as an absolute URL or an invalid method. Like every other failure of
// the hop it is answered 502 upstream_unavailable (AnswerFor): the gateway
// checks inner targets before it calls Do, so reaching it is the sidecar's
// fault, not the client's.
var ErrBadRequest = errors.New("request cannot be forwarded")
