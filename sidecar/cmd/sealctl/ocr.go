package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/client"
)

// docType maps the extensions of the files taken from a folder (images,
// multi-page TIFF, PDF) to media types.
func docType(path string) (string, bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pdf":
		return "application/pdf", true
	case ".png":
		return "image/png", true
	case ".jpg", ".jpeg":
		return "image/jpeg", true
	case ".bmp":
		return "image/bmp", true
	case ".tif", ".tiff":
		return "image/tiff", true
	case ".webp":
		return "image/webp", true
	case ".gif":
		return "image/gif", true
	}
	return "", false
}

// docExtensions names the extensions docType takes, for messages.
const docExtensions = "pdf, png, jpg, jpeg, bmp, tif, tiff, webp, gif"

// ocrFlags are the options of the ocr command.
type ocrFlags struct {
	server, ca, keys, mode, keyID, docMode, format, pin, kem, tokenFile string
	output, outPath                                                     string
	json, recursive                                                     bool
	concurrency, maxRetries                                             int
	timeout                                                             time.Duration
}

// job is one file to recognise; err is set when it failed before sending.
// A job on standard input reads it from stdin.
type job struct {
	path  string
	err   error
	stdin *stdinSource
}

// stdinSource is standard input, read once: a file that goes round again
// reuses the bytes.
type stdinSource struct {
	r    io.Reader
	once sync.Once
	data []byte
	err  error
}

func (s *stdinSource) read() ([]byte, error) {
	s.once.Do(func() { s.data, s.err = io.ReadAll(s.r) })
	return s.data, s.err
}

// result is the outcome of one job.
type result struct {
	raw []byte
	err error
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// checkOutPath checks -o for file output: one input writes the file (or
// standard output, "-"; hOCR without -o too), several inputs write into a
// folder that exists.
func checkOutPath(format, path string, several bool) error {
	if !several {
		return nil
	}
	if path == "" || path == stdinPath {
		return fmt.Errorf("--output %s with several files needs -o FOLDER", format)
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("--output %s with several files: -o %s must be an existing folder", format, path)
	}
	return nil
}

const ocrUsage = `Usage: sealctl ocr [flags] FILE|DIR|-...

Sends each image or document (PDF, multi-page TIFF) to the sidecar sealed
with a pre-shared key (--mode psk) or Oblivious HTTP (--mode ohttp) and
prints the recognised text. "-" reads one file from standard input. A DIR
stands for its files by name (` + docExtensions + `), and with
--recursive for those of its subfolders too; every other file is skipped
with a line on stderr.
Output formats (--output, or --format for the first three):
  text  the text, pages separated by a form feed (\f); with several files,
        a "==> FILE <==" header before each
  json  one line per file, whatever their number (JSON Lines):
        {"file": FILE, "response": JSON}   the core's JSON as returned
        {"file": FILE, "error": MESSAGE}   a file that failed
  tsv   FILE, line index (from 0, counted across pages), confidence,
        text; tab-separated, with tab, newline and backslash escaped as
        \t, \n and \\
  pdf   a searchable PDF (each page's image with an invisible text layer),
        written to -o FILE ("-" for standard output); with several
        inputs -o names a folder, and each file is written there as its
        base name with .pdf
  hocr  hOCR (HTML) as Tesseract writes it; to -o as for pdf, or to
        standard output for one input without -o
Failures go to stderr, with what to check; the exit status is 1 if any
file failed. A server that cannot be reached fails at once (no retry).

A busy or rate-limited answer (503 busy, 429) is not a failure: the file is
sent again, sealed afresh, after the server's Retry-After or a random
exponential backoff, up to --max-retries times and within --timeout; so
is a request that got no answer (OCR is idempotent, so a resend is safe).
A file whose retries ran out, or that timed out (the core's 503 timeout,
usually time spent in its queue, or --timeout), starts again (with a fresh
--timeout) up to 3 more times once other files got through: the server is
busy, not broken. A timeout also halves the concurrency.
Meanwhile the files in flight adapt: at most --concurrency, halved on busy
answers and grown back one at a time as files succeed. The progress line
(on a terminal) shows the retries and the current concurrency; a summary
line on stderr reports them when there were any.

Flags:
`

func runOCR(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sealctl ocr", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f ocrFlags
	fs.StringVar(&f.server, "server", env.server(client.DefaultServer), "sidecar base URL (env SEALOCR_SERVER)")
	fs.StringVar(&f.ca, "ca", "", "CA file to trust (default <state_dir>/ca.pem if it exists, else the system roots)")
	fs.StringVar(&f.keys, "keys", env.statePath("keys.yaml"), "key file with the pre-shared key (psk mode)")
	fs.StringVar(&f.mode, "mode", string(client.ModePSK), "envelope: psk or ohttp")
	fs.StringVar(&f.keyID, "key-id", "", "pre-shared key ID (default: the first in the key file)")
	fs.StringVar(&f.docMode, "doc-mode", "", "OCR mode: document or line (default: the core's, document)")
	fs.StringVar(&f.format, "format", "text", "output: text, json or tsv")
	fs.StringVar(&f.output, "output", "", "output: text, json, tsv, pdf or hocr (default: --format's)")
	fs.StringVar(&f.outPath, "o", "", "file (one input) or folder (several) to write pdf or hocr output to; - for standard output")
	fs.BoolVar(&f.json, "json", false, "same as --format json")
	fs.BoolVar(&f.recursive, "recursive", false, "take the images of a DIR's subfolders too")
	fs.BoolVar(&f.recursive, "r", false, "same as --recursive")
	fs.IntVar(&f.concurrency, "concurrency", 4, "files in flight at once, at most (fewer while the server is busy)")
	fs.IntVar(&f.maxRetries, "max-retries", defaultMaxRetries, "retries per file after a busy or rate-limited answer or no answer (0: none)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding a bearer credential (JWT or API key) for a sidecar that requires authentication (or env SEALOCR_TOKEN)")
	fs.StringVar(&f.pin, "pin", "", "SHA-256 fingerprint of the only gateway key to use (ohttp mode; see sealctl keys)")
	fs.StringVar(&f.kem, "kem", "", "gateway key KEM in ohttp mode: X25519 or MLKEM768-X25519 (default: X25519 if offered)")
	fs.DurationVar(&f.timeout, "timeout", client.DefaultTimeout, "time limit per file")
	fs.Usage = func() {
		fmt.Fprint(stderr, ocrUsage)
		fs.PrintDefaults()
	}
	inputs, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if f.json {
		f.format = "json"
	}
	var problems []string
	switch f.format {
	case "text", "json", "tsv":
	default:
		problems = append(problems, fmt.Sprintf("unknown --format %q", f.format))
	}
	switch {
	case f.output == "" || f.output == f.format:
	case f.output == "text" || f.output == "json" || f.output == "tsv":
		if flagSet(fs, "format") || f.json {
			problems = append(problems, fmt.Sprintf("--output %s and --format %s disagree", f.output, f.format))
		}
		f.format = f.output
	case f.output == client.OutputPDF || f.output == client.OutputHOCR:
		f.format = f.output
	default:
		problems = append(problems, fmt.Sprintf("unknown --output %q (text, json, tsv, pdf or hocr)", f.output))
	}
	fileOut := f.format == client.OutputPDF || f.format == client.OutputHOCR
	switch {
	case f.outPath != "" && !fileOut:
		problems = append(problems, "-o is for --output pdf or hocr")
	case f.format == client.OutputPDF && f.outPath == "":
		problems = append(problems, "--output pdf needs -o FILE (or -o - for standard output)")
	}
	switch f.docMode {
	case "", client.DocumentMode, client.LineMode:
	default:
		problems = append(problems, fmt.Sprintf("unknown --doc-mode %q", f.docMode))
	}
	if f.concurrency < 1 {
		problems = append(problems, "--concurrency must be at least 1")
	}
	if f.maxRetries < 0 {
		problems = append(problems, "--max-retries must not be negative")
	}
	if len(inputs) == 0 {
		problems = append(problems, "no IMAGE, DIR or - given")
	}
	if n := slices.Index(inputs, "-"); n >= 0 && slices.Index(inputs[n+1:], "-") >= 0 {
		problems = append(problems, `"-" (standard input) given twice`)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "sealctl ocr:", p)
		}
		fs.Usage()
		return exitCode(2)
	}

	cfg := client.Config{
		Server:               f.server,
		CAFile:               caFile(fs, f.ca, env),
		Mode:                 client.Mode(f.mode),
		PinnedKeyFingerprint: f.pin,
		OHTTPKEM:             f.kem,
		Timeout:              f.timeout,
		MaxRetries:           f.maxRetries,
	}
	if f.maxRetries == 0 {
		cfg.MaxRetries = -1 // the client's zero means its default
	}
	// The credential comes from a file or the environment, never from the
	// command line, where other users could read it.
	cfg.Credential = env.getenv("SEALOCR_TOKEN")
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return fmt.Errorf("token file: %w", err)
		}
		cfg.Credential = strings.TrimSpace(string(b))
	}
	if cfg.Mode == client.ModePSK {
		if f.keys == "" {
			return errors.New("no --keys given and no state folder (set HOME or SEALOCR_STATE_DIR)")
		}
		ks, err := client.LoadKeys(f.keys)
		if err != nil {
			return err
		}
		if cfg.PSKKey, err = ks.PSK(f.keyID); err != nil {
			return err
		}
	}
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()

	jobs, anyDir := expand(inputs, f.recursive, env.stdin, func(path, why string) {
		fmt.Fprintf(stderr, "sealctl: skipping %s: %s\n", path, why)
	})
	several := len(jobs) > 1 || anyDir
	if fileOut {
		if err := checkOutPath(f.format, f.outPath, several); err != nil {
			fmt.Fprintln(stderr, "sealctl ocr:", err)
			return exitCode(2)
		}
	}
	lim := newLimiter(f.concurrency)
	lim.goRound = f.maxRetries > 0
	h := hints{server: f.server, mode: cfg.Mode, keysFile: f.keys, credential: cfg.Credential != ""}
	if cfg.PSKKey != nil {
		h.keyID = cfg.PSKKey.ID()
	}
	p := &printer{
		out: stdout, errOut: stderr, format: f.format, outPath: f.outPath,
		several:  several,
		progress: len(jobs) > 1 && isTerminal(stderr),
		total:    len(jobs),
		lim:      lim,
		hints:    h,
	}
	opts := client.OCROptions{Mode: f.docMode}
	if fileOut {
		opts.Output = f.format
	}
	results := process(ctx, c, jobs, lim, opts)
	failed := 0
	for i, j := range jobs {
		<-results[i].done
		if !p.print(j.path, results[i].result) {
			failed++
		}
	}
	p.finish()
	if retries, current, lowest := lim.stats(); retries > 0 {
		fmt.Fprintf(stderr, "sealctl: %d retries after busy, rate-limited or unanswered requests; concurrency went down to %d of %d and ended at %d",
			retries, lowest, f.concurrency, current)
		if n := lim.rounds(); n > 0 {
			fmt.Fprintf(stderr, "; %d times a file went round again after its retries or time ran out", n)
		}
		fmt.Fprintln(stderr)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(jobs))
	}
	return nil
}

// stdinPath is the input that stands for standard input.
const stdinPath = "-"

// expand turns the inputs into jobs in order: a file as it is, "-" for
// standard input, a folder into its image files by name (and, recursive,
// those of its subfolders, depth first by name). Every entry of a folder
// that is not taken is reported to skip with the reason. It reports
// whether any input was a folder.
func expand(inputs []string, recursive bool, stdin io.Reader, skip func(path, why string)) ([]job, bool) {
	var jobs []job
	anyDir := false
	for _, in := range inputs {
		if in == stdinPath {
			jobs = append(jobs, job{path: in, stdin: &stdinSource{r: stdin}})
			continue
		}
		fi, err := os.Stat(in)
		if err != nil {
			jobs = append(jobs, job{path: in, err: err})
			continue
		}
		if !fi.IsDir() {
			jobs = append(jobs, job{path: in})
			continue
		}
		anyDir = true
		before := len(jobs)
		var walk func(dir string)
		walk = func(dir string) {
			entries, err := os.ReadDir(dir)
			if err != nil {
				jobs = append(jobs, job{path: dir, err: err})
				return
			}
			for _, e := range entries {
				p := filepath.Join(dir, e.Name())
				switch {
				case e.IsDir() && recursive:
					walk(p)
				case e.IsDir():
					skip(p, "a folder (--recursive takes subfolders too)")
				case !e.Type().IsRegular():
					skip(p, "not a regular file")
				default:
					if _, ok := docType(e.Name()); ok {
						jobs = append(jobs, job{path: p})
					} else {
						skip(p, "not an image or PDF file by its name ("+docExtensions+")")
					}
				}
			}
		}
		walk(in)
		if len(jobs) == before {
			jobs = append(jobs, job{path: in, err: errors.New("no image or PDF files in folder")})
		}
	}
	return jobs, anyDir
}

// pending is a result that is ready when done is closed.
type pending struct {
	done   chan struct{}
	result result
}

// defaultMaxRetries is --max-retries' default: more patient than the
// client's, since a batch has no one waiting on each file.
const defaultMaxRetries = 10

// maxRounds is how many times a file may start again after its retries
// ran out on busy answers (or the core timed out), provided some file of
// the run succeeded.
const maxRounds = 3

// process runs the jobs, as many at once as lim allows, and returns one
// pending result per job, in job order.
func process(ctx context.Context, c *client.Client, jobs []job, lim *limiter, opts client.OCROptions) []*pending {
	out := make([]*pending, len(jobs))
	for i := range out {
		out[i] = &pending{done: make(chan struct{})}
	}
	go func() {
		for i, j := range jobs {
			if j.err != nil {
				out[i].result = result{err: j.err}
				close(out[i].done)
				continue
			}
			if err := lim.acquire(ctx); err != nil {
				for ; i < len(jobs); i++ {
					out[i].result = result{err: cmp.Or(jobs[i].err, err)}
					close(out[i].done)
				}
				return
			}
			go func() {
				var r result
				for round := 0; ; round++ {
					// A file that ran out of retries on busy answers goes
					// round again, a few times, once the server has
					// answered other files: it is merely busy, not broken.
					o := opts
					o.OnRetry = lim.observe()
					sent := lim.now()
					r = ocrFile(ctx, c, j, o)
					timedOut := isCoreTimeout(r.err)
					if timedOut {
						// The core ran out of time, most often because the
						// request waited in its queue: slow down too.
						lim.congested(sent)
					}
					if r.err == nil || !(client.IsBusy(r.err) || timedOut) || ctx.Err() != nil || !lim.goRound ||
						round >= maxRounds || lim.successes() == 0 {
						break
					}
					lim.wentRound()
					// Queue up again behind the (by now smaller) window,
					// so that files that keep retrying do not keep the
					// server's queue full.
					lim.release(false)
					if err := lim.acquire(ctx); err != nil {
						r = result{err: err}
						out[i].result = r
						close(out[i].done)
						return
					}
				}
				lim.release(r.err == nil)
				out[i].result = r
				close(out[i].done)
			}()
		}
	}()
	return out
}

// isCoreTimeout reports the core's sealed 503 "timeout" (the request took
// longer than the core's deadline, queueing included) or the file's own
// --timeout running out while the run goes on.
func isCoreTimeout(err error) bool {
	var se *client.ServerError
	return errors.As(err, &se) && se.Sealed && se.Status == 503 && se.Code == "timeout" ||
		errors.Is(err, context.DeadlineExceeded)
}

// ocrFile reads and sends one file.
func ocrFile(ctx context.Context, c *client.Client, j job, opts client.OCROptions) result {
	if j.err != nil {
		return result{err: j.err}
	}
	if err := ctx.Err(); err != nil {
		return result{err: err}
	}
	var img []byte
	var err error
	if j.stdin != nil {
		img, err = j.stdin.read()
	} else {
		img, err = os.ReadFile(j.path)
		opts.ContentType, _ = docType(j.path)
	}
	if err != nil {
		return result{err: err}
	}
	a, err := c.OCRAnswer(ctx, img, opts)
	if err != nil {
		return result{err: err}
	}
	if want := answerType(opts.Output); mediaType(a.ContentType) != want {
		return result{err: fmt.Errorf("%w: answer of type %q, want %s", client.ErrUnexpectedResponse, mediaType(a.ContentType), want)}
	}
	return result{raw: a.Body}
}

// answerType is the media type of the answer in an output format.
func answerType(output string) string {
	switch output {
	case client.OutputPDF:
		return "application/pdf"
	case client.OutputHOCR:
		return "text/html"
	}
	return "application/json"
}

// mediaType is a Content-Type without parameters, lower case.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// printer writes results in order, failures to errOut, and a progress
// line on a terminal.
type printer struct {
	out, errOut io.Writer
	format      string
	outPath     string            // -o, for pdf and hocr
	written     map[string]string // file written into -o's folder → its input
	several     bool
	progress    bool
	total, n    int
	lim         *limiter
	hints       hints
}

// print writes one result and reports whether it succeeded.
func (p *printer) print(path string, r result) bool {
	p.n++
	p.clearProgress()
	ok := r.err == nil
	if ok {
		if err := p.write(path, r.raw); err != nil {
			r.err, ok = err, false
		}
	}
	if !ok {
		msg := p.hints.explain(r.err)
		fmt.Fprintf(p.errOut, "sealctl: %s: %s\n", path, msg)
		if p.format == "json" {
			line, _ := json.Marshal(struct {
				File  string `json:"file"`
				Error string `json:"error"`
			}{path, msg})
			fmt.Fprintf(p.out, "%s\n", line)
		}
	}
	if p.progress && p.n < p.total {
		retries, current, _ := p.lim.stats()
		fmt.Fprintf(p.errOut, "[%d/%d] %s · %d retries · concurrency %d", p.n, p.total, filepath.Base(path), retries, current)
	}
	return ok
}

func (p *printer) clearProgress() {
	if p.progress {
		fmt.Fprint(p.errOut, "\r\x1b[K")
	}
}

func (p *printer) finish() { p.clearProgress() }

// write formats one successful response.
func (p *printer) write(path string, raw []byte) error {
	switch p.format {
	case client.OutputPDF, client.OutputHOCR:
		return p.writeFile(path, raw)
	case "json":
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return fmt.Errorf("%w: %v", client.ErrUnexpectedResponse, err)
		}
		line, err := json.Marshal(struct {
			File     string          `json:"file"`
			Response json.RawMessage `json:"response"`
		}{path, compact.Bytes()})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.out, "%s\n", line)
		return err
	}
	var res api.Response
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("%w: the OCR response is not the expected JSON", client.ErrUnexpectedResponse)
	}
	var b strings.Builder
	if p.format == "tsv" {
		lines := res.Lines
		if len(res.Pages) > 0 {
			lines = nil
			for _, pg := range res.Pages {
				lines = append(lines, pg.Lines...)
			}
		}
		for i, l := range lines {
			fmt.Fprintf(&b, "%s\t%d\t%s\t%s\n", escapeTSV(path), i, strconv.FormatFloat(l.Confidence, 'f', 4, 64), escapeTSV(l.Text))
		}
	} else {
		if p.several {
			if p.n > 1 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "==> %s <==\n", path)
		}
		b.WriteString(res.Text)
		if res.Text != "" && !strings.HasSuffix(res.Text, "\n") {
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(p.out, b.String())
	return err
}

// writeFile writes a pdf or hocr answer: to standard output (-o - or, for
// hOCR of one input, no -o), to -o's file for one input, or into -o's
// folder as the input's base name with the format's extension. A file is
// written whole or not at all (a temporary file in the same folder,
// renamed; readable by its owner only, since it holds the text), and an
// existing file is replaced; two inputs of the same base name do not
// overwrite each other: the second fails.
func (p *printer) writeFile(path string, body []byte) error {
	target := p.outPath
	if target == "" || target == stdinPath {
		_, err := p.out.Write(body)
		return err
	}
	if p.several {
		base := filepath.Base(path)
		if path == stdinPath {
			base = "stdin"
		}
		target = filepath.Join(target, strings.TrimSuffix(base, filepath.Ext(base))+"."+p.format)
		if first, ok := p.written[target]; ok {
			return fmt.Errorf("not written: %s already holds the output of %s (same base name)", target, first)
		}
		if p.written == nil {
			p.written = map[string]string{}
		}
		p.written[target] = path
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is left to remove
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	if p.several {
		fmt.Fprintf(p.errOut, "sealctl: %s → %s\n", path, target)
	}
	return nil
}

// escapeTSV escapes backslash, tab, newline and carriage return.
func escapeTSV(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s)
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
