package route

import (
	"strings"
	"testing"
)

func TestAllowlistRoutes(t *testing.T) {
	for _, tc := range []struct {
		route   string
		bad     bool
		matches []string // "METHOD /path"
		misses  []string
	}{
		{route: "GET /", matches: []string{"GET /", "HEAD /"}, misses: []string{"GET /x", "POST /", "GET //"}},
		{route: "GET /static/*",
			matches: []string{"GET /static/", "GET /static/app.js", "GET /static/css/a.css", "HEAD /static/x"},
			misses:  []string{"GET /static", "GET /staticx", "GET /static/../v1/ocr", "GET /static/./x", "GET /static//x", "POST /static/x", "GET /v1/ocr"}},
		{route: "GET /healthz", matches: []string{"GET /healthz"}, misses: []string{"GET /healthz/", "GET /healthz/x", "PUT /healthz"}},
		{route: "HEAD /h", matches: []string{"HEAD /h"}, misses: []string{"GET /h"}},
		{route: "GET /*", matches: []string{"GET /", "GET /anything/at/all"}, misses: []string{"GET /a/../b"}},
		{route: "POST /v1/ocr", bad: true},
		{route: "get /", bad: true},
		{route: "GET", bad: true},
		{route: "GET / extra", bad: true},
		{route: "GET static", bad: true},
		{route: "GET /a*", bad: true},
		{route: "GET /*/x", bad: true},
		{route: "GET /a/../b", bad: true},
		{route: "GET /a//b", bad: true},
		{route: "GET /a?b", bad: true},
		{route: "GET /a%2e", bad: true},
	} {
		t.Run(tc.route, func(t *testing.T) {
			r, err := ParseRoute(tc.route)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseRoute succeeded: %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tc.route {
				t.Errorf("String = %q", r.String())
			}
			for _, m := range tc.matches {
				method, path, _ := strings.Cut(m, " ")
				if !r.Match(method, path) {
					t.Errorf("does not match %s", m)
				}
			}
			for _, m := range tc.misses {
				method, path, _ := strings.Cut(m, " ")
				if r.Match(method, path) {
					t.Errorf("matches %s", m)
				}
			}
		})
	}
}

func TestListMatch(t *testing.T) {
	l, err := ParseInnerRoutes([]string{"POST /v1/ocr", "GET /static/*"})
	if err != nil {
		t.Fatal(err)
	}
	for m, want := range map[string]bool{"POST /v1/ocr": true, "GET /static/a.js": true, "HEAD /static/a.js": true,
		"GET /v1/ocr": false, "POST /v1/models": false, "GET /static/../v1/ocr": false} {
		method, path, _ := strings.Cut(m, " ")
		if got := l.Match(method, path); got != want {
			t.Errorf("Match(%s) = %v, want %v", m, got, want)
		}
	}
	if List(nil).Match("GET", "/") {
		t.Error("an empty list allows a request")
	}
	for m, want := range map[string]bool{"POST /v1/ocr": true, "GET /v1/models": true, "HEAD /v1/models": true, "GET /v1/ocr": false, "POST /healthz": false} {
		method, path, _ := strings.Cut(m, " ")
		if got := DefaultInner.Match(method, path); got != want {
			t.Errorf("DefaultInner.Match(%s) = %v, want %v", m, got, want)
		}
	}
}
