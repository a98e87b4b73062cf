package httpapi

import (
	"errors"
	"runtime"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sealocr/sealocr/core/api"
)

// budget is the core's memory budget: the bytes that request bodies,
// decoded images and the pipeline's copies of them may hold at once. A
// request takes what it will need before it allocates it (charge.take) and
// gives everything back when it ends (charge.done); what does not fit now
// is refused with busy rather than waited for, so that nothing queues
// behind memory another request holds.
type budget struct {
	total int64
	mu    sync.Mutex
	used  int64
	gauge prometheus.Gauge
}

func newBudget(total int64, g prometheus.Gauge) *budget {
	return &budget{total: total, gauge: g}
}

// charge is one request's share of the budget.
type charge struct {
	b    *budget
	held int64
}

// errBudget is the detail logged when the budget cannot give what a
// request needs now.
var errBudget = errors.New("memory budget exhausted")

// take adds n bytes to the charge, or fails with busy when the budget has
// less than n left, and with too_many_pixels when n alone exceeds the whole
// budget (the request can never be served).
func (c *charge) take(n int64) error {
	if n <= 0 {
		return nil
	}
	b := c.b
	if c.held+n > b.total {
		return fail(api.CodeTooManyPixels, "exceeds the memory budget")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.total {
		return &requestError{code: api.CodeBusy, reason: "memory budget exhausted", err: errBudget}
	}
	b.used += n
	c.held += n
	b.gauge.Set(float64(b.used))
	return nil
}

// shrink gives back what the charge holds beyond n bytes.
func (c *charge) shrink(n int64) {
	if n < 0 || n >= c.held {
		return
	}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.b.used -= c.held - n
	c.held = n
	c.b.gauge.Set(float64(c.b.used))
}

// collectAbove is the charge beyond which done runs the collector before
// it gives the memory back.
const collectAbove = 32 << 20

// done gives everything back. A large charge is collected first: the
// request's images are garbage now, and the next request that takes the
// bytes must find them free, not stacked on top of garbage the collector
// has not reached yet (pixel buffers hold no pointers, so the collection
// is quick).
func (c *charge) done() {
	if c.held >= collectAbove {
		runtime.GC()
	}
	c.shrink(0)
}
