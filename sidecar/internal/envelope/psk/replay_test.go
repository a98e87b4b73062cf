package psk

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/replay"
)

// failingStore is a replay store whose backend cannot answer: the one fault
// a test cannot provoke with the in-process store.
type failingStore struct{ err error }

func (f failingStore) Seen(context.Context, string, []byte, time.Time) (bool, error) {
	return false, f.err
}

// TestFreshness checks, for every suite, the asymmetric timestamp window
// (5 min in the past, 30 s in the future), that a replay is refused, and
// that a store that cannot answer refuses the request rather than
// accepting it unchecked.
func TestFreshness(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.String(), func(t *testing.T) {
			key := testSuiteKey(t, "tenant-"+s.String(), s, 7)
			ks := testKeySet(t, key)
			seal := func(ts time.Time) []byte {
				body, _, err := SealRequest(nil, key, "POST", "/v1/ocr", "image/png", ts, []byte("image"))
				if err != nil {
					t.Fatal(err)
				}
				return body
			}
			open := func(body []byte, o OpenOptions) error {
				_, err := Open(context.Background(), ks, "POST", "/v1/ocr", body, t0, o)
				return err
			}
			store := func() replay.Store {
				return replay.NewMemory(replay.MemoryOptions{Capacity: 8, Now: func() time.Time { return t0 }})
			}
			for _, c := range []struct {
				name   string
				offset time.Duration
				o      OpenOptions
				want   error
			}{
				{"29 s ahead", 29 * time.Second, OpenOptions{}, nil},
				{"30 s ahead", 30 * time.Second, OpenOptions{}, nil},
				{"31 s ahead", 31 * time.Second, OpenOptions{}, ErrExpired},
				{"4 min ahead", 4 * time.Minute, OpenOptions{}, ErrExpired},
				{"5 min behind", -5 * time.Minute, OpenOptions{}, nil},
				{"5 min 1 s behind", -5*time.Minute - time.Second, OpenOptions{}, ErrExpired},
				{"2 min ahead, bound 3 min", 2 * time.Minute, OpenOptions{MaxFuture: 3 * time.Minute}, nil},
				{"future bound capped at the window", 2 * time.Minute, OpenOptions{Window: time.Minute, MaxFuture: time.Hour}, ErrExpired},
			} {
				c.o.Replay = store()
				err := open(seal(t0.Add(c.offset)), c.o)
				if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
					t.Errorf("%s: got %v, want %v", c.name, err, c.want)
				}
			}
			t.Run("replay", func(t *testing.T) {
				st, body := store(), seal(t0)
				if err := open(body, OpenOptions{Replay: st}); err != nil {
					t.Fatal(err)
				}
				if err := open(body, OpenOptions{Replay: st}); !errors.Is(err, ErrReplay) || !errors.Is(err, ErrOpen) {
					t.Fatalf("replay: %v", err)
				}
			})
			t.Run("store failure refuses", func(t *testing.T) {
				down := errors.New("connection refused")
				err := open(seal(t0), OpenOptions{Replay: failingStore{down}})
				if !errors.Is(err, ErrReplayStore) || !errors.Is(err, down) || errors.Is(err, ErrOpen) {
					t.Fatalf("got %v, want ErrReplayStore wrapping the store's error", err)
				}
			})
			t.Run("forgeries never reach the store", func(t *testing.T) {
				body := seal(t0)
				body[len(body)-1] ^= 1
				if err := open(body, OpenOptions{Replay: failingStore{errors.New("must not be called")}}); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("got %v, want ErrDecrypt", err)
				}
			})
		})
	}
}

// TestOpenInPlace checks that decrypting into the body gives the same
// request as a copying open, for every suite: the same plaintext, and a
// response that the client opens (the binding hashes the tag, which the
// in-place decryption must not disturb).
func TestOpenInPlace(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.String(), func(t *testing.T) {
			key := testSuiteKey(t, "k", s, 9)
			msg := []byte("an image of some size, decrypted where it lies")
			body, opener, err := SealRequest(nil, key, "POST", "/v1/ocr", "image/png", t0, msg)
			if err != nil {
				t.Fatal(err)
			}
			store := replay.NewMemory(replay.MemoryOptions{Now: func() time.Time { return t0 }})
			req, err := Open(context.Background(), testKeySet(t, key), "POST", "/v1/ocr", body, t0, OpenOptions{Replay: store, InPlace: true})
			if err != nil || string(req.Plaintext()) != string(msg) {
				t.Fatalf("open in place: %v %q", err, req.Plaintext())
			}
			if &req.Plaintext()[0] != &body[len(body)-len(msg)-TagSize] {
				t.Error("the plaintext does not alias the body")
			}
			sealed, err := req.SealResponse(nil, 200, "application/json", []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := opener.Open(sealed); err != nil {
				t.Fatalf("the client cannot open the response: %v", err)
			}
		})
	}
}
