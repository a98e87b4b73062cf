package route

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	coreapi "github.com/sealocr/sealocr/core/api"
)

// DefaultInnerRoutes is the inner-route allowlist by default: OCR and the
// model list. The sidecar's inner_routes setting declares the same default
// (a test in config checks that they agree).
var DefaultInnerRoutes = []string{http.MethodPost + " " + coreapi.OCRPath, http.MethodGet + " " + coreapi.ModelsPath}

// List is an allowlist: a request is allowed when any entry matches.
type List []Route

// Match reports whether any route of l allows method and path.
func (l List) Match(method, path string) bool {
	for _, r := range l {
		if r.Match(method, path) {
			return true
		}
	}
	return false
}

// DefaultInner is the inner-route allowlist of DefaultInnerRoutes.
var DefaultInner = func() List {
	l, err := ParseInnerRoutes(DefaultInnerRoutes)
	if err != nil {
		panic(err)
	}
	return l
}()

// Route is one entry of the plain-route allowlist: requests that the sidecar
// forwards to the core unencrypted and unchanged. Its text form is
// "METHOD /path" for one path or "METHOD /prefix/*" for every path under a
// prefix (including "/prefix/" itself). Only GET and HEAD may be allowed, so
// no request body ever reaches the core unencrypted; GET also allows HEAD.
type Route struct {
	// Method is GET or HEAD.
	Method string
	// Path is the exact path, or for a prefix route the prefix ending in "/".
	Path string
	// Prefix reports a "/prefix/*" route.
	Prefix bool
}

// ParseRoute parses "METHOD /path" or "METHOD /prefix/*". The path is made of
// the characters A-Z a-z 0-9 . _ ~ - and "/", and has no empty, "." or ".."
// segment except an empty last one ("/dir/").
func ParseRoute(s string) (Route, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Route{}, fmt.Errorf("plain route %q: want \"METHOD /path\" or \"METHOD /prefix/*\"", s)
	}
	r := Route{Method: f[0], Path: f[1]}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return Route{}, fmt.Errorf("plain route %q: method must be GET or HEAD (requests with a body go encrypted)", s)
	}
	if strings.HasSuffix(r.Path, "/*") {
		r.Path, r.Prefix = strings.TrimSuffix(r.Path, "*"), true
	}
	if !CleanPath(r.Path) {
		return Route{}, fmt.Errorf("plain route %q: path must start with \"/\", use only A-Z a-z 0-9 . _ ~ - /, have no empty, \".\" or \"..\" segment, and may end in \"/*\"", s)
	}
	return r, nil
}

// ParseInnerRoute parses an entry of the inner-route allowlist: like
// ParseRoute, but any method (an upper-case token: GET, POST, PUT, ...) may
// be named, since inner requests travel encrypted.
func ParseInnerRoute(s string) (Route, error) {
	f := strings.Fields(s)
	if len(f) != 2 || !isMethod(f[0]) {
		return Route{}, fmt.Errorf("inner route %q: want \"METHOD /path\" or \"METHOD /prefix/*\" with an upper-case method", s)
	}
	r := Route{Method: f[0], Path: f[1]}
	if strings.HasSuffix(r.Path, "/*") {
		r.Path, r.Prefix = strings.TrimSuffix(r.Path, "*"), true
	}
	if !CleanPath(r.Path) {
		return Route{}, fmt.Errorf("inner route %q: path must start with \"/\", use only A-Z a-z 0-9 . _ ~ - /, have no empty, \".\" or \"..\" segment, and may end in \"/*\"", s)
	}
	return r, nil
}

// ParseInnerRoutes parses every entry of list with ParseInnerRoute and
// rejects duplicates, reporting every problem at once.
func ParseInnerRoutes(list []string) (List, error) {
	return parseRoutes(list, ParseInnerRoute)
}

func isMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// ParseRoutes parses every entry of list and rejects duplicates, reporting
// every problem at once.
func ParseRoutes(list []string) (List, error) { return parseRoutes(list, ParseRoute) }

func parseRoutes(list []string, parse func(string) (Route, error)) (List, error) {
	var errs []error
	out := make(List, 0, len(list))
	seen := make(map[Route]bool, len(list))
	for _, s := range list {
		r, err := parse(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("route %q listed twice", s))
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// Match reports whether a request with method and (decoded) path is allowed
// by r. A path that is not clean never matches, so "/static/../v1/ocr" cannot
// ride on "GET /static/*".
func (r Route) Match(method, path string) bool {
	if method != r.Method && (method != http.MethodHead || r.Method != http.MethodGet) {
		return false
	}
	if !cleanRequestPath(path) {
		return false
	}
	if r.Prefix {
		return strings.HasPrefix(path, r.Path)
	}
	return path == r.Path
}

// String returns the route's text form.
func (r Route) String() string {
	if r.Prefix {
		return r.Method + " " + r.Path + "*"
	}
	return r.Method + " " + r.Path
}

// CleanPath reports whether p is an allowlist path: see ParseRoute.
func CleanPath(p string) bool {
	if !cleanRequestPath(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '~', c == '-', c == '/':
		default:
			return false
		}
	}
	return true
}

// cleanRequestPath reports whether p starts with "/" and has no empty, "."
// or ".." segment except an empty last one.
func cleanRequestPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if (s == "" && i != len(segs)-1) || s == "." || s == ".." {
			return false
		}
	}
	return true
}
