package ohttp

import (
	"fmt"
	"net/http"
	"time"
)

// ReplayKey returns what identifies the decapsulated request for replay
// detection (RFC 9458 Section 6.5): the key configuration header (key ID,
// KEM, KDF, AEAD) and the encapsulated key enc. enc is fresh randomness of
// the client's for every request, so a request posted twice has the same
// ReplayKey and two honest requests never do. A store keeps only a hash.
func (c *ResponseContext) ReplayKey() []byte {
	k := make([]byte, 0, len(c.hdr)+len(c.enc))
	return append(append(k, c.hdr...), c.enc...)
}

// DateProblemType is the RFC 9457 problem type of RFC 9458 Section 6.5.2
// for a request refused because of its Date.
const DateProblemType = "https://iana.org/assignments/http-problem-types#date"

// CheckDate applies the acceptance window of RFC 9458 Section 6.5 to the
// Date field values of an inner request: exactly one HTTP-date (RFC 9110
// Section 5.6.7) in [now - past, now + future]. It returns the time from
// which the request may be forgotten by a replay store: the date + past +
// 1 s. Without a Date (values empty) it returns now + past + 1 s and ok,
// unless required, in which case it fails: the request's freshness then
// rests on the time of receipt. Errors wrap [ErrDate].
func CheckDate(values []string, now time.Time, past, future time.Duration, required bool) (time.Time, error) {
	switch len(values) {
	case 0:
		if required {
			return time.Time{}, fmt.Errorf("%w: no Date field", ErrDate)
		}
		return now.Add(past + time.Second), nil
	case 1:
	default:
		return time.Time{}, fmt.Errorf("%w: %d Date fields", ErrDate, len(values))
	}
	d, err := http.ParseTime(values[0])
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: not an HTTP-date", ErrDate)
	}
	if skew := now.Sub(d); skew > past || skew < -future {
		return time.Time{}, fmt.Errorf("%w: %s from the server's clock", ErrDate, (-skew).Round(time.Second))
	}
	return d.Add(past + time.Second), nil
}
