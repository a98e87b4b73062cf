package clientip

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrProxyHeader reports a missing or malformed PROXY protocol header from a
// trusted proxy; the connection is closed.
var ErrProxyHeader = errors.New("clientip: bad PROXY protocol header")

// v2Signature starts every PROXY protocol v2 header.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// ProxyListener wraps ln so that connections from trusted proxies must start
// with a PROXY protocol header (v1 text or v2 binary), whose source address
// then becomes the connection's RemoteAddr. Connections from other peers are
// passed through untouched. The header is read on the connection's first
// use (RemoteAddr or Read), in the connection's own goroutine, never in
// Accept; timeout bounds the wait for it.
func (r *Resolver) ProxyListener(ln net.Listener, timeout time.Duration) net.Listener {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &proxyListener{Listener: ln, r: r, timeout: timeout}
}

type proxyListener struct {
	net.Listener
	r       *Resolver
	timeout time.Duration
}

func (l *proxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if !l.r.Trusted(ParseAddr(c.RemoteAddr().String())) {
		return c, nil
	}
	return &proxyConn{Conn: c, timeout: l.timeout}, nil
}

type proxyConn struct {
	net.Conn
	timeout time.Duration
	once    sync.Once
	br      *bufio.Reader
	remote  net.Addr
	err     error
}

func (c *proxyConn) init() {
	c.once.Do(func() {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
		c.br = bufio.NewReaderSize(c.Conn, 256)
		var a netip.AddrPort
		a, c.err = readProxyHeader(c.br)
		_ = c.Conn.SetReadDeadline(time.Time{})
		if c.err != nil {
			_ = c.Conn.Close()
			return
		}
		if a.IsValid() {
			c.remote = net.TCPAddrFromAddrPort(a)
		}
	})
}

func (c *proxyConn) Read(p []byte) (int, error) {
	c.init()
	if c.err != nil {
		return 0, c.err
	}
	return c.br.Read(p)
}

func (c *proxyConn) RemoteAddr() net.Addr {
	c.init()
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// readProxyHeader reads a v1 or v2 header. A LOCAL (v2) or UNKNOWN (v1)
// header returns the zero AddrPort: the peer's own address stays.
func readProxyHeader(br *bufio.Reader) (netip.AddrPort, error) {
	head, err := br.Peek(len(v2Signature))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %v", ErrProxyHeader, err)
	}
	if bytes.Equal(head, v2Signature) {
		return readV2(br)
	}
	if bytes.HasPrefix(head, []byte("PROXY ")) {
		return readV1(br)
	}
	return netip.AddrPort{}, fmt.Errorf("%w: none from a trusted proxy", ErrProxyHeader)
}

// readV1 parses "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n" (at most
// 107 bytes).
func readV1(br *bufio.Reader) (netip.AddrPort, error) {
	var line []byte
	for len(line) < 107 {
		b, err := br.ReadByte()
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: %v", ErrProxyHeader, err)
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%w: v1 line too long or not CRLF-terminated", ErrProxyHeader)
	}
	f := strings.Split(s, " ")
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return netip.AddrPort{}, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return netip.AddrPort{}, fmt.Errorf("%w: v1 fields", ErrProxyHeader)
	}
	ip, err := netip.ParseAddr(f[2])
	port, perr := strconv.ParseUint(f[4], 10, 16)
	if err != nil || perr != nil || (f[1] == "TCP4") != ip.Is4() {
		return netip.AddrPort{}, fmt.Errorf("%w: v1 source", ErrProxyHeader)
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// readV2 parses the binary header: signature, version/command, family,
// length, addresses, TLVs (skipped).
func readV2(br *bufio.Reader) (netip.AddrPort, error) {
	var hdr [16]byte
	if _, err := ioReadFull(br, hdr[:]); err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %v", ErrProxyHeader, err)
	}
	verCmd, fam := hdr[12], hdr[13]
	n := int(binary.BigEndian.Uint16(hdr[14:16]))
	if verCmd>>4 != 2 || n > 2048 {
		return netip.AddrPort{}, fmt.Errorf("%w: v2 version or length", ErrProxyHeader)
	}
	body := make([]byte, n)
	if _, err := ioReadFull(br, body); err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %v", ErrProxyHeader, err)
	}
	switch verCmd & 0xF {
	case 0: // LOCAL: health check by the proxy itself
		return netip.AddrPort{}, nil
	case 1: // PROXY
	default:
		return netip.AddrPort{}, fmt.Errorf("%w: v2 command", ErrProxyHeader)
	}
	switch fam >> 4 {
	case 1: // AF_INET
		if n < 12 {
			return netip.AddrPort{}, fmt.Errorf("%w: v2 IPv4 length", ErrProxyHeader)
		}
		ip := netip.AddrFrom4([4]byte(body[0:4]))
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[8:10])), nil
	case 2: // AF_INET6
		if n < 36 {
			return netip.AddrPort{}, fmt.Errorf("%w: v2 IPv6 length", ErrProxyHeader)
		}
		ip := netip.AddrFrom16([16]byte(body[0:16])).Unmap()
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[32:34])), nil
	default: // AF_UNSPEC, AF_UNIX: keep the peer address
		return netip.AddrPort{}, nil
	}
}

func ioReadFull(br *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := br.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
