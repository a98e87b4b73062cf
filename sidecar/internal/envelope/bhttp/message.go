package bhttp

import "fmt"

// Framing indicators (RFC 9292 Section 3.3).
const (
	framingKnownRequest      = 0
	framingKnownResponse     = 1
	framingIndefiniteRequest = 2
	framingIndefiniteResp    = 3
)

// Default limits applied when a field of [Limits] is zero.
const (
	// DefaultMaxFieldSection bounds the encoded size of the request control
	// data and of each field section (header or trailer).
	DefaultMaxFieldSection = 64 << 10
	// DefaultMaxContent bounds the size of the message content.
	DefaultMaxContent = 32 << 20
	// DefaultMaxInformational bounds the number of informational (1xx)
	// responses that precede a final response.
	DefaultMaxInformational = 8
)

// Limits bounds what a decoder accepts. A zero field takes its default.
type Limits struct {
	// MaxFieldSection is the largest encoded size, in bytes, of the request
	// control data and of each header or trailer section (names, values and
	// their length prefixes).
	MaxFieldSection int
	// MaxContent is the largest content size in bytes, summed over all
	// chunks for the indeterminate-length framing.
	MaxContent int
	// MaxInformational is the largest number of informational responses.
	MaxInformational int
}

// withDefaults returns l with zero or negative fields replaced by defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxFieldSection <= 0 {
		l.MaxFieldSection = DefaultMaxFieldSection
	}
	if l.MaxContent <= 0 {
		l.MaxContent = DefaultMaxContent
	}
	if l.MaxInformational <= 0 {
		l.MaxInformational = DefaultMaxInformational
	}
	return l
}

// Field is one field line. Names are carried as given; HTTP semantics
// expect them in lowercase.
type Field struct {
	// Name is the field name; it must not be empty.
	Name string
	// Value is the field value.
	Value string
}

// Request is a Binary HTTP request: control data, header, content and
// trailer (RFC 9292 Section 3.4).
type Request struct {
	// Method is the request method, such as "GET".
	Method string
	// Scheme is the target URI scheme, such as "https".
	Scheme string
	// Authority is the target authority; it may be empty, in which case a
	// host header field usually names the target.
	Authority string
	// Path is the path and query of the target, such as "/ocr?lang=de".
	Path string
	// Header holds the header field lines in order.
	Header []Field
	// Content is the message content.
	Content []byte
	// Trailer holds the trailer field lines in order.
	Trailer []Field
}

// InformationalResponse is an interim (1xx) response that precedes the
// final response (RFC 9292 Section 3.5.1).
type InformationalResponse struct {
	// Status is the status code, 100 to 199.
	Status int
	// Header holds the field lines of the interim response.
	Header []Field
}

// Response is a Binary HTTP response (RFC 9292 Section 3.5).
type Response struct {
	// Informational holds interim responses in order.
	Informational []InformationalResponse
	// Status is the final status code, 200 to 599.
	Status int
	// Header holds the header field lines in order.
	Header []Field
	// Content is the message content.
	Content []byte
	// Trailer holds the trailer field lines in order.
	Trailer []Field
}

// EncodeOptions controls the known-length encoding.
type EncodeOptions struct {
	// Truncate omits trailing empty sections (trailer, then content, then
	// header) as RFC 9292 Section 3.8 permits. RFC 9458 Appendix A uses
	// truncated messages.
	Truncate bool
	// Padding appends this many zero bytes after the message.
	Padding int
}

// MarshalBinary encodes r in the known-length framing without truncation or
// padding. It implements [encoding.BinaryMarshaler].
func (r *Request) MarshalBinary() ([]byte, error) {
	return r.Encode(EncodeOptions{})
}

// Encode encodes r in the known-length framing (RFC 9292 Section 3.1).
func (r *Request) Encode(opts EncodeOptions) ([]byte, error) {
	if opts.Padding < 0 {
		return nil, fmt.Errorf("%w: negative padding", ErrInvalid)
	}
	if err := checkFields(r.Header); err != nil {
		return nil, err
	}
	if err := checkFields(r.Trailer); err != nil {
		return nil, err
	}
	b := appendVarint(nil, framingKnownRequest)
	for _, s := range [...]string{r.Method, r.Scheme, r.Authority, r.Path} {
		b = appendVarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = appendSections(b, r.Header, r.Content, r.Trailer, opts.Truncate)
	return append(b, make([]byte, opts.Padding)...), nil
}

// MarshalBinary encodes r in the known-length framing without truncation or
// padding. It implements [encoding.BinaryMarshaler].
func (r *Response) MarshalBinary() ([]byte, error) {
	return r.Encode(EncodeOptions{})
}

// Encode encodes r in the known-length framing (RFC 9292 Section 3.1).
func (r *Response) Encode(opts EncodeOptions) ([]byte, error) {
	if opts.Padding < 0 {
		return nil, fmt.Errorf("%w: negative padding", ErrInvalid)
	}
	if r.Status < 200 || r.Status > 599 {
		return nil, fmt.Errorf("%w: final status %d", ErrInvalid, r.Status)
	}
	for _, ir := range r.Informational {
		if ir.Status < 100 || ir.Status > 199 {
			return nil, fmt.Errorf("%w: informational status %d", ErrInvalid, ir.Status)
		}
		if err := checkFields(ir.Header); err != nil {
			return nil, err
		}
	}
	if err := checkFields(r.Header); err != nil {
		return nil, err
	}
	if err := checkFields(r.Trailer); err != nil {
		return nil, err
	}
	b := appendVarint(nil, framingKnownResponse)
	for _, ir := range r.Informational {
		b = appendVarint(b, uint64(ir.Status))
		b = appendFieldSection(b, ir.Header)
	}
	b = appendVarint(b, uint64(r.Status))
	b = appendSections(b, r.Header, r.Content, r.Trailer, opts.Truncate)
	return append(b, make([]byte, opts.Padding)...), nil
}

// checkFields rejects field lines that a decoder would reject.
func checkFields(fs []Field) error {
	for _, f := range fs {
		if f.Name == "" {
			return fmt.Errorf("%w: empty field name", ErrInvalid)
		}
	}
	return nil
}

// appendSections appends header, content and trailer, omitting trailing
// empty sections when truncate is set.
func appendSections(b []byte, header []Field, content []byte, trailer []Field, truncate bool) []byte {
	n := 3
	if truncate {
		switch {
		case len(trailer) > 0:
		case len(content) > 0:
			n = 2
		case len(header) > 0:
			n = 1
		default:
			n = 0
		}
	}
	if n >= 1 {
		b = appendFieldSection(b, header)
	}
	if n >= 2 {
		b = appendVarint(b, uint64(len(content)))
		b = append(b, content...)
	}
	if n >= 3 {
		b = appendFieldSection(b, trailer)
	}
	return b
}

// appendFieldSection appends a known-length field section.
func appendFieldSection(b []byte, fs []Field) []byte {
	size := 0
	for _, f := range fs {
		size += varintLen(uint64(len(f.Name))) + len(f.Name) + varintLen(uint64(len(f.Value))) + len(f.Value)
	}
	b = appendVarint(b, uint64(size))
	for _, f := range fs {
		b = appendVarint(b, uint64(len(f.Name)))
		b = append(b, f.Name...)
		b = appendVarint(b, uint64(len(f.Value)))
		b = append(b, f.Value...)
	}
	return b
}
