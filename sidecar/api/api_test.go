package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestTable walks every fixed answer: status, code, message, valid JSON of
// the documented shape, and the headers written.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Answers() {
		t.Run(fmt.Sprintf("%d_%s", a.ID, a.Code), func(t *testing.T) {
			if http.StatusText(a.Status) == "" {
				t.Errorf("status %d", a.Status)
			}
			if a.Code == "" {
				t.Error("no code")
			}
			if a.Status >= 400 && a.Message == "" {
				t.Error("no message")
			}
			key := a.Code + "\x00" + a.Message
			if seen[key] {
				t.Errorf("code and message twice")
			}
			seen[key] = true
			if !json.Valid(a.Body) {
				t.Fatalf("body is not JSON: %s", a.Body)
			}
			switch a.ContentType {
			case ContentTypeProblem:
				var p Problem
				want := map[ID]string{OHTTPKeyUnknown: ProblemTypeKeyUnknown, OHTTPDate: ProblemTypeDate}[a.ID]
				if err := json.Unmarshal(a.Body, &p); err != nil || want == "" || p.Type != want || p.Title != a.Message {
					t.Errorf("problem body %s", a.Body)
				}
			case ContentTypeJSON:
				var e ErrorBody
				var s StatusBody
				switch {
				case json.Unmarshal(a.Body, &e) == nil && e.Error.Code != "":
					if e.Error.Code != a.Code || e.Error.Message != a.Message {
						t.Errorf("error body %s", a.Body)
					}
				case json.Unmarshal(a.Body, &s) == nil && s.Status != "":
					if (a.Status < 400 && s.Status != a.Code) || (a.Status >= 400 && (s.Status != "error" || s.Message != a.Message)) {
						t.Errorf("status body %s", a.Body)
					}
				default:
					t.Errorf("body of no known shape: %s", a.Body)
				}
			default:
				t.Errorf("content type %q", a.ContentType)
			}

			w := httptest.NewRecorder()
			for k, v := range a.Headers {
				if v == "" {
					w.Header().Set(k, "from-caller")
				}
			}
			Write(w, a.ID)
			if w.Code != a.Status || !bytes.Equal(w.Body.Bytes(), a.Body) {
				t.Errorf("written %d %s", w.Code, w.Body.Bytes())
			}
			h := w.Result().Header
			for k, v := range map[string]string{
				"Content-Type": a.ContentType, "Content-Length": strconv.Itoa(len(a.Body)),
				"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
			} {
				if h.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
				}
			}
			for k, v := range a.Headers {
				want := v
				if v == "" {
					want = "from-caller"
				}
				if h.Get(k) != want {
					t.Errorf("required header %s = %q, want %q", k, h.Get(k), want)
				}
			}
		})
	}
	if Lookup(-1).ID != Internal || Lookup(numIDs).ID != Internal {
		t.Error("an unknown ID is not Internal")
	}
}

func TestError(t *testing.T) {
	cause := errors.New("secret detail")
	err := fmt.Errorf("context: %w", NewError(CannotOpen, cause))
	if AnswerFor(err) != CannotOpen || !errors.Is(err, cause) {
		t.Errorf("AnswerFor = %v", AnswerFor(err))
	}
	if AnswerFor(cause) != Internal {
		t.Error("plain error is not Internal")
	}
	if !strings.Contains(err.Error(), "cannot_open: secret detail") {
		t.Errorf("Error() = %q", err)
	}
}

func TestRequestID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		keep bool
	}{
		{"abc-123_X.y", true}, {strings.Repeat("a", 64), true}, {strings.Repeat("a", 65), false},
		{"", false}, {"a b", false}, {"a\nb", false}, {"ä", false},
	} {
		got := RequestID(tc.in)
		if (got == tc.in) != tc.keep || !ValidRequestID(got) {
			t.Errorf("RequestID(%q) = %q", tc.in, got)
		}
	}
	var seen string
	h := RequestIDMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := RequestIDFrom(r.Context())
		if !ok || id != r.Header.Get(RequestIDHeader) {
			t.Errorf("context %q, header %q", id, r.Header.Get(RequestIDHeader))
		}
		seen = id
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(RequestIDHeader, "bad id")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if seen == "bad id" || !ValidRequestID(seen) || w.Header().Get(RequestIDHeader) != seen {
		t.Errorf("id %q, response %q", seen, w.Header().Get(RequestIDHeader))
	}
}

// TestREADME checks the README's "Fixed answers of the sidecar itself"
// table against the table of this package, both ways.
func TestREADME(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "Fixed answers of the sidecar itself")
	if !ok {
		t.Fatal("README: no section of fixed answers")
	}
	var rows []string
	for _, line := range strings.Split(after, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "|") {
			rows = append(rows, line)
		} else if len(rows) > 0 {
			break
		}
	}
	if len(rows) < 3 {
		t.Fatal("README: no table")
	}
	cells := func(row string) []string {
		parts := strings.Split(strings.Trim(row, "|"), "|")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	if got := strings.Join(cells(rows[0]), ","); got != "status,code,message,content type,headers,when" {
		t.Fatalf("README: columns %q", got)
	}
	var doc []string
	for _, row := range rows[2:] {
		c := cells(row)
		if len(c) != 6 {
			t.Errorf("README: row %q has %d cells", row, len(c))
			continue
		}
		var hs []string
		for h := range strings.SplitSeq(c[4], ",") {
			if h = strings.Trim(strings.TrimSpace(h), "`"); h != "" {
				hs = append(hs, http.CanonicalHeaderKey(h))
			}
		}
		slices.Sort(hs)
		doc = append(doc, fmt.Sprintf("%s %s %s %s [%s]", c[0], strings.Trim(c[1], "`"), c[2],
			strings.Trim(c[3], "`"), strings.Join(hs, ",")))
	}
	var code []string
	for _, a := range Answers() {
		var hs []string
		for h := range a.Headers {
			hs = append(hs, h)
		}
		slices.Sort(hs)
		code = append(code, fmt.Sprintf("%d %s %s %s [%s]", a.Status, a.Code, a.Message, a.ContentType, strings.Join(hs, ",")))
	}
	for _, d := range doc {
		if !slices.Contains(code, d) {
			t.Errorf("README documents %q, which sidecar/api does not have", d)
		}
	}
	for _, c := range code {
		if !slices.Contains(doc, c) {
			t.Errorf("sidecar/api has %q, which the README does not document", c)
		}
	}
}
