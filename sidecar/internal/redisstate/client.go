// Package redisstate is the sidecar's connection to Redis, the state that
// several replicas share: a Client opened from a URL (redis://, rediss://,
// unix://) with the password by reference and a short deadline on every
// call, a replay cache (Replay, SET NX PX on hashed keys) and a rate
// limiter (Limiter, GCRA in one atomic Lua script via go-redis/redis_rate).
// The certmagic storage on the same Client is package certstore.
//
// Every call wraps its failure in ErrUnavailable and never reports a
// failure as a success: Replay.Seen answers fresh=false with the error,
// Limiter.Allow answers a zero Decision with the error, and the caller
// decides (replays are refused, rate limits fail open or closed as
// configured). The go-redis client reconnects by itself once Redis is
// back; nothing has to be re-created.
package redisstate

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultTimeout is the deadline of one Redis call when Options.Timeout is
// zero: generous for a Redis on the same network (a call takes ~0.1 ms on
// loopback) and short enough that a request never waits long on a Redis
// that is down.
const DefaultTimeout = 250 * time.Millisecond

// Options configure Open. URL is required; at most one of PasswordFile and
// PasswordEnv is set.
type Options struct {
	// URL selects the server: redis://[user@]host[:port][/db],
	// rediss://[user@]host[:port][/db] (TLS) or unix://[user@]/path[?db=N].
	// It must not carry a password (ErrPasswordInURL). The only query
	// parameters accepted are db (unix) and client_name.
	URL string
	// PasswordFile is a file holding the password (one line; a trailing
	// newline is ignored).
	PasswordFile string
	// PasswordEnv is the name of an environment variable holding the
	// password.
	PasswordEnv string
	// CAFile is a PEM file of the CAs trusted for a rediss:// server;
	// empty means the system roots.
	CAFile string
	// Timeout is the deadline of every Redis call (dial included);
	// zero means DefaultTimeout.
	Timeout time.Duration
	// PoolSize is the number of connections kept per replica; zero means
	// go-redis's default (10 per CPU).
	PoolSize int
	// Getenv reads PasswordEnv; nil means os.Getenv.
	Getenv func(string) string
}

// Client is a Redis connection pool with a deadline on every call. It is
// safe for concurrent use. Its String method is Redacted, so it can be
// logged.
type Client struct {
	rdb      *redis.Client
	timeout  time.Duration
	redacted string
}

// Open checks o and builds a Client. It does no network I/O: the pool dials
// on first use (see Ping), so a sidecar can start while Redis is down.
func Open(o Options) (*Client, error) {
	opt, redacted, err := parse(o)
	if err != nil {
		return nil, err
	}
	return &Client{rdb: redis.NewClient(opt), timeout: opt.ReadTimeout, redacted: redacted}, nil
}

// parse turns o into go-redis options and the redacted URL, reporting every
// problem at once.
func parse(o Options) (*redis.Options, string, error) {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	u, err := url.Parse(o.URL)
	if err != nil || o.URL == "" {
		// url.Parse's error quotes the URL, which may hold a password.
		bad("the URL is not a valid redis://, rediss:// or unix:// URL")
		return nil, "", errors.Join(errs...)
	}
	if _, has := u.User.Password(); has {
		errs = append(errs, fmt.Errorf("%w: %w", ErrConfig, ErrPasswordInURL))
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if k != "db" && k != "client_name" {
			bad("URL query parameter %q is not supported (timeouts come from the timeout option)", k)
		}
	}
	if q.Has("db") && u.Scheme != "unix" {
		bad("URL query parameter db is for unix:// URLs; use the path (redis://host:port/N)")
	}
	if o.PasswordFile != "" && o.PasswordEnv != "" {
		bad("set one of the password file and the password environment variable, not both")
	}
	if o.Timeout < 0 {
		bad("timeout %s is negative", o.Timeout)
	}
	if o.PoolSize < 0 {
		bad("pool size %d is negative", o.PoolSize)
	}
	if o.CAFile != "" && u.Scheme != "rediss" {
		bad("a CA file needs a rediss:// URL")
	}
	redacted := redact(u)
	var opt *redis.Options
	switch u.Scheme {
	case "redis", "rediss", "unix":
		opt, err = redis.ParseURL(u.String())
		if err != nil {
			bad("%s", strings.TrimPrefix(err.Error(), "redis: "))
		}
	default:
		bad("URL scheme %q is not one of redis, rediss, unix", u.Scheme)
	}
	password, perr := readPassword(o)
	if perr != nil {
		errs = append(errs, perr)
	}
	var tlsConf *tls.Config
	if u.Scheme == "rediss" && opt != nil {
		tlsConf = opt.TLSConfig.Clone()
		tlsConf.MinVersion = tls.VersionTLS12
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			pool := x509.NewCertPool()
			switch {
			case err != nil:
				bad("reading the CA file: %v", err)
			case !pool.AppendCertsFromPEM(pem):
				bad("the CA file %s holds no PEM certificate", o.CAFile)
			}
			tlsConf.RootCAs = pool
		}
	}
	if len(errs) > 0 {
		return nil, "", errors.Join(errs...)
	}

	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	opt.Password = password
	opt.TLSConfig = tlsConf
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
	opt.ContextTimeoutEnabled = true
	// One quick retry for a connection that died with a restart; the call's
	// deadline bounds the whole.
	opt.MaxRetries, opt.MinRetryBackoff, opt.MaxRetryBackoff = 1, time.Millisecond, 10*time.Millisecond
	opt.DialerRetries, opt.DialerRetryTimeout = 2, 10*time.Millisecond
	opt.PoolSize = o.PoolSize
	opt.DisableIdentity = true // no CLIENT SETINFO round trip (Redis < 7.2 refuses it anyway)
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opt, redacted, nil
}

// readPassword reads the password from the file or the environment
// variable o names; no source means no password.
func readPassword(o Options) (string, error) {
	switch {
	case o.PasswordFile != "":
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("%w: reading the password file: %w", ErrConfig, err)
		}
		p := strings.TrimRight(string(b), "\r\n")
		if p == "" {
			return "", fmt.Errorf("%w: the password file %s is empty", ErrConfig, o.PasswordFile)
		}
		return p, nil
	case o.PasswordEnv != "":
		getenv := o.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		p := getenv(o.PasswordEnv)
		if p == "" {
			return "", fmt.Errorf("%w: the password environment variable %s is empty or unset", ErrConfig, o.PasswordEnv)
		}
		return p, nil
	}
	return "", nil
}

// redact renders u without a password and without query parameters other
// than db.
func redact(u *url.URL) string {
	r := *u
	if r.User != nil {
		if _, has := r.User.Password(); has {
			r.User = url.UserPassword(r.User.Username(), "REDACTED")
		}
	}
	q := url.Values{}
	if db := u.Query().Get("db"); db != "" {
		q.Set("db", db)
	}
	r.RawQuery = q.Encode()
	r.Fragment = ""
	return r.String()
}

// Redacted returns the URL without its password (there is none: Open
// refuses one) and without query parameters other than db: what a log
// line may show.
func (c *Client) Redacted() string { return c.redacted }

// String returns Redacted.
func (c *Client) String() string { return c.redacted }

// Timeout returns the deadline applied to every call.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Redis returns the go-redis client, for packages that build on it
// (certstore, the lock library). Wrap each call in Context.
func (c *Client) Redis() *redis.Client { return c.rdb }

// Context returns ctx bounded by the call deadline.
func (c *Client) Context(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// Ping checks that Redis answers within the deadline; for a readiness
// check and a warning at start.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := c.Context(ctx)
	defer cancel()
	return Wrap("ping", c.rdb.Ping(ctx).Err())
}

// Close closes the pool.
func (c *Client) Close() error { return c.rdb.Close() }

// Wrap wraps a non-nil error of a Redis call in ErrUnavailable with the
// operation's name, and in ErrPermission too when Redis answered NOPERM;
// nil stays nil. The error text carries no key and no value, only the
// operation and the cause (e.g. "connection refused").
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if redis.IsPermissionError(err) {
		return fmt.Errorf("%w: %w: %s: %w", ErrUnavailable, ErrPermission, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// IsReply reports whether err carries an error reply of the Redis server
// (NOPERM, WRONGTYPE, NOSCRIPT, ...): Redis was reached and refused, as
// opposed to a connection that failed or a deadline that passed.
func IsReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// CheckAccess proves that this client may write what the sidecar writes
// under prefix: a replay entry (SET NX PX) and a rate-limit bucket (the
// GCRA script), each on a probe key of its own that is deleted again. A
// sidecar calls it at start and refuses to start on an error that
// IsReply (an ACL user limited to another key pattern, a read-only
// replica); an error that is not a reply (Redis down) leaves the decision
// to the failure policy. Empty prefix means DefaultPrefix.
func (c *Client) CheckAccess(ctx context.Context, prefix string) error {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	probe := hex.EncodeToString(nonce[:])
	if _, err := NewReplay(c, ReplayOptions{Prefix: prefix, Namespace: "probe"}).Seen(ctx, []byte(probe), 10*time.Second); err != nil {
		return err
	}
	l, err := NewLimiter(c, LimiterOptions{Prefix: prefix, Namespace: "probe"})
	if err != nil {
		return err
	}
	if _, err := l.AllowWith(ctx, probe, Limit{Rate: 1, Period: time.Second, Burst: 1}, 1); err != nil {
		return err
	}
	dctx, cancel := c.Context(ctx)
	defer cancel()
	return Wrap("access check cleanup", c.rdb.Del(dctx,
		hashedKey(prefix, "replay", "probe", []byte(probe), nil),
		hashedKey(prefix, "rate", "probe", []byte(probe), nil)).Err())
}
