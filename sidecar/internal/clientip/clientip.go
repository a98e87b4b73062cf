// Package clientip finds the address of the client behind a request: the
// TCP peer, or — only when the peer is a configured trusted proxy (a cloud
// load balancer, an ingress controller) — the address that proxy reports in
// X-Forwarded-For or in a PROXY protocol header (v1 or v2).
//
// A peer that is not trusted cannot choose its address: its X-Forwarded-For
// is ignored and its connections are never parsed for a PROXY header.
// X-Forwarded-For is read from the right, skipping trusted proxies, so a
// client cannot spoof its address by sending the header itself.
package clientip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ErrBadPrefix reports an unusable trusted-proxy entry.
var ErrBadPrefix = errors.New("clientip: trusted proxy must be an IP address or CIDR prefix")

// Resolver knows the trusted proxies. The zero value trusts none.
type Resolver struct {
	trusted []netip.Prefix
}

// New parses trusted proxies, each an address ("10.0.0.1") or a prefix
// ("10.0.0.0/8", "fd00::/8"), reporting every bad entry at once.
func New(trusted []string) (*Resolver, error) {
	r := &Resolver{}
	var errs []error
	for _, s := range trusted {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			r.trusted = append(r.trusted, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			r.trusted = append(r.trusted, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("%w: %q", ErrBadPrefix, s))
	}
	return r, errors.Join(errs...)
}

// Trusted reports whether a is a trusted proxy.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseAddr returns the IP of a "host:port" or bare IP string, or the zero
// Addr.
func ParseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap()
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(h); err == nil {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// FromRequest returns the client address of req. It starts at the TCP peer
// (RemoteAddr, which a PROXY-protocol listener has already replaced when the
// proxy was trusted); while that address is a trusted proxy it steps to the
// next X-Forwarded-For entry from the right. An unparsable entry stops the
// walk at the last good address.
func (r *Resolver) FromRequest(req *http.Request) netip.Addr {
	addr := ParseAddr(req.RemoteAddr)
	if !r.Trusted(addr) {
		return addr
	}
	var hops []string
	for _, v := range req.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	for i := len(hops) - 1; i >= 0 && r.Trusted(addr); i-- {
		a := ParseAddr(hops[i])
		if !a.IsValid() {
			break
		}
		addr = a
	}
	return addr
}

type ctxKey struct{}

// WithAddr returns ctx carrying the client address.
func WithAddr(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the client address stored by Middleware, or the zero
// Addr.
func FromContext(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(ctxKey{}).(netip.Addr)
	return a
}

// Middleware stores the client address of each request in its context.
func (r *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req.WithContext(WithAddr(req.Context(), r.FromRequest(req))))
	})
}

// Key returns a rate-limiting key for a: the address itself for IPv4, its
// /64 prefix for IPv6 (one subscriber usually holds a whole /64).
func Key(a netip.Addr) string {
	if !a.IsValid() {
		return "ip:unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}
