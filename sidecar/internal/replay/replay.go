// Package replay remembers single-use request identifiers (a PSK request's
// salt and nonce, an OHTTP request's encapsulated key) until they expire, so
// that a request captured on the wire and posted again is refused.
//
// Every replay check of the sidecar goes through the one interface [Store].
// [Memory] is the bounded in-process implementation; a store shared by
// several replicas (Redis: SET NX PX on a hash of the partition and key)
// implements the same interface.
//
// Failure policy: a store that cannot answer, or cannot record a fresh key,
// returns an error, and the caller refuses the request (503 busy with
// Retry-After). A request is never accepted unchecked.
package replay

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"
)

// Store records single-use keys.
type Store interface {
	// Seen records key within partition until expiry and reports whether
	// it is fresh: true the first time, false while an unexpired record
	// exists. A key whose expiry has passed is fresh and not recorded.
	//
	// A partition is a share of the store: a tenant (PSK key ID) or an
	// OHTTP client class. An implementation may bound each partition so
	// that one partition cannot exhaust the store for the others.
	//
	// An error means the key could not be checked or recorded (store
	// unreachable, partition full): the caller must refuse the request.
	// key is not retained after Seen returns.
	Seen(ctx context.Context, partition string, key []byte, expiry time.Time) (fresh bool, err error)
}

// ErrFull reports that a partition (or the whole store) is at its bound
// and cannot record a fresh key before older ones expire.
var ErrFull = errors.New("replay: store full")

// Digest returns the SHA-256 of partition and key, length-prefixed so that
// no two (partition, key) pairs collide by concatenation. Implementations
// store this digest, never the key itself.
func Digest(partition string, key []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(partition)))])
	h.Write([]byte(partition))
	h.Write(key)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// Needed returns the capacity a store needs to remember every request
// accepted at rate requests per second while each is kept for retention.
func Needed(rate float64, retention time.Duration) int {
	return int(rate*retention.Seconds() + 0.999999)
}
