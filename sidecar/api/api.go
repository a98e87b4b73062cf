// Package api is the sidecar's public wire contract: every fixed answer the
// sidecar gives on its own (as opposed to the core's answers, which it seals
// and forwards; see core/api), the one function that writes them, the error
// type that carries an answer for the client and a cause for the log, and the
// request ID (request_id.go). It uses the standard library and core/api
// only (the request ID header and its rule are shared with the core), so
// clients and tests can import it.
//
// Each fixed answer is an entry of one table, looked up by its ID: status,
// public code, fixed message, media type and the headers that must come with
// it. The README's "Fixed answers of the sidecar itself" table is checked
// against this table by a test.
package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/textproto"
	"strconv"

	coreapi "github.com/sealocr/sealocr/core/api"
)

// ID names one fixed answer.
type ID int

// The fixed answers. The zero ID is Internal.
const (
	// Internal is the answer to a failure of the sidecar itself.
	Internal ID = iota
	// CannotOpen refuses a PSK or OHTTP request that cannot be opened,
	// whatever failed.
	CannotOpen
	// EncryptionRequired refuses an unencrypted request outside the plain
	// allowlist.
	EncryptionRequired
	// OHTTPUnavailable answers the OHTTP resource when no OHTTP key is
	// configured.
	OHTTPUnavailable
	// OHTTPKeyUnknown is the RFC 9458 section 5.3 problem answer to a request
	// for a key configuration (or suite) the gateway does not have: the
	// client refetches the keys.
	OHTTPKeyUnknown
	// MethodNotAllowed answers the OHTTP resource for a method other than
	// GET, HEAD and POST.
	MethodNotAllowed
	// LegacyError is the one answer to every failure in legacy mode.
	LegacyError
	// Unauthorized refuses missing or invalid credentials.
	Unauthorized
	// TooLarge refuses a body over the limit.
	TooLarge
	// RateLimited refuses a client over its rate limit.
	RateLimited
	// Busy refuses a request beyond the concurrency limit, beyond the
	// client's share of it, or whose body the buffer budget cannot hold.
	Busy
	// NotReadyKeys is /readyz before the keys are loaded.
	NotReadyKeys
	// NotReadyUpstream is /readyz while the core is not ready.
	NotReadyUpstream
	// UpstreamUnavailable answers when the core cannot be reached.
	UpstreamUnavailable
	// UpstreamTimeout answers when the core does not answer in time.
	UpstreamTimeout
	// UpstreamTooLarge answers when the core's response is over the cap.
	UpstreamTooLarge
	// UnknownHost refuses, on the plain-HTTP listener, a host the sidecar
	// does not serve (no open redirect).
	UnknownHost
	// Healthy is GET /healthz.
	Healthy
	// Ready is GET /readyz when the keys are loaded and the core is ready.
	Ready
	// OHTTPDate is the RFC 9458 section 6.5.2 problem answer, inside the
	// encapsulated response, to an inner request whose Date is outside the
	// acceptance window (or malformed, or missing when a Date is
	// required). It carries the server's Date so that the client can
	// correct its clock and retry.
	OHTTPDate
	// RouteNotAllowed refuses, inside the sealed or encapsulated response,
	// a PSK or OHTTP inner request whose method and path are not on the
	// inner_routes allowlist.
	RouteNotAllowed
	// TooSlow refuses a request whose body did not arrive at the minimum
	// rate; the connection is closed.
	TooSlow

	numIDs
)

// Error codes of the fixed answers. Clients may switch on them.
const (
	CodeInternal            = coreapi.CodeInternal
	CodeCannotOpen          = "cannot_open"
	CodeEncryptionRequired  = "encryption_required"
	CodeOHTTPUnavailable    = "ohttp_unavailable"
	CodeOHTTPKeyUnknown     = "ohttp_key_unknown"
	CodeMethodNotAllowed    = coreapi.CodeMethodNotAllowed
	CodeLegacyError         = "legacy_error"
	CodeUnauthorized        = "unauthorized"
	CodeTooLarge            = coreapi.CodeTooLarge
	CodeRateLimited         = "rate_limited"
	CodeBusy                = coreapi.CodeBusy
	CodeNotReady            = coreapi.CodeNotReady
	CodeUpstreamUnavailable = "upstream_unavailable"
	CodeUpstreamTimeout     = "upstream_timeout"
	CodeUpstreamTooLarge    = "upstream_response_too_large"
	CodeUnknownHost         = "unknown_host"
	CodeOK                  = coreapi.StatusOK
	CodeReady               = coreapi.StatusReady
	CodeOHTTPDate           = "ohttp_date"
	CodeRouteNotAllowed     = "route_not_allowed"
	CodeTooSlow             = "too_slow"
)

// Media types of the fixed answers.
const (
	ContentTypeJSON    = "application/json"
	ContentTypeProblem = "application/problem+json"
)

// Problem types that mean "the key configuration is unknown, refetch the
// keys": the one RFC 9458 section 5.3 registers (which the sidecar sends)
// and the URN of its drafts (which clients also accept).
const (
	ProblemTypeKeyUnknown      = "https://iana.org/assignments/http-problem-types#ohttp-key"
	ProblemTypeKeyUnknownDraft = "urn:ietf:params:ohttp:error:key-unknown"
)

// ProblemTypeDate is the problem type of RFC 9458 section 6.5.2: the
// request's Date is not acceptable; the answer's Date field is the server's
// clock.
const ProblemTypeDate = "https://iana.org/assignments/http-problem-types#date"

// IsKeyUnknown reports whether an RFC 9457 problem type means "refetch the
// keys".
func IsKeyUnknown(problemType string) bool {
	return problemType == ProblemTypeKeyUnknown || problemType == ProblemTypeKeyUnknownDraft
}

// Header names a fixed answer may require.
const (
	HeaderWWWAuthenticate = "WWW-Authenticate"
	HeaderRetryAfter      = coreapi.HeaderRetryAfter
	HeaderRateLimit       = "RateLimit"
	HeaderRateLimitPolicy = "RateLimit-Policy"
	HeaderAllow           = "Allow"
	HeaderConnection      = "Connection"
	HeaderDate            = "Date"
)

// Answer is one fixed answer.
type Answer struct {
	// ID names the answer.
	ID ID
	// Status is the HTTP status.
	Status int
	// Code is the public code (in the body for JSON error answers).
	Code string
	// Message is the fixed message (the problem title for OHTTPKeyUnknown
	// and OHTTPDate).
	Message string
	// ContentType is the media type of Body.
	ContentType string
	// Headers are the headers that must come with the answer. A value is
	// the fixed value Write sets when the caller has not; "" means the
	// caller must set it (it depends on the request).
	Headers map[string]string
	// Body is the exact body.
	Body []byte
}

// ErrorBody is the body of the JSON error answers: {"error":{...}}, the
// core's error body (core/api.ErrorBody): one type for both binaries.
type ErrorBody = coreapi.ErrorBody

// ErrorDetail is a fixed code and its fixed message (core/api.Error).
type ErrorDetail = coreapi.Error

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type  string `json:"type"`
	Title string `json:"title"`
}

// StatusBody is the body of the answers of the health routes and of the
// legacy error: {"status":..., "message":...} (core/api.StatusBody).
type StatusBody = coreapi.StatusBody

// kind is how an entry's body is built from its code and message.
type kind int

const (
	kindError   kind = iota // {"error":{"code","message"}}
	kindProblem             // {"type","title"}
	kindStatus              // {"status","message"}
)

type entry struct {
	status  int
	code    string
	message string
	kind    kind
	headers map[string]string
}

// table is the one list of fixed answers.
var table = [numIDs]entry{
	Internal:            {http.StatusInternalServerError, CodeInternal, coreapi.Message(CodeInternal), kindError, nil},
	CannotOpen:          {http.StatusBadRequest, CodeCannotOpen, "request could not be opened", kindError, nil},
	EncryptionRequired:  {http.StatusUnsupportedMediaType, CodeEncryptionRequired, "this endpoint accepts only encrypted requests", kindError, nil},
	OHTTPUnavailable:    {http.StatusNotFound, CodeOHTTPUnavailable, "oblivious HTTP is not configured", kindError, nil},
	OHTTPKeyUnknown:     {http.StatusBadRequest, CodeOHTTPKeyUnknown, "key identifier unknown", kindProblem, nil},
	MethodNotAllowed:    {http.StatusMethodNotAllowed, CodeMethodNotAllowed, coreapi.Message(CodeMethodNotAllowed), kindError, map[string]string{HeaderAllow: "GET, HEAD, POST"}},
	LegacyError:         {http.StatusBadRequest, CodeLegacyError, "request could not be processed", kindStatus, nil},
	Unauthorized:        {http.StatusUnauthorized, CodeUnauthorized, "valid credentials are required", kindError, map[string]string{HeaderWWWAuthenticate: ""}},
	TooLarge:            {http.StatusRequestEntityTooLarge, CodeTooLarge, coreapi.Message(CodeTooLarge), kindError, nil},
	RateLimited:         {http.StatusTooManyRequests, CodeRateLimited, "too many requests, retry later", kindError, map[string]string{HeaderRetryAfter: "", HeaderRateLimitPolicy: "", HeaderRateLimit: ""}},
	Busy:                {http.StatusServiceUnavailable, CodeBusy, coreapi.Message(CodeBusy), kindError, map[string]string{HeaderRetryAfter: "1"}},
	NotReadyKeys:        {http.StatusServiceUnavailable, CodeNotReady, "keys are not loaded", kindError, nil},
	NotReadyUpstream:    {http.StatusServiceUnavailable, CodeNotReady, "the OCR service is not ready", kindError, nil},
	UpstreamUnavailable: {http.StatusBadGateway, CodeUpstreamUnavailable, "the OCR service is unavailable", kindError, nil},
	UpstreamTimeout:     {http.StatusGatewayTimeout, CodeUpstreamTimeout, "the OCR service did not answer in time", kindError, nil},
	UpstreamTooLarge:    {http.StatusBadGateway, CodeUpstreamTooLarge, "the OCR service's response is too large", kindError, nil},
	UnknownHost:         {http.StatusMisdirectedRequest, CodeUnknownHost, "this host is not served here", kindError, map[string]string{HeaderConnection: "close"}},
	Healthy:             {http.StatusOK, CodeOK, "", kindStatus, nil},
	Ready:               {http.StatusOK, CodeReady, "", kindStatus, nil},
	OHTTPDate:           {http.StatusBadRequest, CodeOHTTPDate, "date not acceptable", kindProblem, map[string]string{HeaderDate: ""}},
	TooSlow:             {http.StatusRequestTimeout, CodeTooSlow, "the request body arrived too slowly", kindError, map[string]string{HeaderConnection: "close"}},
	RouteNotAllowed:     {http.StatusForbidden, CodeRouteNotAllowed, "this method and path are not served to encrypted requests", kindError, nil},
}

var answers [numIDs]Answer

// problemTypes are the problem types of the kindProblem entries.
var problemTypes = map[ID]string{OHTTPKeyUnknown: ProblemTypeKeyUnknown, OHTTPDate: ProblemTypeDate}

func init() {
	for i, e := range table {
		a := Answer{ID: ID(i), Status: e.status, Code: e.code, Message: e.message,
			ContentType: ContentTypeJSON}
		if e.headers != nil {
			a.Headers = map[string]string{}
			for k, v := range e.headers {
				a.Headers[textproto.CanonicalMIMEHeaderKey(k)] = v
			}
		}
		var v any
		switch e.kind {
		case kindError:
			v = ErrorBody{Error: ErrorDetail{Code: e.code, Message: e.message}}
		case kindProblem:
			v = Problem{problemTypes[ID(i)], e.message}
			a.ContentType = ContentTypeProblem
		case kindStatus:
			if e.message == "" {
				v = StatusBody{Status: e.code}
			} else {
				v = StatusBody{Status: "error", Message: e.message}
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		a.Body = b
		answers[i] = a
	}
}

// Lookup returns the fixed answer id; an unknown id gives Internal.
func Lookup(id ID) Answer {
	if id < 0 || id >= numIDs {
		id = Internal
	}
	a := answers[id]
	a.Body = append([]byte(nil), a.Body...)
	return a
}

// Answers returns every fixed answer, in ID order.
func Answers() []Answer {
	out := make([]Answer, numIDs)
	for i := range out {
		out[i] = Lookup(ID(i))
	}
	return out
}

// String returns the answer's public code.
func (id ID) String() string { return Lookup(id).Code }

// Header returns the headers of the answer as written: Content-Type,
// Content-Length, Cache-Control: no-store, X-Content-Type-Options: nosniff
// and the fixed values of its required headers.
func (a Answer) Header() http.Header {
	h := http.Header{}
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(a.Body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	for k, v := range a.Headers {
		if v != "" {
			h.Set(k, v)
		}
	}
	return h
}

// Write writes the fixed answer id to w. Headers the answer requires with a
// value that depends on the request (WWW-Authenticate, Retry-After, the
// RateLimit fields) must be set on w beforehand; fixed ones are set here
// when the caller has not set them.
func Write(w http.ResponseWriter, id ID) {
	if id < 0 || id >= numIDs {
		id = Internal
	}
	a := answers[id]
	h := w.Header()
	for k, vs := range a.Header() {
		if _, isRequired := a.Headers[k]; isRequired && h.Get(k) != "" {
			continue
		}
		h[k] = vs
	}
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// Error is a failure with two audiences: ID is the fixed answer the client
// gets, Cause the detail that goes to the log only (as tailscale's
// tsweb.HTTPError). Error returns the cause's text, never sent to a client.
type Error struct {
	// ID is the fixed answer for the client.
	ID ID
	// Cause is the detail for the log; it may be nil.
	Cause error
}

// NewError returns an *Error with answer id and cause err.
func NewError(id ID, err error) *Error { return &Error{ID: id, Cause: err} }

// Error implements error: the public code and the cause, for the log.
func (e *Error) Error() string {
	if e.Cause == nil {
		return Lookup(e.ID).Code
	}
	return Lookup(e.ID).Code + ": " + e.Cause.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// AnswerFor returns the fixed answer of err: the ID of an *Error in its
// chain, or Internal.
func AnswerFor(err error) ID {
	var e *Error
	if errors.As(err, &e) {
		return e.ID
	}
	return Internal
}
