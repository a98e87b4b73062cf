// Package certstore keeps certmagic's storage in Redis, so that several
// sidecar replicas share one ACME account, one certificate per name and
// one set of OCSP staples, and order, renew and clean up each once.
//
// Storage implements certmagic.Storage (with certmagic.Locker),
// certmagic.TryLocker and certmagic.LockLeaseRenewer on a
// redisstate.Client:
//
//   - a file is a hash <prefix>v:<key> with fields v (the value) and m (the
//     modification time, Unix ms); an index sorted set <prefix>index holds
//     every key, so List and directory Exists/Stat are ZRANGEBYLEX range
//     queries; Store and Delete change value and index in one MULTI/EXEC
//     or one Lua script, so the index never disagrees with the values;
//   - a lock is <prefix>lock:<name>, taken with SET NX PX through
//     github.com/bsm/redislock: a random owner token (plus the owner's
//     name as metadata), an expiry (LockTTL), a refresh every LockTTL/3
//     while held (so a long ACME order keeps it), release and refresh only
//     by the token's owner (compare-and-delete in Lua). A replica that dies
//     holding a lock loses it after LockTTL and another takes it over.
//
// Semantics follow certmagic.FileStorage (the tests compare both): Load,
// Stat and List of a missing key return an error wrapping fs.ErrNotExist;
// Delete removes a key and everything under it and is not an error for a
// missing key. A Redis failure is never reported as fs.ErrNotExist, so
// certmagic does not mistake an outage for a missing certificate; it keeps
// serving the certificates it has in memory.
//
// It needs a single Redis (or a primary with replicas), not Redis Cluster:
// the delete script touches keys it computes.
package certstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bsm/redislock"
	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/internal/redisstate"
)

// Defaults of Options.
const (
	DefaultPrefix       = redisstate.DefaultPrefix + "certmagic:"
	DefaultLockTTL      = 30 * time.Second
	DefaultLockPoll     = time.Second
	defaultMaxLockLease = time.Hour
)

// Options configure New.
type Options struct {
	// Prefix starts every key; empty means DefaultPrefix. Replicas that
	// share certificates use the same prefix.
	Prefix string
	// LockTTL is how long a lock outlives its last refresh: the time after
	// which a replica that died holding it is taken over. Zero means
	// DefaultLockTTL.
	LockTTL time.Duration
	// LockPoll is how often a waiting Lock retries; zero means
	// DefaultLockPoll.
	LockPoll time.Duration
	// Owner names this replica in the locks it holds (e.g. the pod name),
	// for whoever inspects Redis; it is not a secret and not the token.
	Owner string
	// Logger receives lock refresh failures; nil discards them.
	Logger *zap.Logger
}

// Storage is certmagic storage in Redis. Create it with New; it is safe for
// concurrent use.
type Storage struct {
	c      *redisstate.Client
	rdb    *redis.Client
	locker *redislock.Client
	prefix string
	ttl    time.Duration
	poll   time.Duration
	owner  string
	log    *zap.Logger

	mu    sync.Mutex
	held  map[string]*heldLock     // locks this Storage holds, by name
	local map[string]chan struct{} // one holder per name in this process
}

// heldLock is a lock this Storage holds and refreshes.
type heldLock struct {
	lock *redislock.Lock
	stop context.CancelFunc
	done chan struct{}
	ttl  atomic.Int64 // lease the refresher renews to (ns); RenewLockLease lengthens it
}

var (
	_ certmagic.Storage          = (*Storage)(nil)
	_ certmagic.TryLocker        = (*Storage)(nil)
	_ certmagic.LockLeaseRenewer = (*Storage)(nil)
)

// New returns the storage on c.
func New(c *redisstate.Client, o Options) (*Storage, error) {
	if o.LockTTL < 0 || o.LockPoll < 0 {
		return nil, fmt.Errorf("%w: certificate lock ttl and poll must not be negative", redisstate.ErrConfig)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.LockTTL == 0 {
		o.LockTTL = DefaultLockTTL
	}
	if o.LockTTL < 10*time.Millisecond {
		return nil, fmt.Errorf("%w: certificate lock ttl %s is under 10ms", redisstate.ErrConfig, o.LockTTL)
	}
	if o.LockPoll == 0 {
		o.LockPoll = DefaultLockPoll
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Storage{
		c: c, rdb: c.Redis(), locker: redislock.New(c.Redis()),
		prefix: o.Prefix, ttl: o.LockTTL, poll: o.LockPoll, owner: o.Owner,
		log:  o.Logger.Named("certstore"),
		held: map[string]*heldLock{}, local: map[string]chan struct{}{},
	}, nil
}

// String names the storage for certmagic's logs.
func (s *Storage) String() string { return "RedisStorage:" + s.c.Redacted() + "/" + s.prefix }

func (s *Storage) valueKey(key string) string { return s.prefix + "v:" + key }
func (s *Storage) indexKey() string           { return s.prefix + "index" }
func (s *Storage) lockKey(name string) string { return s.prefix + "lock:" + name }

// under returns the ZRANGEBYLEX bounds of every key strictly under dir
// ('/' is 0x2F and '0' is 0x30, so [dir/, dir0) is exactly dir/…); the
// root "" spans everything.
func under(dir string) (lo, hi string) {
	if dir == "" {
		return "-", "+"
	}
	return "[" + dir + "/", "(" + dir + "0"
}

// normalize trims the slashes certmagic keys never carry at either end.
func normalize(key string) string { return strings.Trim(key, "/") }

// call bounds ctx by the Redis deadline.
func (s *Storage) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return s.c.Context(ctx)
}

// Store puts value at key, creating or overwriting it.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	key = normalize(key)
	if key == "" {
		return fmt.Errorf("certstore: store: empty key")
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.valueKey(key), "v", value, "m", time.Now().UnixMilli())
		p.ZAdd(ctx, s.indexKey(), redis.Z{Member: key})
		return nil
	})
	return redisstate.Wrap("certificate store", err)
}

// ErrIsDirectory is Load's error for a key that is a directory (a prefix
// of other keys), as FileStorage reports reading a directory; it is not
// fs.ErrNotExist.
var ErrIsDirectory = errors.New("is a directory")

// Load returns the value at key; an error wrapping fs.ErrNotExist when
// there is nothing at key, ErrIsDirectory when key is a directory.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	key = normalize(key)
	ctx, cancel := s.call(ctx)
	defer cancel()
	v, err := s.rdb.HGet(ctx, s.valueKey(key), "v").Bytes()
	if errors.Is(err, redis.Nil) {
		// Like FileStorage: a directory is there but is no file.
		if _, dir, err := s.kind(ctx, key); err != nil {
			return nil, err
		} else if dir {
			return nil, fmt.Errorf("certstore: load %s: %w", key, ErrIsDirectory)
		}
		return nil, fmt.Errorf("certstore: load %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, redisstate.Wrap("certificate load", err)
	}
	return v, nil
}

// deleteScript removes the file KEYS/ARGV name and every file under it,
// values and index entries at once. KEYS[1] is the index, ARGV[1] the
// value-key prefix, ARGV[2] the key.
var deleteScript = redis.NewScript(`
local members = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. ARGV[2] .. '/', '(' .. ARGV[2] .. '0')
table.insert(members, ARGV[2])
for _, m in ipairs(members) do
  redis.call('DEL', ARGV[1] .. m)
  redis.call('ZREM', KEYS[1], m)
end
return #members
`)

// Delete removes key and, if it is a directory, everything under it. A
// missing key is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	key = normalize(key)
	if key == "" {
		return fmt.Errorf("certstore: delete: refusing to delete the root")
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	err := deleteScript.Run(ctx, s.rdb, []string{s.indexKey()}, s.prefix+"v:", key).Err()
	return redisstate.Wrap("certificate delete", err)
}

// Exists reports whether key is a file or a directory; false also when
// Redis cannot be asked (certmagic's interface has no error here).
func (s *Storage) Exists(ctx context.Context, key string) bool {
	file, dir, err := s.kind(ctx, normalize(key))
	return err == nil && (file || dir)
}

// kind reports whether key is a file and whether it is a directory.
func (s *Storage) kind(ctx context.Context, key string) (file, dir bool, err error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	lo, hi := under(key)
	var ex *redis.IntCmd
	var sub *redis.StringSliceCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		ex = p.Exists(ctx, s.valueKey(key))
		sub = p.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.indexKey(), Start: lo, Stop: hi, ByLex: true, Count: 1})
		return nil
	})
	if err != nil {
		return false, false, redisstate.Wrap("certificate exists", err)
	}
	return key != "" && ex.Val() == 1, len(sub.Val()) > 0, nil
}

// Stat describes key: a file with its size and modification time, or a
// directory (IsTerminal false); a missing key is an error wrapping
// fs.ErrNotExist.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key = normalize(key)
	cctx, cancel := s.call(ctx)
	defer cancel()
	var mod *redis.SliceCmd
	var size *redis.IntCmd
	_, err := s.rdb.Pipelined(cctx, func(p redis.Pipeliner) error {
		mod = p.HMGet(cctx, s.valueKey(key), "m")
		size = p.HStrLen(cctx, s.valueKey(key), "v")
		return nil
	})
	if err != nil {
		return certmagic.KeyInfo{}, redisstate.Wrap("certificate stat", err)
	}
	if m, ok := mod.Val()[0].(string); ok {
		ms, _ := strconv.ParseInt(m, 10, 64)
		return certmagic.KeyInfo{Key: key, Modified: time.UnixMilli(ms), Size: size.Val(), IsTerminal: true}, nil
	}
	_, dir, err := s.kind(ctx, key)
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	if !dir {
		return certmagic.KeyInfo{}, fmt.Errorf("certstore: stat %s: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// List returns the keys under dir, sorted: its direct children (files and
// directories), or with recursive every file and directory below it. A
// missing dir is an error wrapping fs.ErrNotExist; a file has no children.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = normalize(dir)
	cctx, cancel := s.call(ctx)
	defer cancel()
	lo, hi := under(dir)
	members, err := s.rdb.ZRangeArgs(cctx, redis.ZRangeArgs{Key: s.indexKey(), Start: lo, Stop: hi, ByLex: true}).Result()
	if err != nil {
		return nil, redisstate.Wrap("certificate list", err)
	}
	if len(members) == 0 {
		file, _, err := s.kind(ctx, dir)
		switch {
		case err != nil:
			return nil, err
		case file:
			return nil, nil
		}
		return nil, fmt.Errorf("certstore: list %s: %w", dir, fs.ErrNotExist)
	}
	base := ""
	if dir != "" {
		base = dir + "/"
	}
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, m := range members {
		rest := strings.TrimPrefix(m, base)
		if !recursive {
			first, _, _ := strings.Cut(rest, "/")
			add(base + first)
			continue
		}
		// every directory on the way down, then the file
		for i := range len(rest) {
			if rest[i] == '/' {
				add(base + rest[:i])
			}
		}
		add(m)
	}
	slices.Sort(out)
	return out, nil
}

// acquireLocal takes this process's slot for name, so that one Storage
// never holds the same lock twice (certmagic unlocks by name only).
func (s *Storage) acquireLocal(ctx context.Context, name string, wait bool) (bool, error) {
	for {
		s.mu.Lock()
		ch, busy := s.local[name]
		if !busy {
			s.local[name] = make(chan struct{})
			s.mu.Unlock()
			return true, nil
		}
		s.mu.Unlock()
		if !wait {
			return false, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (s *Storage) releaseLocal(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.local[name]; ok {
		close(ch)
		delete(s.local, name)
	}
}

// obtain makes one attempt at the Redis lock.
func (s *Storage) obtain(ctx context.Context, name string) (*redislock.Lock, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	l, err := s.locker.Obtain(cctx, s.lockKey(name), s.ttl, &redislock.Options{Metadata: ":" + s.owner})
	if errors.Is(err, redislock.ErrNotObtained) {
		return nil, nil
	}
	if err != nil {
		return nil, redisstate.Wrap("certificate lock", err)
	}
	return l, nil
}

// Lock takes the lock name, waiting (polling every LockPoll) while another
// replica holds it and until ctx ends. A Redis failure ends the wait with
// an error at once.
func (s *Storage) Lock(ctx context.Context, name string) error {
	if _, err := s.acquireLocal(ctx, name, true); err != nil {
		return fmt.Errorf("certstore: lock %s: %w", name, err)
	}
	for {
		l, err := s.obtain(ctx, name)
		if err != nil {
			s.releaseLocal(name)
			return err
		}
		if l != nil {
			s.hold(name, l)
			return nil
		}
		select {
		case <-time.After(s.poll):
		case <-ctx.Done():
			s.releaseLocal(name)
			return fmt.Errorf("certstore: lock %s: %w", name, ctx.Err())
		}
	}
}

// TryLock makes one attempt at the lock name.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	if ok, _ := s.acquireLocal(ctx, name, false); !ok {
		return false, nil
	}
	l, err := s.obtain(ctx, name)
	if err != nil || l == nil {
		s.releaseLocal(name)
		return false, err
	}
	s.hold(name, l)
	return true, nil
}

// hold records l and refreshes it every LockTTL/3 until Unlock.
func (s *Storage) hold(name string, l *redislock.Lock) {
	ctx, stop := context.WithCancel(context.Background())
	h := &heldLock{lock: l, stop: stop, done: make(chan struct{})}
	h.ttl.Store(int64(s.ttl))
	s.mu.Lock()
	s.held[name] = h
	s.mu.Unlock()
	go func() {
		defer close(h.done)
		tick := time.NewTicker(s.ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cctx, cancel := s.call(ctx)
			err := l.Refresh(cctx, time.Duration(h.ttl.Load()), nil)
			cancel()
			switch {
			case err == nil, ctx.Err() != nil:
			case errors.Is(err, redislock.ErrNotObtained):
				s.log.Warn("certificate lock lost: it expired and may be held by another replica",
					zap.String("lock", name))
				return
			default:
				s.log.Warn("certificate lock refresh failed; retrying", zap.String("lock", name), zap.Error(err))
			}
		}
	}()
}

// RenewLockLease extends the lock lockKey, held by this Storage, to
// outlive its last refresh by lease (certmagic calls it before a long ACME
// retry); the refresher keeps using the longer lease.
func (s *Storage) RenewLockLease(ctx context.Context, lockKey string, lease time.Duration) error {
	s.mu.Lock()
	h, ok := s.held[lockKey]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("certstore: renew lease of %s: not held by this replica", lockKey)
	}
	lease = min(max(lease, s.ttl), defaultMaxLockLease)
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := h.lock.Refresh(cctx, lease, nil); err != nil {
		if errors.Is(err, redislock.ErrNotObtained) {
			return fmt.Errorf("certstore: renew lease of %s: the lock expired", lockKey)
		}
		return redisstate.Wrap("certificate lock renew", err)
	}
	h.ttl.Store(int64(lease))
	return nil
}

// Unlock releases the lock name held by this Storage. A lock that expired
// meanwhile counts as released; the error is for a lock that could not be
// released (Redis down: it then expires after LockTTL by itself).
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h, ok := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("certstore: unlock %s: not held by this replica", name)
	}
	h.stop()
	<-h.done
	defer s.releaseLocal(name)
	cctx, cancel := s.call(ctx)
	defer cancel()
	err := h.lock.Release(cctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redislock.ErrLockNotHeld):
		s.log.Warn("certificate lock had expired before unlock", zap.String("lock", name))
		return nil
	}
	return redisstate.Wrap("certificate unlock", err)
}
