package upstream

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sealocr/sealocr/configs"
)

// Target is a parsed upstream address. The proxy always dials it, whatever
// the client asked for.
type Target struct {
	// Network is "tcp" or "unix".
	Network string
	// Address is "host:port" for tcp and the socket's absolute path for unix.
	Address string
}

// ParseTarget parses an upstream URL, "http://host:port" or
// "unix:///path/to.sock". The URL may carry no user information, path, query
// or fragment. Unless allowRemote is true the host must be "localhost" or a
// loopback IP address (names other than localhost are not resolved, since
// their answer may change); otherwise the error wraps ErrRemote. Errors never
// repeat user information the URL may hold.
func ParseTarget(raw string, allowRemote bool) (Target, error) {
	shown := strconv.Quote(RedactURL(raw))
	if raw == "" {
		return Target{}, fmt.Errorf("upstream URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("upstream URL %s does not parse", shown)
	}
	if u.User != nil {
		return Target{}, fmt.Errorf("upstream URL %s: user information is not allowed", shown)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return Target{}, fmt.Errorf("upstream URL %s: query, fragment and opaque forms are not allowed", shown)
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" {
			return Target{}, fmt.Errorf("upstream URL %s: want unix:///absolute/path.sock", shown)
		}
		if !filepath.IsAbs(u.Path) || filepath.Clean(u.Path) != u.Path {
			return Target{}, fmt.Errorf("upstream URL %s: the socket path must be absolute and clean", shown)
		}
		return Target{Network: "unix", Address: u.Path}, nil
	case "http":
		if u.Path != "" && u.Path != "/" {
			return Target{}, fmt.Errorf("upstream URL %s: a path is not allowed", shown)
		}
		host := u.Hostname()
		if host == "" {
			return Target{}, fmt.Errorf("upstream URL %s: no host", shown)
		}
		port := u.Port()
		if port == "" {
			if strings.HasSuffix(u.Host, ":") {
				return Target{}, fmt.Errorf("upstream URL %s: empty port", shown)
			}
			port = "80"
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return Target{}, fmt.Errorf("upstream URL %s: bad port", shown)
		}
		if !allowRemote && !IsLoopback(host) {
			return Target{}, fmt.Errorf("upstream URL %s: %w (set unsafe_allow_remote_upstream to override)", shown, ErrRemote)
		}
		return Target{Network: "tcp", Address: net.JoinHostPort(host, port)}, nil
	default:
		return Target{}, fmt.Errorf("upstream URL %s: scheme must be http or unix", shown)
	}
}

// IsLoopback reports whether host (a name or an IP address, without port) is
// "localhost" or a loopback IP address (configs.IsLoopback).
func IsLoopback(host string) bool { return configs.IsLoopback(host) }

// RedactURL returns raw with any user information, query and fragment
// replaced by "redacted", for errors and configuration dumps. A URL that does not parse is shown as
// "<invalid URL>", since it might hold anything.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	if u.Fragment != "" {
		u.Fragment = "redacted"
	}
	if u.Opaque != "" {
		u.Opaque = "redacted"
	}
	return u.String()
}
