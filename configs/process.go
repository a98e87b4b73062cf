package configs

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// BuildVersion is a binary's version: ldflags (set at build time with
// -ldflags "-X main.version=..."), else the module version Go recorded,
// else "dev".
func BuildVersion(ldflags string) string {
	if ldflags != "" {
		return ldflags
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

// IsLoopback reports whether host (a name or an IP address, without port)
// is "localhost" or a loopback IP address: the one rule both binaries
// apply wherever plain HTTP or an unauthenticated default is allowed on
// loopback only.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HTTPServer returns an http.Server for h with every timeout set, as both
// binaries serve: 10 s for the header, readTimeout for the whole request,
// writeTimeout for the answer, 2 min idle, 64 KiB of header; errors of the
// server itself go to errorLog (nil: the standard logger).
func HTTPServer(h http.Handler, readTimeout, writeTimeout time.Duration, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
	}
}

// Main is a server binary's main: run gets a context that ends on SIGINT or
// SIGTERM; an error is printed on standard error as "program: message"
// (through show, which redacts; nil prints it as it is) and exits 1.
func Main(program string, show func(string) string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		msg := err.Error()
		if show != nil {
			msg = show(msg)
		}
		fmt.Fprintln(os.Stderr, program+":", msg)
		os.Exit(1)
	}
}
