package httpapi

import (
	"context"
	"fmt"
	"image"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/pipeline"
	"github.com/sealocr/sealocr/core/internal/raster"
	"github.com/sealocr/sealocr/core/testkit/doctest"
)

// gateEngine holds each page's run until the test lets it go, so that a
// test sees which runs are under way at once. A run is named by its
// page's height: the pages a test sends have distinct heights.
type gateEngine struct {
	started chan int              // the height of each run as it starts
	release map[int]chan struct{} // closed to let the run of that height end
	fail    map[int]error         // the error a run of that height returns
	running atomic.Int32
}

func newGateEngine(heights ...int) *gateEngine {
	e := &gateEngine{started: make(chan int, 16), release: map[int]chan struct{}{}, fail: map[int]error{}}
	for _, h := range heights {
		e.release[h] = make(chan struct{})
	}
	return e
}

func (e *gateEngine) RunPage(ctx context.Context, page *raster.Image, _ pipeline.Options) (*pipeline.Result, error) {
	e.running.Add(1)
	defer e.running.Add(-1)
	e.started <- page.H
	select {
	case <-e.release[page.H]:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := e.fail[page.H]; err != nil {
		return nil, err
	}
	return &pipeline.Result{Lines: []api.Line{{Text: fmt.Sprintf("height %d", page.H), Confidence: 1,
		Box: [4]api.Point{{0, 0}, {10, 0}, {10, 10}, {0, 10}}}}}, nil
}

func (e *gateEngine) Models() []api.ModelInfo { return nil }

// nextSet is the heights of the next n runs to start, sorted (runs that
// start at once start in any order).
func (e *gateEngine) nextSet(t *testing.T, n int) []int {
	t.Helper()
	var hs []int
	for range n {
		hs = append(hs, e.next(t))
	}
	slices.Sort(hs)
	return hs
}

// next is the height of the next run to start, or a test failure after
// 10 s.
func (e *gateEngine) next(t *testing.T) int {
	t.Helper()
	select {
	case h := <-e.started:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no page run started within 10 s")
		return 0
	}
}

// tiffPages is a multi-page TIFF of blank pages of the given heights.
func tiffPages(t *testing.T, heights ...int) []byte {
	t.Helper()
	var imgs []image.Image
	for _, h := range heights {
		imgs = append(imgs, image.NewGray(image.Rect(0, 0, 64, h)))
	}
	return doctest.TIFF(t, imgs, 100)
}

type answer struct {
	res  *http.Response
	body []byte
}

func post(t *testing.T, a *API, ct string, body []byte) chan answer {
	ch := make(chan answer, 1)
	go func() {
		res, b := do(t, a, http.MethodPost, "/v1/ocr", ct, body)
		ch <- answer{res, b}
	}()
	return ch
}

// TestPagesOnIdleWorkers: with three workers and nothing else to do, the
// first three pages of a document are recognised at once; the answer
// lists the pages in order although they finish in reverse; afterwards
// every slot and byte is back.
func TestPagesOnIdleWorkers(t *testing.T) {
	e := newGateEngine(101, 102, 103, 104)
	a := New(e, Options{Workers: 3})
	done := post(t, a, "image/tiff", tiffPages(t, 101, 102, 103, 104))
	if hs := e.nextSet(t, 3); !slices.Equal(hs, []int{101, 102, 103}) {
		t.Fatalf("runs of pages %v started, want 101, 102, 103", hs)
	}
	if n := e.running.Load(); n != 3 {
		t.Fatalf("%d pages running at once, want 3", n)
	}
	for _, h := range []int{103, 102, 101} {
		close(e.release[h])
	}
	if h := e.next(t); h != 104 {
		t.Fatalf("run of page %d started, want 104", h)
	}
	close(e.release[104])
	x := <-done
	r := okResponse(t)(x.res, x.body)
	if len(r.Pages) != 4 {
		t.Fatalf("%d pages, want 4", len(r.Pages))
	}
	for i, p := range r.Pages {
		if want := fmt.Sprintf("height %d", 101+i); p.Page != i+1 || p.Text != want || p.Height != 101+i {
			t.Errorf("pages[%d] = page %d, %q, height %d; want page %d, %q", i, p.Page, p.Text, p.Height, i+1, want)
		}
	}
	if r.Text != "height 101\fheight 102\fheight 103\fheight 104" {
		t.Errorf("text %q", r.Text)
	}
	checkIdle(t, a)
}

// checkIdle fails unless every worker slot and every byte of the budget
// is back.
func checkIdle(t *testing.T, a *API) {
	t.Helper()
	if n := len(a.slots); n != 0 {
		t.Errorf("%d worker slots still held", n)
	}
	if u := memUsed(a); u != 0 {
		t.Errorf("%d bytes of the budget still held", u)
	}
}

// TestPagesOneWorker: with one worker a document's pages are read one
// after another, as before.
func TestPagesOneWorker(t *testing.T) {
	e := newGateEngine(101, 102, 103)
	a := New(e, Options{Workers: 1})
	done := post(t, a, "image/tiff", tiffPages(t, 101, 102, 103))
	for _, h := range []int{101, 102, 103} {
		if got := e.next(t); got != h {
			t.Fatalf("run of page %d started, want %d", got, h)
		}
		if n := e.running.Load(); n != 1 {
			t.Fatalf("%d pages running at once with one worker", n)
		}
		close(e.release[h])
	}
	if x := <-done; x.res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", x.res.StatusCode, x.body)
	}
	checkIdle(t, a)
}

// TestPagesYieldToWaitingRequest: a document's extra pages use idle
// workers only. With two workers, a 3-page document runs two pages at
// once; a request that arrives then waits for a worker and gets the one
// the document's first finished page gives back, before the document's
// third page starts.
func TestPagesYieldToWaitingRequest(t *testing.T) {
	e := newGateEngine(101, 102, 103, 50)
	a := New(e, Options{Workers: 2})
	doc := post(t, a, "image/tiff", tiffPages(t, 101, 102, 103))
	if hs := e.nextSet(t, 2); !slices.Equal(hs, []int{101, 102}) {
		t.Fatalf("runs %v started, want 101, 102", hs)
	}
	other := post(t, a, "image/png", pngBytes(t, 64, 50))
	deadline := time.Now().Add(10 * time.Second)
	for a.waiting.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the second request does not wait for a worker")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(e.release[101])
	if h := e.next(t); h != 50 {
		t.Fatalf("run of page %d started when the first page ended, want the waiting request's (50)", h)
	}
	close(e.release[50])
	if x := <-other; x.res.StatusCode != http.StatusOK {
		t.Fatalf("waiting request: status %d: %s", x.res.StatusCode, x.body)
	}
	close(e.release[102])
	if h := e.next(t); h != 103 {
		t.Fatalf("run of page %d started, want 103", h)
	}
	close(e.release[103])
	if x := <-doc; x.res.StatusCode != http.StatusOK {
		t.Fatalf("document: status %d: %s", x.res.StatusCode, x.body)
	}
	checkIdle(t, a)
}

// TestPagesFailureStopsTheOthers: when a page fails while later pages
// run, the request answers the failure, the other runs are stopped, and
// every slot and byte comes back.
func TestPagesFailureStopsTheOthers(t *testing.T) {
	e := newGateEngine(101, 102, 103)
	e.fail[101] = fmt.Errorf("engine fault")
	a := New(e, Options{Workers: 3})
	done := post(t, a, "image/tiff", tiffPages(t, 101, 102, 103))
	for range 3 {
		e.next(t)
	}
	close(e.release[101]) // 102 and 103 stay blocked until their context ends
	x := <-done
	if x.res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d: %s", x.res.StatusCode, x.body)
	}
	if n := e.running.Load(); n != 0 {
		t.Errorf("%d page runs still going after the answer", n)
	}
	checkIdle(t, a)
}

// TestPagesBudgetForOne: when the budget holds one page at a time, the
// pages are read one after another, even with idle workers.
func TestPagesBudgetForOne(t *testing.T) {
	const w, h = 1000, 1001
	e := newGateEngine(h, h+1, h+2)
	onePage := pipeline.PageBytes(w, h+2, pipeline.Options{})
	var imgs []image.Image
	for i := range 3 {
		imgs = append(imgs, image.NewGray(image.Rect(0, 0, w, h+i)))
	}
	body := doctest.TIFF(t, imgs, 100)
	// The body and one page as it is decoded (its raster and the decoder's
	// copy), but not a second page beside a first.
	a := New(e, Options{Workers: 3, MemoryBudget: int64(len(body)) + 2*onePage})
	done := post(t, a, "image/tiff", body)
	for i := range 3 {
		if got := e.next(t); got != h+i {
			t.Fatalf("run of page %d started, want %d", got, h+i)
		}
		if n := e.running.Load(); n != 1 {
			t.Fatalf("%d pages running at once on a budget for one", n)
		}
		close(e.release[h+i])
	}
	if x := <-done; x.res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", x.res.StatusCode, x.body)
	}
	checkIdle(t, a)
}
