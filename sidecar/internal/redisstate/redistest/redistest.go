// Package redistest runs Debian's redis-server for tests: on a free
// 127.0.0.1 port (or a unix socket, or TLS with a test CA) in a temporary
// directory, stopped by its PID when the test ends. Tests can stop and
// restart the same server to provoke an outage for real.
//
// A test fails, never skips, when redis-server is missing and the CI
// environment variable is set; elsewhere it skips with the install hint.
package redistest

import (
	"bufio"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/internal/localtls"
)

// Options configure Start.
type Options struct {
	// Password, when set, is required from clients (requirepass).
	Password string
	// Unix listens on a unix socket in the temporary directory instead of
	// TCP.
	Unix bool
	// TLS listens with TLS only (no plain port), with a certificate for
	// 127.0.0.1 signed by a test CA written to Server.CAFile.
	TLS bool
	// Args are further redis-server arguments, after the defaults (a later
	// directive wins): "--appendonly", "yes" for a server whose data
	// survives Restart, as the chart's Redis has it.
	Args []string
}

// Server is a running (or stopped) redis-server.
type Server struct {
	// Addr is host:port on 127.0.0.1 (empty with Options.Unix).
	Addr string
	// Socket is the unix socket path (only with Options.Unix).
	Socket string
	// URL is a redis://, rediss:// or unix:// URL for the server, without
	// credentials.
	URL string
	// CAFile is the PEM CA that signed the server's certificate (TLS only).
	CAFile string
	// Dir is the server's working directory.
	Dir string

	t    testing.TB
	bin  string
	args []string
	out  *testkit.SyncBuffer

	mu   sync.Mutex
	proc *testkit.Process
}

// Bin returns the path of redis-server, failing the test when it is
// missing (testkit.NeedTool).
func Bin(t testing.TB) string {
	t.Helper()
	return testkit.NeedTool(t, "redis-server", "apt-get install -y redis-server")
}

// Start runs a redis-server without persistence (--save "" --appendonly
// no) and waits until it answers PING. It is stopped when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{t: t, bin: Bin(t), Dir: t.TempDir(), out: &testkit.SyncBuffer{}}
	s.args = []string{"--save", "", "--appendonly", "no", "--dir", s.Dir, "--bind", "127.0.0.1",
		"--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"}
	if o.Password != "" {
		s.args = append(s.args, "--requirepass", o.Password)
	}
	switch {
	case o.Unix:
		s.Socket = filepath.Join(s.Dir, "redis.sock")
		s.args = append(s.args, "--port", "0", "--unixsocket", s.Socket, "--unixsocketperm", "700")
		s.URL = "unix://" + s.Socket
	case o.TLS:
		port := testkit.FreePort(t)
		s.Addr = "127.0.0.1:" + strconv.Itoa(port)
		// The real local CA of the sidecar (localtls) signs redis's certificate.
		l, err := localtls.Ensure(filepath.Join(s.Dir, "tls-state"), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.CAFile = l.CAPath
		cert, key := l.CertPath, l.KeyPath
		s.args = append(s.args, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", s.CAFile,
			"--tls-auth-clients", "no")
		s.URL = "rediss://" + s.Addr
	default:
		port := testkit.FreePort(t)
		s.Addr = "127.0.0.1:" + strconv.Itoa(port)
		s.args = append(s.args, "--port", strconv.Itoa(port))
		s.URL = "redis://" + s.Addr
	}
	s.args = append(s.args, o.Args...)
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Log returns what the server printed so far.
func (s *Server) Log() string { return s.out.String() }

// Stop terminates the server by its PID (SIGTERM, then SIGKILL after 5 s)
// and waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.Stop(5 * time.Second) // SIGCONT first, in case it is frozen
	}
}

// Freeze stops the server's process (SIGSTOP) without closing its
// sockets: connections hang, as with a server that is overloaded or cut off
// by the network. Thaw resumes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatal("redistest: the server is not running")
	}
	if err := s.proc.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal %v: %v", sig, err)
	}
}

// Restart starts the server again on the same address (after Stop) and
// waits until it accepts connections.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.t.Fatal("redistest: Restart while the server runs")
	}
	p, err := testkit.StartProcess("redis-server", s.bin, s.args, testkit.ProcessOptions{Dir: s.Dir, Stdout: s.out, Stderr: s.out})
	if err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.proc = p
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s.ready() {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server did not accept connections within 10 s; output:\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready reports whether the server accepts a connection (and, without
// TLS, answers PING; an auth error also proves it is up).
func (s *Server) ready() bool {
	network, addr := "tcp", s.Addr
	if s.Socket != "" {
		network, addr = "unix", s.Socket
	}
	c, err := net.DialTimeout(network, addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	if s.CAFile != "" {
		return true
	}
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH"))
}
