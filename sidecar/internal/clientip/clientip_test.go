package clientip

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	if _, err := New([]string{"10.0.0.0/8", "192.0.2.1", "fd00::/8", "::ffff:198.51.100.7"}); err != nil {
		t.Fatal(err)
	}
	_, err := New([]string{"10.0.0.0/33", "example.com", "", "10.0.0.1"})
	if err == nil || strings.Count(err.Error(), "\n") != 2 || !errors.Is(err, ErrBadPrefix) {
		t.Errorf("New = %v, want three problems", err)
	}
}

func TestFromRequest(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer ignores XFF", "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy", "10.1.2.3:4000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"spoofed leftmost entry", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.9"}, "198.51.100.9"},
		{"chain of trusted proxies", "10.1.2.3:4000", []string{"198.51.100.9, 10.9.9.9", "10.8.8.8"}, "198.51.100.9"},
		{"all trusted", "10.1.2.3:4000", []string{"10.2.2.2"}, "10.2.2.2"},
		{"garbage stops the walk", "10.1.2.3:4000", []string{"198.51.100.9, nonsense"}, "10.1.2.3"},
		{"no header", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"ipv6 proxy", "[2001:db8:ffff::1]:443", []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"xff with port", "10.1.2.3:4000", []string{"198.51.100.9:1234"}, "198.51.100.9"},
		{"mapped peer", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"unparsable peer", "pipe", []string{"198.51.100.9"}, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if got := r.FromRequest(req).String(); got != tc.want {
				t.Errorf("FromRequest = %s, want %s", got, tc.want)
			}
		})
	}
	var none *Resolver
	if none.Trusted(netip.MustParseAddr("10.0.0.1")) {
		t.Error("nil resolver trusts")
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "ip:192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "ip:2001:db8:1:2::/64",
		"2001:db8:1:2::99":     "ip:2001:db8:1:2::/64",
	} {
		if got := Key(netip.MustParseAddr(in)); got != want {
			t.Errorf("Key(%s) = %s, want %s", in, got, want)
		}
	}
	if Key(netip.Addr{}) != "ip:unknown" {
		t.Error("zero addr")
	}
}

func v2Header(cmd, fam byte, body []byte) []byte {
	h := append([]byte{}, v2Signature...)
	h = append(h, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(h[14:], uint16(len(body)))
	return append(h, body...)
}

func TestReadProxyHeader(t *testing.T) {
	v4 := make([]byte, 12)
	copy(v4, []byte{198, 51, 100, 9, 10, 0, 0, 1})
	binary.BigEndian.PutUint16(v4[8:], 5555)
	v6 := make([]byte, 36+7) // with a TLV after the addresses
	copy(v6, netip.MustParseAddr("2001:db8::7").AsSlice())
	binary.BigEndian.PutUint16(v6[32:], 6666)
	for _, tc := range []struct {
		name, in, want string
		bad            bool
	}{
		{name: "v1 tcp4", in: "PROXY TCP4 198.51.100.9 10.0.0.1 5555 443\r\nGET", want: "198.51.100.9:5555"},
		{name: "v1 tcp6", in: "PROXY TCP6 2001:db8::7 2001:db8::1 6666 443\r\n", want: "[2001:db8::7]:6666"},
		{name: "v1 unknown", in: "PROXY UNKNOWN\r\n", want: "invalid AddrPort"},
		{name: "v1 family mismatch", in: "PROXY TCP4 2001:db8::7 ::1 1 2\r\n", bad: true},
		{name: "v1 no crlf", in: "PROXY TCP4 198.51.100.9 10.0.0.1 5555 443\n", bad: true},
		{name: "v1 too long", in: "PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n", bad: true},
		{name: "v1 bad port", in: "PROXY TCP4 198.51.100.9 10.0.0.1 99999 443\r\n", bad: true},
		{name: "v2 ipv4", in: string(v2Header(1, 0x11, v4)), want: "198.51.100.9:5555"},
		{name: "v2 ipv6 with tlv", in: string(v2Header(1, 0x21, v6)), want: "[2001:db8::7]:6666"},
		{name: "v2 local", in: string(v2Header(0, 0, nil)), want: "invalid AddrPort"},
		{name: "v2 short", in: string(v2Header(1, 0x11, v4[:6])), bad: true},
		{name: "v2 bad command", in: string(v2Header(5, 0x11, v4)), bad: true},
		{name: "no header", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x00", bad: true},
		{name: "empty", in: "", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := readProxyHeader(bufio.NewReader(strings.NewReader(tc.in)))
			if tc.bad {
				if !errors.Is(err, ErrProxyHeader) {
					t.Errorf("err = %v, want ErrProxyHeader", err)
				}
				return
			}
			if err != nil || a.String() != tc.want {
				t.Errorf("got %s, %v; want %s", a, err, tc.want)
			}
		})
	}
}

func TestProxyListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name    string
		trusted []string
		send    string
		remote  string // "" = the peer's own address
		payload string
	}{
		{"trusted with header", []string{"127.0.0.1"}, "PROXY TCP4 198.51.100.9 127.0.0.1 5555 443\r\nhello", "198.51.100.9:5555", "hello"},
		{"untrusted passes through", []string{"10.0.0.0/8"}, "PROXY TCP4 198.51.100.9 127.0.0.1 5555 443\r\nhello", "", "PROXY TCP4 198.51.100.9 127.0.0.1 5555 443\r\nhello"},
		{"trusted without header is closed", []string{"127.0.0.1"}, "hello, no header here", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := New(tc.trusted)
			pl := r.ProxyListener(ln, time.Second)
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go func() { _, _ = io.WriteString(c, tc.send); _ = c.(*net.TCPConn).CloseWrite() }()
			sc, err := pl.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			got, rerr := io.ReadAll(sc)
			if tc.payload == "" {
				if rerr == nil {
					t.Errorf("read %q from a trusted peer without header", got)
				}
				return
			}
			if string(got) != tc.payload {
				t.Errorf("payload %q, want %q (%v)", got, tc.payload, rerr)
			}
			want := tc.remote
			if want == "" {
				want = c.LocalAddr().String()
			}
			if sc.RemoteAddr().String() != want {
				t.Errorf("RemoteAddr %s, want %s", sc.RemoteAddr(), want)
			}
		})
	}
}
