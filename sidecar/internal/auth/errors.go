package auth

import "errors"

// ErrNoCredentials reports a request that carries no credentials.
var ErrNoCredentials = errors.New("auth: no credentials")

// ErrUnsupportedScheme reports an Authorization header that is not
// "Bearer <token>".
var ErrUnsupportedScheme = errors.New("auth: unsupported authorization scheme")

// ErrInvalidToken reports a JWT that does not verify: malformed, bad
// signature, wrong algorithm, unknown kid, expired, not yet valid, wrong
// issuer or audience. The wrapped detail is for the log only.
var ErrInvalidToken = errors.New("auth: invalid token")

// ErrInvalidAPIKey reports an API key that is not in the key file.
var ErrInvalidAPIKey = errors.New("auth: invalid API key")

// ErrBadMode reports an unknown mode name.
var ErrBadMode = errors.New("auth: mode must be off, optional or required")

// ErrKeySource reports an unusable key file, JWKS or API key file.
var ErrKeySource = errors.New("auth: unusable key source")

// ErrDiscoveryRefused reports an OpenID Provider discovery document that
// names another issuer than the configured one (OpenID Connect Discovery
// 1.0 section 4.3) or an endpoint that is not https: the sidecar refuses
// to start.
var ErrDiscoveryRefused = errors.New("auth: OpenID Provider discovery document refused")

// ErrDiscovery reports an OpenID Provider whose discovery document could
// not be fetched; discovery is retried in the background.
var ErrDiscovery = errors.New("auth: OpenID Provider discovery failed")
