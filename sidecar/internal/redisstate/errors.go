package redisstate

import "errors"

// Sentinel errors of the package. Configuration errors wrap ErrConfig;
// callers check them with errors.Is.
var (
	// ErrConfig is wrapped by every error Open reports about its Options.
	ErrConfig = errors.New("redis: invalid configuration")
	// ErrPasswordInURL reports a URL that carries a password: the password
	// must come by reference (a file or an environment variable name) so
	// that the URL can be logged.
	ErrPasswordInURL = errors.New("redis: the URL must not carry a password; use the password file or the password environment variable")
	// ErrUnavailable is wrapped by every error of a Redis call (connection
	// refused, deadline exceeded, server error): the shared state could not
	// be read or written, and the caller applies its failure policy.
	ErrUnavailable = errors.New("redis: unavailable")
	// ErrPermission is wrapped, beside ErrUnavailable, by the error of a
	// call that Redis refused with NOPERM: the ACL user may not run the
	// command or touch the key. It is a configuration mistake, not an
	// outage, so no failure policy may hide it (see CheckAccess).
	ErrPermission = errors.New("redis: permission denied (NOPERM): the ACL user cannot write under the key prefix")
)
