package bhttp

import (
	"fmt"
)

// ParseRequest decodes a Binary HTTP request in either framing. Trailing
// empty sections may be truncated and the message may be followed by zero
// padding; any other trailing byte is an error. The returned request does
// not alias b.
func ParseRequest(b []byte, lim Limits) (*Request, error) {
	return parseRequest(b, lim, false)
}

// ParseRequestInPlace is ParseRequest without a copy of the content: the
// returned request's Content is a view of b (the chunks of indefinite-length
// content are moved together within b, so b is changed), valid as long as
// b is and cleared with it. For a large body held once in memory (an
// Oblivious HTTP gateway's plaintext) it saves a copy of the content.
func ParseRequestInPlace(b []byte, lim Limits) (*Request, error) {
	return parseRequest(b, lim, true)
}

func parseRequest(b []byte, lim Limits, inPlace bool) (*Request, error) {
	lim = lim.withDefaults()
	r := &reader{b: b}
	fi, ok := r.varint()
	if !ok {
		return nil, fmt.Errorf("%w: missing framing indicator", ErrMalformed)
	}
	var indefinite bool
	switch fi {
	case framingKnownRequest:
	case framingIndefiniteRequest:
		indefinite = true
	default:
		return nil, fmt.Errorf("%w: framing indicator %d is not a request", ErrMalformed, fi)
	}
	var control [4][]byte
	size := 0
	for i := range control {
		v, ok := r.lengthPrefixed()
		if !ok {
			return nil, fmt.Errorf("%w: truncated control data", ErrMalformed)
		}
		size += len(v)
		if size > lim.MaxFieldSection {
			return nil, fmt.Errorf("%w: control data", ErrTooLarge)
		}
		control[i] = v
	}
	req := &Request{
		Method:    string(control[0]),
		Scheme:    string(control[1]),
		Authority: string(control[2]),
		Path:      string(control[3]),
	}
	var err error
	var whole []byte // the content is moved within b, not copied
	if inPlace {
		whole = b
	}
	req.Header, req.Content, req.Trailer, err = parseSections(r, indefinite, lim, whole)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// ParseResponse decodes a Binary HTTP response in either framing, including
// any informational responses. Truncation and padding are handled as in
// [ParseRequest]. The returned response does not alias b.
func ParseResponse(b []byte, lim Limits) (*Response, error) {
	lim = lim.withDefaults()
	r := &reader{b: b}
	fi, ok := r.varint()
	if !ok {
		return nil, fmt.Errorf("%w: missing framing indicator", ErrMalformed)
	}
	var indefinite bool
	switch fi {
	case framingKnownResponse:
	case framingIndefiniteResp:
		indefinite = true
	default:
		return nil, fmt.Errorf("%w: framing indicator %d is not a response", ErrMalformed, fi)
	}
	resp := &Response{}
	for {
		status, ok := r.varint()
		if !ok {
			return nil, fmt.Errorf("%w: missing status code", ErrMalformed)
		}
		if status >= 200 && status <= 599 {
			resp.Status = int(status)
			break
		}
		if status < 100 || status > 199 {
			return nil, fmt.Errorf("%w: status code %d", ErrMalformed, status)
		}
		if len(resp.Informational) >= lim.MaxInformational {
			return nil, fmt.Errorf("%w: too many informational responses", ErrTooLarge)
		}
		h, err := parseFieldSection(r, indefinite, lim)
		if err != nil {
			return nil, err
		}
		resp.Informational = append(resp.Informational, InformationalResponse{Status: int(status), Header: h})
	}
	var err error
	resp.Header, resp.Content, resp.Trailer, err = parseSections(r, indefinite, lim, nil)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// parseSections reads header, content and trailer, each of which may be
// truncated away when the input ends at a section boundary, and then checks
// that only zero padding remains. With whole (the input r reads) the
// content is a view of it rather than a copy (parseContent).
func parseSections(r *reader, indefinite bool, lim Limits, whole []byte) (header []Field, content []byte, trailer []Field, err error) {
	if r.empty() {
		return nil, nil, nil, nil
	}
	if header, err = parseFieldSection(r, indefinite, lim); err != nil {
		return nil, nil, nil, err
	}
	if r.empty() {
		return header, nil, nil, nil
	}
	if content, err = parseContent(r, indefinite, lim, whole); err != nil {
		return nil, nil, nil, err
	}
	if r.empty() {
		return header, content, nil, nil
	}
	if trailer, err = parseFieldSection(r, indefinite, lim); err != nil {
		return nil, nil, nil, err
	}
	for _, c := range r.b {
		if c != 0 {
			return nil, nil, nil, fmt.Errorf("%w: non-zero padding", ErrMalformed)
		}
	}
	return header, content, trailer, nil
}

// parseFieldSection reads one field section in the given framing.
func parseFieldSection(r *reader, indefinite bool, lim Limits) ([]Field, error) {
	if !indefinite {
		n, ok := r.varint()
		if !ok {
			return nil, fmt.Errorf("%w: truncated field section length", ErrMalformed)
		}
		if n > uint64(lim.MaxFieldSection) {
			return nil, fmt.Errorf("%w: field section of %d bytes", ErrTooLarge, n)
		}
		sec, ok := r.bytes(n)
		if !ok {
			return nil, fmt.Errorf("%w: truncated field section", ErrMalformed)
		}
		sr := &reader{b: sec}
		var fs []Field
		for !sr.empty() {
			name, value, ok := parseFieldLine(sr)
			if !ok {
				return nil, fmt.Errorf("%w: bad field line", ErrMalformed)
			}
			fs = append(fs, Field{Name: string(name), Value: string(value)})
		}
		return fs, nil
	}
	var fs []Field
	start := len(r.b)
	for {
		if len(r.b) > 0 && r.b[0] == 0 {
			r.b = r.b[1:]
			return fs, nil
		}
		name, value, ok := parseFieldLine(r)
		if !ok {
			return nil, fmt.Errorf("%w: bad or unterminated field line", ErrMalformed)
		}
		if start-len(r.b) > lim.MaxFieldSection {
			return nil, fmt.Errorf("%w: field section", ErrTooLarge)
		}
		fs = append(fs, Field{Name: string(name), Value: string(value)})
	}
}

// parseFieldLine reads a name and a value without copying; an empty name is
// invalid.
func parseFieldLine(r *reader) (name, value []byte, ok bool) {
	name, ok = r.lengthPrefixed()
	if !ok || len(name) == 0 {
		return nil, nil, false
	}
	value, ok = r.lengthPrefixed()
	if !ok {
		return nil, nil, false
	}
	return name, value, true
}

// parseContent reads the content in the given framing, copying it; with
// whole (the input r reads, r.b being its tail) it returns a view of whole
// instead, moving the chunks of indefinite-length content together: each
// chunk moves down to the end of the previous one, over its own length
// prefix, never past bytes not yet read.
func parseContent(r *reader, indefinite bool, lim Limits, whole []byte) ([]byte, error) {
	if !indefinite {
		n, ok := r.varint()
		if !ok {
			return nil, fmt.Errorf("%w: truncated content length", ErrMalformed)
		}
		if n > uint64(lim.MaxContent) {
			return nil, fmt.Errorf("%w: content of %d bytes", ErrTooLarge, n)
		}
		c, ok := r.bytes(n)
		if !ok {
			return nil, fmt.Errorf("%w: truncated content", ErrMalformed)
		}
		if whole != nil {
			if len(c) == 0 {
				return nil, nil
			}
			return c, nil
		}
		return cloneOrNil(c), nil
	}
	var out []byte
	start, end := -1, 0 // in whole: the content gathered so far
	for {
		n, ok := r.varint()
		if !ok {
			return nil, fmt.Errorf("%w: unterminated content", ErrMalformed)
		}
		if n == 0 {
			if whole != nil && start >= 0 {
				return whole[start:end:end], nil
			}
			return out, nil
		}
		size := len(out)
		if whole != nil && start >= 0 {
			size = end - start
		}
		if n > uint64(lim.MaxContent-size) {
			return nil, fmt.Errorf("%w: content", ErrTooLarge)
		}
		at := len(whole) - len(r.b)
		c, ok := r.bytes(n)
		if !ok {
			return nil, fmt.Errorf("%w: truncated content chunk", ErrMalformed)
		}
		if whole == nil {
			out = append(out, c...)
			continue
		}
		if start < 0 {
			start, end = at, at
		}
		end += copy(whole[end:], c)
	}
}

// cloneOrNil copies b, returning nil for empty input.
func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
