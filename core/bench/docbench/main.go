// Command docbench compares the core with ocrmypdf on multi-page scanned
// PDFs, on the same machine in the same run: it prints pages per minute
// and the CER of the text that pdftotext finds in each tool's searchable
// PDF, against the labels of the generated pages.
//
// The documents are generated (core/internal/synth, the same seed gives the
// same pages): each has -pages pages, mostly mixed Chinese/English receipts
// and invoices, every fourth an English invoice; the second page of each
// document is upside down and the third turned by 90° clockwise. A page is
// a 1000×1400 grey scan at 120 dpi (an A4-sized page), stored in the input
// PDF as a scanner would (image only, written by core/internal/render).
//
// Tools, each on its own with -threads CPU threads:
//
//	ocrmypdf -l chi_sim+eng --rotate-pages --force-ocr --jobs T in.pdf out.pdf   (OMP_THREAD_LIMIT=1: one thread per job)
//	POST /v1/ocr?output=pdf, Content-Type application/pdf, to the core         (--workers T --threads 1)
//
// Both read T pages at once with one thread each: ocrmypdf one page per
// job, the core one page per idle worker. -core-shape threads runs the
// core as one worker with T ONNX Runtime threads per page instead.
//
// The core is built from this checkout and started on a loopback port
// (or -core names a running one). Each tool reads the documents one after
// the other, the two alternating per document, and is timed from the
// request to the whole answer (ocrmypdf: process start to exit). Text: the
// output PDF through `pdftotext -layout`, page by page, white space
// collapsed, against the page's rows top to bottom; CER with spaces kept
// and with spaces removed (ocreval's normalisation and distance).
//
//	go run ./core/bench/docbench -documents 5 -pages 4
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // synth pages are PNG or JPEG
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/ocreval"
	"github.com/sealocr/sealocr/core/internal/render"
	"github.com/sealocr/sealocr/core/internal/synth"
	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/core/testkit/doctest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "docbench:", err)
		os.Exit(1)
	}
}

// scanDPI is the resolution of the generated pages (synth.DocWidth pixels
// over 8.33 inches).
const scanDPI = 120

// doc is one generated multi-page document.
type doc struct {
	name   string
	pdf    []byte
	pages  []string      // each page's rows top to bottom, joined by a space
	images []image.Image // the pages as scanned (for -core-input images)
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("docbench", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "random seed of the generated pages")
	nDocs := fs.Int("documents", 5, "documents")
	nPages := fs.Int("pages", 4, "pages per document (the 2nd upside down, the 3rd turned by 90°)")
	threads := fs.Int("threads", runtime.NumCPU(), "CPU threads for each tool: ocrmypdf --jobs, the core's --workers (or --threads, -core-shape)")
	shape := fs.String("core-shape", "pages", "how the started core uses its threads: pages (--workers T --threads 1: T pages at once) "+
		"or threads (--threads T --workers 1: one page at a time on T threads)")
	coreURL := fs.String("core", "", "URL of a running core (default: build ./core/cmd/core and start it on a loopback port)")
	coreArgs := fs.String("core-args", "", "extra flags for the started core, space-separated (e.g. --models DIR --ort-lib FILE)")
	ocrmypdf := fs.String("ocrmypdf", "ocrmypdf", "ocrmypdf binary; \"\" to leave it out")
	ocrmypdfArgs := fs.String("ocrmypdf-args", "", "extra ocrmypdf flags, space-separated (e.g. --rotate-pages-threshold 5)")
	withCore := fs.Bool("sealocr", true, "measure the core (false: ocrmypdf alone)")
	keep := fs.String("keep", "", "write the input and output PDFs to this folder and keep them (default: a temporary folder, removed)")
	coreInput := fs.String("core-input", "pdf", "how the core is sent a document: pdf (POST the PDF, ?output=pdf), or images (a preview "+
		"until the core reads PDFs: POST each page as PNG, JSON answer, the searchable PDF written here with core/internal/render; labelled as such)")
	verbose := fs.Bool("v", false, "print each page's text where it differs from the labels")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *shape != "pages" && *shape != "threads" {
		return errors.New("-core-shape is pages or threads")
	}
	if *coreInput != "pdf" && *coreInput != "images" {
		return errors.New("-core-input is pdf or images")
	}
	if *nDocs < 1 || *nPages < 1 || *threads < 1 {
		return errors.New("need at least one document, one page and one thread")
	}
	dir := *keep
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "docbench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	docs, err := generate(*seed, *nDocs, *nPages)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if err := os.WriteFile(filepath.Join(dir, d.name+".pdf"), d.pdf, 0o644); err != nil {
			return err
		}
	}

	ctx := context.Background()
	load0 := testkit.LoadAverage()
	var core *coreProc
	var tools []tool
	if *withCore && *coreURL == "" {
		if core, err = startCore(ctx, dir, *threads, *shape, strings.Fields(*coreArgs)); err != nil {
			return err
		}
		defer core.stop()
		*coreURL = core.url
	}

	if *withCore {
		ct := &coreTool{url: strings.TrimRight(*coreURL, "/"), proc: core, images: *coreInput == "images"}
		if core != nil {
			ct.shape = core.shape
		}
		// A running server, warmed up once before timing: its first PDF
		// compiles the PDFium module (10-20 s of CPU, once per process),
		// which no later document pays. ocrmypdf starts afresh per file.
		if len(docs) > 0 {
			warm := filepath.Join(dir, "warm-up.pdf")
			if err := os.WriteFile(warm, docs[0].pdf, 0o600); err != nil {
				return err
			}
			if _, err := ct.run(ctx, docs[0], warm, filepath.Join(dir, "warm-up.out.pdf")); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
		tools = append(tools, ct)
	}
	if *ocrmypdf != "" {
		tools = append(tools, &ocrmypdfTool{bin: *ocrmypdf, jobs: *threads, extra: strings.Fields(*ocrmypdfArgs)})
	}
	if len(tools) == 0 {
		return errors.New("nothing to measure")
	}
	res := make([]result, len(tools))
	for i, d := range docs {
		for k := range tools {
			j := (i + k) % len(tools) // alternate which tool goes first
			t := tools[j]
			if res[j].err != nil {
				continue
			}
			in := filepath.Join(dir, d.name+".pdf")
			out := filepath.Join(dir, d.name+"."+t.name()+".pdf")
			start := time.Now()
			cpu, err := t.run(ctx, d, in, out)
			if err != nil {
				res[j].err = fmt.Errorf("%s: %w", d.name, err)
				continue
			}
			res[j].wall += time.Since(start)
			res[j].cpu += cpu
			res[j].pages += len(d.pages)
			if err := res[j].score(stdout, *verbose, t.name(), d, out); err != nil {
				res[j].err = fmt.Errorf("%s: %w", d.name, err)
			}
		}
	}
	load1 := testkit.LoadAverage()

	w := bufio.NewWriter(stdout)
	fmt.Fprintf(w, "docbench: %d documents × %d pages (1000x1400 grey scans at %d dpi; mixed Chinese/English receipts, every 4th page an English invoice; page 2 upside down, page 3 turned 90°), seed %d\n",
		*nDocs, *nPages, scanDPI, *seed)
	fmt.Fprintf(w, "%d CPUs; each tool on its own with %d CPU threads; load average (1/5/15 min) before: %s, after: %s\n\n", runtime.NumCPU(), *threads, load0, load1)
	fmt.Fprintf(w, "%-60s %10s %12s %10s %12s %22s\n", "tool", "pages/min", "CPU s/page", "CER kept", "CER removed", "CER removed, upright")
	for i, t := range tools {
		r := res[i]
		if r.err != nil {
			fmt.Fprintf(w, "%-60s not measured: %v\n", t.label(), r.err)
			continue
		}
		fmt.Fprintf(w, "%-60s %10.1f %12.2f %9.2f%% %11.2f%% %21.2f%%\n", t.label(), float64(r.pages)/r.wall.Minutes(), r.cpu.Seconds()/float64(r.pages),
			100*r.t.CERKept(), 100*r.t.CERRemoved(), 100*r.up.CERRemoved())
	}
	if len(tools) > 1 && res[0].err == nil && res[1].err == nil {
		fmt.Fprintf(w, "%-60s %9.2fx\n", "pages/min, core over ocrmypdf", res[1].wall.Seconds()/res[0].wall.Seconds()*float64(res[0].pages)/float64(res[1].pages))
	}
	return w.Flush()
}

// generate prints the documents' pages and stores each document as an
// image-only PDF.
func generate(seed uint64, nDocs, nPages int) ([]doc, error) {
	f, err := synth.LoadFonts("")
	if err != nil {
		return nil, err
	}
	total := nDocs * nPages
	en := total / 4
	set := synth.Generate(f, synth.Spec{Seed: seed, Documents: total - en, EnglishDocuments: en})
	mixed, english := set.Documents, set.EnglishDocuments
	var docs []doc
	for i := range nDocs {
		d := doc{name: fmt.Sprintf("doc-%02d", i)}
		var b bytes.Buffer
		pw := render.NewPDF(&b, render.PDFOptions{})
		for k := range nPages {
			var s synth.Document
			if (i*nPages+k)%4 == 3 {
				s, english = english[0], english[1:]
			} else {
				s, mixed = mixed[0], mixed[1:]
			}
			img, _, err := image.Decode(bytes.NewReader(s.Data))
			if err != nil {
				return nil, err
			}
			switch k {
			case 1:
				img = doctest.TurnGray(img, 2)
			case 2:
				img = doctest.TurnGray(img, 1)
			}
			bd := img.Bounds()
			if err := pw.AddPage(render.Page{Page: api.Page{Page: k + 1, Width: bd.Dx(), Height: bd.Dy()}, Image: img, DPI: scanDPI}); err != nil {
				return nil, err
			}
			rows := make([]string, len(s.Rows))
			for r, row := range s.Rows {
				rows[r] = row.Text()
			}
			d.pages = append(d.pages, strings.Join(rows, " "))
			d.images = append(d.images, img)
		}
		if err := pw.Close(); err != nil {
			return nil, err
		}
		d.pdf = b.Bytes()
		docs = append(docs, d)
	}
	return docs, nil
}

// result is one tool's totals.
type result struct {
	pages int
	wall  time.Duration
	cpu   time.Duration
	t     ocreval.Tally // one "line" per page
	up    ocreval.Tally // the pages sent upright only
	err   error
}

// score reads out.pdf's text page by page (pdftotext -layout) and adds
// each page to the tally against its labels.
func (r *result) score(w io.Writer, verbose bool, who string, d doc, out string) error {
	var o, e bytes.Buffer
	cmd := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", out, "-")
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pdftotext: %w: %s", err, strings.TrimSpace(e.String()))
	}
	got := strings.Split(strings.TrimSuffix(o.String(), "\f"), "\f")
	if len(got) != len(d.pages) {
		return fmt.Errorf("%s: %d pages in the output, want %d", who, len(got), len(d.pages))
	}
	for i, want := range d.pages {
		if i != 1 && i != 2 {
			r.up.Add(got[i], want)
		}
		if !r.t.Add(got[i], want) && verbose {
			fmt.Fprintf(w, "%s %s page %d:\n  got  %q\n  want %q\n", who, d.name, i+1, ocreval.Kept(got[i]), ocreval.Kept(want))
		}
	}
	return nil
}

// tool is one way to make a searchable PDF from a scanned one.
type tool interface {
	name() string  // for file names
	label() string // for the table
	// run reads in and writes out; it returns the CPU time it cost (user
	// and system, all threads and child processes).
	run(ctx context.Context, d doc, in, out string) (time.Duration, error)
}

type ocrmypdfTool struct {
	bin   string
	jobs  int
	extra []string
}

func (o *ocrmypdfTool) name() string { return "ocrmypdf" }

func (o *ocrmypdfTool) label() string {
	v, err := exec.Command(o.bin, "--version").Output()
	if err != nil {
		return "ocrmypdf"
	}
	tv, _ := exec.Command("tesseract", "--version").Output()
	first, _, _ := strings.Cut(string(tv), "\n")
	return strings.TrimSpace(fmt.Sprintf("ocrmypdf %s (%s, chi_sim+eng) %s", strings.TrimSpace(string(v)), strings.TrimSpace(first), strings.Join(o.extra, " ")))
}

func (o *ocrmypdfTool) run(ctx context.Context, _ doc, in, out string) (time.Duration, error) {
	var e bytes.Buffer
	args := append([]string{"-l", "chi_sim+eng", "--rotate-pages", "--force-ocr", "--jobs", strconv.Itoa(o.jobs), "--quiet"}, o.extra...)
	cmd := exec.CommandContext(ctx, o.bin, append(args, in, out)...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	cmd.Stderr = &e
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("ocrmypdf: %w: %s", err, lastLine(e.String()))
	}
	ps := cmd.ProcessState
	return ps.UserTime() + ps.SystemTime(), nil
}

type coreTool struct {
	url    string
	proc   *coreProc // nil for a core started elsewhere (then no CPU time)
	images bool      // -core-input images
	shape  string    // how a started core uses its threads, for the label
}

func (c *coreTool) name() string { return "sealocr" }

func (c *coreTool) label() string {
	if c.images {
		return "sealocr core, PNG pages + render here (preview)"
	}
	if c.shape != "" {
		return "sealocr core, PDF in, ?output=pdf (" + c.shape + ")"
	}
	return "sealocr core, PDF in, ?output=pdf"
}

// errCore is a core's error answer: status and fixed code, never a body.
type errCore struct {
	status int
	code   string
}

func (e errCore) Error() string {
	return fmt.Sprintf("the core answered %d %s to POST /v1/ocr?output=pdf with a PDF (does this core read PDFs and write them?)", e.status, e.code)
}

func (c *coreTool) run(ctx context.Context, d doc, in, out string) (time.Duration, error) {
	if c.images {
		return c.runImages(ctx, d, out)
	}
	body, err := os.ReadFile(in)
	if err != nil {
		return 0, err
	}
	cpu0 := c.proc.cpuTime()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/v1/ocr?output=pdf", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/pdf")
	req.Header.Set("Accept", "application/pdf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/pdf") {
		e := errCore{status: resp.StatusCode, code: "(no error code)"}
		var eb struct {
			Error api.Error `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			e.code = eb.Error.Code
		} else if resp.StatusCode == http.StatusOK {
			e.code = "with Content-Type " + resp.Header.Get("Content-Type")
		}
		return 0, e
	}
	cpu := c.proc.cpuTime() - cpu0
	return cpu, os.WriteFile(out, data, 0o644)
}

// runImages is the preview path: each page POSTed as PNG (the JSON
// answer: lines, angle), and the searchable PDF written here by
// core/internal/render, as the core will write it; timed from the first
// PNG encoding to the written PDF.
func (c *coreTool) runImages(ctx context.Context, d doc, out string) (time.Duration, error) {
	cpu0 := c.proc.cpuTime()
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	pw := render.NewPDF(f, render.PDFOptions{})
	for i, img := range d.images {
		var body bytes.Buffer
		if err := png.Encode(&body, img); err != nil {
			return 0, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/v1/ocr", &body)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "image/png")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		var r api.Response
		if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &r) != nil {
			return 0, fmt.Errorf("the core answered %d to a PNG page", resp.StatusCode)
		}
		pg := render.Page{Page: api.Page{Page: i + 1, Width: r.Width, Height: r.Height, Angle: r.Angle, Text: r.Text, Lines: r.Lines}, Image: img, DPI: scanDPI}
		if err := pw.AddPage(pg); err != nil {
			return 0, err
		}
	}
	if err := pw.Close(); err != nil {
		return 0, err
	}
	return c.proc.cpuTime() - cpu0, f.Close()
}

// coreProc is a core binary started by the bench.
type coreProc struct {
	cmd   *exec.Cmd
	url   string
	shape string // its workers and threads, e.g. "2 workers x 1 thread"
}

// startCore builds the core into dir and starts it on a loopback port with
// threads CPU threads in the given shape (pages: as many workers, one
// intra-op thread each; threads: one worker with as many intra-op
// threads), and waits until it is ready.
func startCore(ctx context.Context, dir string, threads int, shape string, extra []string) (*coreProc, error) {
	bin := filepath.Join(dir, "core")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./core/cmd/core")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./core/cmd/core (run from the repository root): %w\n%s", err, out)
	}
	workers, intra := threads, 1
	if shape == "threads" {
		workers, intra = 1, threads
	}
	args := append([]string{"--listen", "127.0.0.1:0", "--metrics-listen", "", "--threads", strconv.Itoa(intra),
		"--workers", strconv.Itoa(workers), "--timeout", "10m", "--max-body-bytes", strconv.Itoa(200 << 20)}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = io.Discard // the core's log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &coreProc{cmd: cmd, shape: fmt.Sprintf("%d workers x %d threads", workers, intra)}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
			p.url = strings.TrimSpace(u)
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if p.url == "" {
		p.stop()
		return nil, errors.New("the core exited before listening (are the models fetched? `make models`)")
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("the core did not become ready in 3 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *coreProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// cpuTime is the process's user and system time (all threads), from
// /proc/PID/stat; 0 for a core started elsewhere.
func (p *coreProc) cpuTime() time.Duration {
	if p == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (in parentheses): utime and stime
	// are the 14th and 15th fields of the line.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
