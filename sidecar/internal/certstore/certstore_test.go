package certstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/internal/redisstate"
	"github.com/sealocr/sealocr/sidecar/internal/redisstate/redistest"
)

func TestMain(m *testing.M) {
	redisstate.SetLogger(zap.NewNop()) // the outage tests provoke dial errors on purpose
	m.Run()
}

// replica opens a Storage with its own connection pool on srv, as one
// sidecar replica would.
func replica(t testing.TB, srv *redistest.Server, o Options) *Storage {
	t.Helper()
	// A generous deadline: these tests are about semantics, not deadlines,
	// and a loaded CI machine must not turn a slow answer into a failure.
	c, err := redisstate.Open(redisstate.Options{URL: srv.URL, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s, err := New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSemanticsMatchFileStorage runs one script of Store, Load, Exists,
// Stat, List and Delete on certmagic's own FileStorage and on Storage and
// requires the same answers, fs.ErrNotExist included.
func TestSemanticsMatchFileStorage(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	redisS := replica(t, srv, Options{})
	fileS := &certmagic.FileStorage{Path: t.TempDir()}
	impls := []struct {
		name string
		s    certmagic.Storage
	}{{"file", fileS}, {"redis", redisS}}

	files := map[string]string{
		"acme/ca.example/users/me@example.com/me.json":              "account",
		"acme/ca.example/users/me@example.com/me.key":               "account key",
		"certificates/ca.example/example.com/example.com.crt":       "cert",
		"certificates/ca.example/example.com/example.com.key":       "key",
		"certificates/ca.example/example.com/example.com.json":      "meta",
		"certificates/ca.example/example.com.bak":                   "sibling file sharing a prefix",
		"certificates/ca.example/example.com2/example.com2.crt":     "sibling dir sharing a prefix",
		"certificates/ca.example/wildcard_.example.org/w.crt":       "wildcard",
		"ocsp/example.com-0123abcd":                                 "staple",
		"last_clean.json":                                           "{}",
		"certificates/ca.example/example.com/deeper/still/leaf.txt": "deep",
	}
	for _, im := range impls {
		for k, v := range files {
			if err := im.s.Store(ctx, k, []byte(v)); err != nil {
				t.Fatalf("%s: Store %s: %v", im.name, k, err)
			}
		}
	}

	type answer struct {
		exists   bool
		loadVal  string
		loadNE   bool
		statTerm bool
		statSize int64
		statNE   bool
		list     []string
		listNE   bool
		rlist    []string
	}
	probe := func(s certmagic.Storage, key string) answer {
		var a answer
		a.exists = s.Exists(ctx, key)
		if v, err := s.Load(ctx, key); err == nil {
			a.loadVal = string(v)
		} else {
			a.loadNE = errors.Is(err, fs.ErrNotExist)
		}
		if fi, err := s.Stat(ctx, key); err == nil {
			a.statTerm = fi.IsTerminal
			if fi.IsTerminal {
				a.statSize = fi.Size
			}
			if fi.Key != key {
				t.Errorf("Stat(%q).Key = %q", key, fi.Key)
			}
		} else {
			a.statNE = errors.Is(err, fs.ErrNotExist)
			if !a.statNE {
				t.Errorf("Stat(%q): %v, want fs.ErrNotExist", key, err)
			}
		}
		l, err := s.List(ctx, key, false)
		a.listNE = errors.Is(err, fs.ErrNotExist)
		if err != nil && !a.listNE {
			t.Errorf("List(%q): %v", key, err)
		}
		a.list = sorted(l)
		rl, _ := s.List(ctx, key, true)
		a.rlist = sorted(rl)
		return a
	}
	compare := func(t *testing.T, keys []string) {
		t.Helper()
		for _, k := range keys {
			want, got := probe(fileS, k), probe(redisS, k)
			if fmt.Sprint(want) != fmt.Sprint(got) {
				t.Errorf("key %q:\n file  %+v\n redis %+v", k, want, got)
			}
		}
	}
	keys := []string{
		"certificates", "certificates/ca.example", "certificates/ca.example/example.com",
		"certificates/ca.example/example.com/example.com.crt", "certificates/ca.example/example.com.bak",
		"certificates/ca.example/example.com2", "acme", "acme/ca.example/users", "ocsp", "last_clean.json",
		"missing", "certificates/missing", "certificates/ca.example/example", "certificates/ca.exampl",
		"certificates/ca.example/example.com/deeper",
	}
	t.Run("after store", func(t *testing.T) { compare(t, keys) })

	// Spot checks that the comparison is not vacuous.
	a := probe(redisS, "certificates/ca.example")
	if want := []string{"certificates/ca.example/example.com", "certificates/ca.example/example.com.bak",
		"certificates/ca.example/example.com2", "certificates/ca.example/wildcard_.example.org"}; !slices.Equal(a.list, want) {
		t.Errorf("List(certificates/ca.example, false) = %q, want %q", a.list, want)
	}
	if !slices.Contains(a.rlist, "certificates/ca.example/example.com/deeper/still") ||
		!slices.Contains(a.rlist, "certificates/ca.example/example.com/deeper/still/leaf.txt") || len(a.rlist) != 12 {
		t.Errorf("List(certificates/ca.example, true) = %q, want 12 keys with every directory and file", a.rlist)
	}
	if m := probe(redisS, "missing"); !m.loadNE || !m.statNE || !m.listNE || m.exists {
		t.Errorf("missing key: %+v, want fs.ErrNotExist everywhere", m)
	}

	t.Run("overwrite", func(t *testing.T) {
		k := "certificates/ca.example/example.com/example.com.crt"
		before, _ := redisS.Stat(ctx, k)
		time.Sleep(5 * time.Millisecond)
		for _, im := range impls {
			if err := im.s.Store(ctx, k, []byte("renewed certificate")); err != nil {
				t.Fatal(err)
			}
		}
		compare(t, []string{k})
		after, _ := redisS.Stat(ctx, k)
		if after.Size != int64(len("renewed certificate")) || !after.Modified.After(before.Modified) {
			t.Errorf("Stat after overwrite: %+v (before %+v)", after, before)
		}
		if time.Since(after.Modified) > time.Minute || time.Since(after.Modified) < 0 {
			t.Errorf("Modified %s is not now", after.Modified)
		}
	})

	t.Run("delete", func(t *testing.T) {
		for _, im := range impls {
			for _, k := range []string{"certificates/ca.example/example.com", "ocsp/example.com-0123abcd", "missing", "acme/nope/deeper"} {
				if err := im.s.Delete(ctx, k); err != nil {
					t.Errorf("%s: Delete(%q): %v", im.name, k, err)
				}
			}
		}
		// FileStorage keeps the directory ocsp empty; a key-value store has no
		// empty directories (checked below), the one deliberate difference.
		compare(t, append(slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "ocsp" }),
			"certificates/ca.example/example.com/deeper/still/leaf.txt"))
		if redisS.Exists(ctx, "certificates/ca.example/example.com/example.com.key") {
			t.Error("a file under a deleted directory still exists")
		}
		if !redisS.Exists(ctx, "certificates/ca.example/example.com.bak") || !redisS.Exists(ctx, "certificates/ca.example/example.com2") {
			t.Error("deleting example.com removed a sibling that only shares its prefix")
		}
		// "ocsp" held one file: the directory is gone with it.
		if _, err := redisS.List(ctx, "ocsp", false); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("List(ocsp) after deleting its only file: %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("binary values", func(t *testing.T) {
		v := []byte{0, 1, 2, 0xff, '\n', 0}
		if err := redisS.Store(ctx, "bin", v); err != nil {
			t.Fatal(err)
		}
		got, err := redisS.Load(ctx, "bin")
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("Load(bin) = %v %v, want %v", got, err, v)
		}
	})

	t.Run("two replicas see one store", func(t *testing.T) {
		other := replica(t, srv, Options{})
		if err := redisS.Store(ctx, "shared/x", []byte("from replica 1")); err != nil {
			t.Fatal(err)
		}
		if v, err := other.Load(ctx, "shared/x"); err != nil || string(v) != "from replica 1" {
			t.Errorf("replica 2 Load = %q %v", v, err)
		}
		// A different prefix is a different store.
		foreign := replica(t, srv, Options{Prefix: "other:"})
		if foreign.Exists(ctx, "shared/x") {
			t.Error("a Storage with another prefix sees the key")
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestLocks contends for locks between replicas (separate Storages with
// separate connection pools) on a real redis-server.
func TestLocks(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	// TTL 1.5 s, refreshed every 0.5 s: slack for a loaded machine.
	o := Options{LockTTL: 1500 * time.Millisecond, LockPoll: 20 * time.Millisecond}
	a, b := replica(t, srv, o), replica(t, srv, o)

	t.Run("second waits until the first unlocks", func(t *testing.T) {
		if err := a.Lock(ctx, "issue_cert_example.com"); err != nil {
			t.Fatal(err)
		}
		var bHas atomic.Bool
		got := make(chan error, 1)
		go func() {
			err := b.Lock(ctx, "issue_cert_example.com")
			bHas.Store(err == nil)
			got <- err
		}()
		// Beyond two lock TTLs: a's refresher keeps the lock alive meanwhile.
		time.Sleep(3500 * time.Millisecond)
		if bHas.Load() {
			t.Fatal("b obtained the lock while a held it (a's refresh did not keep it)")
		}
		if ok, err := b.TryLock(ctx, "issue_cert_example.com"); ok || err != nil {
			t.Errorf("TryLock while held elsewhere: %v %v", ok, err)
		}
		if err := a.Unlock(ctx, "issue_cert_example.com"); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("b did not obtain the lock after a unlocked")
		}
		if ok, err := a.TryLock(ctx, "issue_cert_example.com"); ok || err != nil {
			t.Errorf("a TryLock while b holds it: %v %v", ok, err)
		}
		if err := b.Unlock(ctx, "issue_cert_example.com"); err != nil {
			t.Fatal(err)
		}
		if ok, err := a.TryLock(ctx, "issue_cert_example.com"); !ok || err != nil {
			t.Fatalf("TryLock of a free lock: %v %v", ok, err)
		}
		if err := a.Unlock(ctx, "issue_cert_example.com"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("expired lock of a dead replica is taken over", func(t *testing.T) {
		// A replica that died holding the lock: its key with its token and
		// expiry, and nobody refreshing it.
		key := a.lockKey("issue_cert_dead.example")
		if err := a.rdb.Set(ctx, key, "token-of-a-dead-replica:pod-0", 400*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.TryLock(ctx, "issue_cert_dead.example"); ok {
			t.Fatal("TryLock took a live foreign lock")
		}
		start := time.Now()
		if err := b.Lock(ctx, "issue_cert_dead.example"); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < 200*time.Millisecond {
			t.Errorf("Lock returned after %s, before the dead replica's lock expired", waited)
		}
		v, _ := a.rdb.Get(ctx, key).Result()
		if strings.HasPrefix(v, "token-of-a-dead-replica") {
			t.Errorf("lock value %q still the dead replica's", v)
		}
		if err := b.Unlock(ctx, "issue_cert_dead.example"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a stale owner cannot release the new owner's lock", func(t *testing.T) {
		short := replica(t, srv, Options{LockTTL: 300 * time.Millisecond, LockPoll: 20 * time.Millisecond})
		if err := short.Lock(ctx, "n"); err != nil {
			t.Fatal(err)
		}
		// Cut short's refresher off as a partitioned replica: stop it by hand.
		short.mu.Lock()
		h := short.held["n"]
		short.mu.Unlock()
		h.stop()
		<-h.done
		if err := b.Lock(ctx, "n"); err != nil { // waits for the expiry, then takes it
			t.Fatal(err)
		}
		if err := short.Unlock(ctx, "n"); err != nil { // expired: counts as released...
			t.Fatalf("stale Unlock: %v", err)
		}
		if ok, _ := a.TryLock(ctx, "n"); ok { // ...and b's lock still stands
			t.Fatal("the stale owner's Unlock released the new owner's lock")
		}
		if err := b.Unlock(ctx, "n"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("lease renewal", func(t *testing.T) {
		if err := a.Lock(ctx, "long_order"); err != nil {
			t.Fatal(err)
		}
		if err := a.RenewLockLease(ctx, "long_order", 20*time.Second); err != nil {
			t.Fatal(err)
		}
		pttl, err := a.rdb.PTTL(ctx, a.lockKey("long_order")).Result()
		if err != nil || pttl < 10*time.Second {
			t.Errorf("PTTL after a 20 s lease = %s %v, want > 10 s", pttl, err)
		}
		time.Sleep(800 * time.Millisecond) // past a refresh tick (0.5 s): the refresher keeps the long lease
		if pttl, _ := a.rdb.PTTL(ctx, a.lockKey("long_order")).Result(); pttl < 10*time.Second {
			t.Errorf("PTTL after a refresh = %s, want the 20 s lease kept", pttl)
		}
		if err := a.Unlock(ctx, "long_order"); err != nil {
			t.Fatal(err)
		}
		if err := a.RenewLockLease(ctx, "long_order", time.Second); err == nil {
			t.Error("RenewLockLease of a released lock succeeded")
		}
	})

	t.Run("misuse and cancellation", func(t *testing.T) {
		if err := a.Unlock(ctx, "never_locked"); err == nil {
			t.Error("Unlock of a lock never taken succeeded")
		}
		if err := a.Lock(ctx, "busy"); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := b.Lock(cctx, "busy"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Lock with an expiring context: %v, want DeadlineExceeded", err)
		}
		// Two waiters in one process: each gets the lock in turn.
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := a.Lock(ctx, "busy"); err != nil {
				t.Error(err)
				return
			}
			_ = a.Unlock(ctx, "busy")
		}()
		time.Sleep(50 * time.Millisecond)
		if err := a.Unlock(ctx, "busy"); err != nil {
			t.Fatal(err)
		}
		<-done
	})
}

// TestOutage stops the real redis-server under a Storage: calls fail
// promptly and never as fs.ErrNotExist (certmagic would take that as "no
// certificate" and order one); after a restart the same Storage works.
func TestOutage(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	s := replica(t, srv, Options{LockPoll: 20 * time.Millisecond})
	if err := s.Store(ctx, "certificates/x/x.crt", []byte("c")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	_, lerr := s.Load(ctx, "certificates/x/x.crt")
	_, serr := s.Stat(ctx, "certificates/x/x.crt")
	_, liErr := s.List(ctx, "certificates", true)
	for name, err := range map[string]error{
		"Load": lerr, "Stat": serr, "List": liErr,
		"Store":  s.Store(ctx, "k", []byte("v")),
		"Delete": s.Delete(ctx, "k"),
		"Lock":   s.Lock(ctx, "l"),
	} {
		if err == nil || errors.Is(err, fs.ErrNotExist) || !errors.Is(err, redisstate.ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want ErrUnavailable and not fs.ErrNotExist", name, err)
		}
	}
	if s.Exists(ctx, "certificates/x/x.crt") {
		t.Error("Exists with Redis down is true")
	}
	if ok, err := s.TryLock(ctx, "l"); ok || err == nil {
		t.Errorf("TryLock with Redis down: %v %v", ok, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("nine calls took %s with Redis down", took)
	}
	srv.Restart() // no persistence: the restarted Redis is empty
	end := time.Now().Add(5 * time.Second)
	for s.Store(ctx, "certificates/x/x.crt", []byte("again")) != nil {
		if time.Now().After(end) {
			t.Fatal("Storage did not recover within 5 s of Redis coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, err := s.Load(ctx, "certificates/x/x.crt"); err != nil || string(v) != "again" {
		t.Errorf("after recovery: %q %v", v, err)
	}
	if err := s.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
}
