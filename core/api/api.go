// Package api holds the core's public wire types and its fixed list of error
// codes. It uses the standard library only, so clients (and the sidecar's
// tests) can import it without pulling in the inference stack.
package api

import (
	"crypto/rand"
	"net/http"
)

// Paths of the core's API. The sidecar forwards to them and its clients
// address them through it.
const (
	OCRPath    = "/v1/ocr"    // POST: recognize an image or document
	ModelsPath = "/v1/models" // GET: the loaded models
	HealthPath = "/healthz"   // GET: the process is up
	ReadyPath  = "/readyz"    // GET: the engine is ready
)

// Paths of the sidecar that the core's WebUI speaks to as well (the core
// serving its page on its own answers AuthInfoPath too).
const (
	// OHTTPPath is the Oblivious HTTP gateway resource: GET returns the key
	// configurations, POST takes an encapsulated request.
	OHTTPPath = "/.well-known/ohttp-gateway"
	// AuthInfoPath describes what a client needs to authenticate; public.
	AuthInfoPath = "/v1/auth-info"
)

// Point is one corner of a text box, in pixels of the decoded image (after
// EXIF orientation): [x, y].
type Point [2]int

// Line is one recognized text line.
type Line struct {
	Text       string   `json:"text"`
	Confidence float64  `json:"confidence"`
	Box        [4]Point `json:"box"` // clockwise from the top-left corner of the text
}

// Page is what was read on one page of a document (one entry for an
// image, one per page for a multi-page TIFF or a PDF).
type Page struct {
	Page   int    `json:"page"` // 1-based, in the order of the document
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Angle  int    `json:"angle"` // as Response.Angle, for this page
	Text   string `json:"text"`  // this page's lines in reading order joined by "\n"
	Lines  []Line `json:"lines"` // boxes in pixels of this page as read
	// Image is a picture of the page as read, only when the request asks
	// for one (page_images=jpeg; the WebUI does for a PDF or a TIFF, which
	// a browser cannot show): a data: URL of a JPEG at most 1600 pixels on
	// its longer side, for drawing the boxes over (scale them by its size
	// over Width and Height).
	Image string `json:"image,omitempty"`
}

// Response is the body of a successful POST /v1/ocr. Text, Lines, Width,
// Height and Angle describe the first page (the only one of an image),
// except that Text joins every page's text with a form feed ("\f"); Pages
// has every page.
type Response struct {
	Text   string `json:"text"` // lines in reading order joined by "\n"; pages joined by "\f"
	Lines  []Line `json:"lines"`
	Pages  []Page `json:"pages"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// Angle is the page's orientation as found in document mode: the
	// image as sent is the upright page turned clockwise by 0, 90, 180 or
	// 270 degrees. Lines are read upright and in reading order whatever
	// the angle; boxes stay in the coordinates of the image as sent.
	Angle     int     `json:"angle"`
	ElapsedMS float64 `json:"elapsed_ms"`
}

// ErrorBody is the body of every error response: {"error": {...}}. The
// sidecar's own JSON error answers (sidecar/api) have this type too, so a
// client decodes both binaries' errors with it.
type ErrorBody struct {
	Error Error `json:"error"`
}

// StatusBody is the body of the health answers of both binaries
// ({"status":"ok"}, {"status":"ready"}) and of the sidecar's legacy error
// ({"status":"error","message":...}).
type StatusBody struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// Status values of the health answers.
const (
	StatusOK    = "ok"
	StatusReady = "ready"
)

// Error is a fixed code and its fixed message. Neither ever carries input
// data or internal detail; details go to the server log only.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ModelInfo describes one loaded model file (GET /v1/models).
type ModelInfo struct {
	Role    string `json:"role"`
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// ModelsResponse is the body of GET /v1/models.
type ModelsResponse struct {
	Models []ModelInfo `json:"models"`
}

// Error codes. The list is fixed and documented in the README; clients may
// switch on Code.
const (
	CodeBadRequest       = "bad_request"
	CodeNotAnImage       = "not_an_image"
	CodeTooLarge         = "too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeTooManyPixels    = "too_many_pixels"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeNotReady         = "not_ready"
	CodeBusy             = "busy"
	CodeTimeout          = "timeout"
	CodeInternal         = "internal"
	// Documents (PDF, multi-page TIFF) and output formats.
	CodeTooManyPages      = "too_many_pages"
	CodeEncryptedDocument = "encrypted_document"
	CodeMalformedDocument = "malformed_document"
	CodeUnsupportedOutput = "unsupported_output"
)

type errorDef struct {
	status  int
	message string
}

var errorDefs = map[string]errorDef{
	CodeBadRequest:        {http.StatusBadRequest, "the request is malformed"},
	CodeNotAnImage:        {http.StatusBadRequest, "the body is not a decodable image"},
	CodeTooLarge:          {http.StatusRequestEntityTooLarge, "the request body is larger than the limit"},
	CodeUnsupportedMedia:  {http.StatusUnsupportedMediaType, "unsupported content type"},
	CodeTooManyPixels:     {http.StatusUnprocessableEntity, "the image has more pixels than the limit"},
	CodeNotFound:          {http.StatusNotFound, "no such resource"},
	CodeMethodNotAllowed:  {http.StatusMethodNotAllowed, "method not allowed"},
	CodeNotReady:          {http.StatusServiceUnavailable, "the OCR engine is not ready"},
	CodeBusy:              {http.StatusServiceUnavailable, "the server is busy, retry later"},
	CodeTimeout:           {http.StatusServiceUnavailable, "the request took longer than the deadline"},
	CodeInternal:          {http.StatusInternalServerError, "internal error"},
	CodeTooManyPages:      {http.StatusUnprocessableEntity, "the document has more pages than the limit"},
	CodeEncryptedDocument: {http.StatusUnprocessableEntity, "the document is encrypted or password-protected"},
	CodeMalformedDocument: {http.StatusBadRequest, "the PDF is malformed, truncated or has no pages"},
	CodeUnsupportedOutput: {http.StatusNotAcceptable, "the requested output format is not supported"},
}

// ErrorFor returns the HTTP status and fixed body for a code. Unknown codes
// map to CodeInternal.
func ErrorFor(code string) (int, ErrorBody) {
	d, ok := errorDefs[code]
	if !ok {
		code, d = CodeInternal, errorDefs[CodeInternal]
	}
	return d.status, ErrorBody{Error: Error{Code: code, Message: d.message}}
}

// Message returns the fixed message of code (CodeInternal's for an unknown
// code). The sidecar's answers with a code of this list carry the same
// message.
func Message(code string) string {
	_, b := ErrorFor(code)
	return b.Error.Message
}

// Codes lists every error code, for documentation and tests.
func Codes() []string {
	return []string{CodeBadRequest, CodeNotAnImage, CodeTooLarge, CodeUnsupportedMedia,
		CodeTooManyPixels, CodeNotFound, CodeMethodNotAllowed, CodeNotReady, CodeBusy,
		CodeTimeout, CodeInternal, CodeTooManyPages, CodeEncryptedDocument, CodeMalformedDocument,
		CodeUnsupportedOutput}
}

// HeaderRetryAfter is the header with which both binaries tell a busy
// client when to come back (seconds).
const HeaderRetryAfter = "Retry-After"

// RequestIDHeader is the header that carries a request's ID, from the
// client through the sidecar to the core and back. The sidecar sets it on
// every request it forwards (sidecar/api); the core makes one up only for a
// request without a valid one.
const RequestIDHeader = "X-Request-ID"

// NewRequestID returns a new random request ID (26 base32 characters).
func NewRequestID() string { return rand.Text() }

// RequestID returns id when it is a valid request ID and a new random one
// otherwise: the one rule, in the sidecar and the core, for a request ID
// that came from elsewhere.
func RequestID(id string) string {
	if ValidRequestID(id) {
		return id
	}
	return NewRequestID()
}

// ValidRequestID reports whether id is a valid request ID: 1 to 64
// characters from A-Z, a-z, 0-9, '.', '_' and '-'. Other values are
// replaced, never logged or echoed.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
