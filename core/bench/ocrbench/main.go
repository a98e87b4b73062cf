// Command ocrbench measures the core against @gutenye/ocr-node on the same
// generated set, on the same machine, in the same run, and prints per-image
// median latency, their ratio, and the accuracy of both (CER with spaces
// kept and removed, exact lines): receipts and invoices in document mode,
// and degraded single-line images in `mode=line` (and, for reference, in
// document mode and through @gutenye, which detects first). On the English
// set it adds Tesseract 5 (`eng`, `--psm 7`) as a peer on the single lines,
// and it reads the English invoices and some receipts turned by 90°, 180°
// and 270° (core only: the angle found, reading-order CER against upright).
//
// `make bench` installs the pinned peer (core/bench/gutenye, npm ci) and
// runs this command. The two engines read the images alternately, one
// image each in turn, so a change in the machine's load hits both alike.
//
//	go run ./core/bench/ocrbench -documents 20 -lines 200
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/sealocr/sealocr/core/internal/ocreval"
	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/synth"
	"github.com/sealocr/sealocr/core/testkit"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ocrbench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ocrbench", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "random seed of the generated set")
	docs := fs.Int("documents", 20, "receipts and invoices")
	lines := fs.Int("lines", 200, "single-line images")
	enDocs := fs.Int("english-documents", 10, "English invoices in Latin fonts (also read turned by 90°, 180° and 270°)")
	enLines := fs.Int("english-lines", 200, "English single-line images in Latin fonts")
	tessBin := fs.String("tesseract", "tesseract", "Tesseract 5 binary for the English lines (eng, --psm 7); \"\" to leave it out")
	rotDocs := fs.Int("rotated", 4, "mixed receipts read turned by 90°, 180° and 270° too (besides the English invoices)")
	peerDir := fs.String("gutenye", "core/bench/gutenye", "folder of the pinned @gutenye/ocr-node package (after npm ci)")
	threads := fs.Int("threads", 0, "core: ONNX Runtime intra-op threads per session (0: its default, as the core binary)")
	keep := fs.String("keep", "", "write the set to this folder and keep it (default: a temporary folder, removed)")
	verbose := fs.Bool("v", false, "print every misread row and line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *docs < 1 || *lines < 0 {
		return errors.New("need at least one document")
	}

	f, err := synth.LoadFonts("")
	if err != nil {
		return err
	}
	spec := synth.Spec{Seed: *seed, Documents: *docs, Lines: *lines, EnglishDocuments: *enDocs, EnglishLines: *enLines}
	set := synth.Generate(f, spec)
	dir := *keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ocrbench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	if err := set.Write(dir); err != nil {
		return err
	}

	load0 := testkit.LoadAverage()
	core, err := ocreval.LoadCore(*threads)
	if err != nil {
		return err
	}
	defer core.Close()
	peer, err := startPeer(*peerDir)
	if err != nil {
		return err
	}
	defer peer.close()

	ctx := context.Background()
	// Warm both on the first document; not counted.
	first := filepath.Join(dir, set.Documents[0].Name)
	if _, err := timeCore(ctx, core, first, false); err != nil {
		return err
	}
	if _, err := peer.read(first); err != nil {
		return err
	}

	var coreDoc, peerDoc measure
	for i, d := range set.Documents {
		path := filepath.Join(dir, d.Name)
		rows := ocreval.DocumentRows(d)
		// Alternate which engine goes first.
		for k := range 2 {
			if (i+k)%2 == 0 {
				r, err := timeCore(ctx, core, path, false)
				if err != nil {
					return fmt.Errorf("core: %s: %w", d.Name, err)
				}
				coreDoc.addDoc(stdout, *verbose, "core", d.Name, rows, r)
			} else {
				r, err := peer.read(path)
				if err != nil {
					return fmt.Errorf("gutenye: %s: %w", d.Name, err)
				}
				peerDoc.addDoc(stdout, *verbose, "gutenye", d.Name, rows, r)
			}
		}
	}
	var coreLine, coreLineDoc, peerLine measure
	for _, l := range set.Lines {
		path := filepath.Join(dir, l.Name)
		r, err := timeCore(ctx, core, path, true)
		if err != nil {
			return fmt.Errorf("core: %s: %w", l.Name, err)
		}
		coreLine.addLine(stdout, *verbose, "core mode=line", l, r)
		if r, err = timeCore(ctx, core, path, false); err != nil {
			return fmt.Errorf("core: %s: %w", l.Name, err)
		}
		coreLineDoc.addLine(stdout, *verbose, "core document", l, r)
		if r, err = peer.read(path); err != nil {
			return fmt.Errorf("gutenye: %s: %w", l.Name, err)
		}
		peerLine.addLine(stdout, *verbose, "gutenye", l, r)
	}
	// English lines: core in both modes, Tesseract, @gutenye.
	var enCoreLine, enCoreDoc, enTess, enPeer measure
	tess := tesseract{*tessBin}
	for _, l := range set.EnglishLines {
		path := filepath.Join(dir, l.Name)
		r, err := timeCore(ctx, core, path, true)
		if err != nil {
			return fmt.Errorf("core: %s: %w", l.Name, err)
		}
		enCoreLine.addLine(stdout, *verbose, "core mode=line", l, r)
		if r, err = timeCore(ctx, core, path, false); err != nil {
			return fmt.Errorf("core: %s: %w", l.Name, err)
		}
		enCoreDoc.addLine(stdout, *verbose, "core document", l, r)
		if *tessBin != "" {
			if r, err = tess.readLine(ctx, path); err != nil {
				return fmt.Errorf("%s: %w", l.Name, err)
			}
			enTess.addLine(stdout, *verbose, "tesseract", l, r)
		}
		if r, err = peer.read(path); err != nil {
			return fmt.Errorf("gutenye: %s: %w", l.Name, err)
		}
		enPeer.addLine(stdout, *verbose, "gutenye", l, r)
	}
	// English invoices: core and @gutenye, alternating.
	var enCoreDocs, enPeerDocs measure
	for i, d := range set.EnglishDocuments {
		path := filepath.Join(dir, d.Name)
		rows := ocreval.DocumentRows(d)
		for k := range 2 {
			if (i+k)%2 == 0 {
				r, err := timeCore(ctx, core, path, false)
				if err != nil {
					return fmt.Errorf("core: %s: %w", d.Name, err)
				}
				enCoreDocs.addDoc(stdout, *verbose, "core", d.Name, rows, r)
			} else {
				r, err := peer.read(path)
				if err != nil {
					return fmt.Errorf("gutenye: %s: %w", d.Name, err)
				}
				enPeerDocs.addDoc(stdout, *verbose, "gutenye", d.Name, rows, r)
			}
		}
	}
	// Turned pages: the English invoices and the first mixed receipts,
	// upright and turned; the core only.
	rotSet := append(append([]synth.Document(nil), set.EnglishDocuments...), set.Documents[:min(*rotDocs, len(set.Documents))]...)
	rot, err := readTurned(ctx, core, rotSet)
	if err != nil {
		return err
	}
	load1 := testkit.LoadAverage()

	peerVer, ortNodeVer := peer.versions()
	w := bufio.NewWriter(stdout)
	fmt.Fprintf(w, "ocrbench: generated set %s; %d CPUs (GOMAXPROCS %d); core: ONNX Runtime %s, threads %d; peer: @gutenye/ocr-node %s, onnxruntime-node %s\n",
		spec, runtime.NumCPU(), runtime.GOMAXPROCS(0), onnx.Version(), *threads, peerVer, ortNodeVer)
	fmt.Fprintf(w, "load average (1/5/15 min) before: %s, after: %s\n\n", load0, load1)
	fmt.Fprintf(w, "%-44s %12s %11s %11s %10s %12s %14s\n", "documents (1000x1400, 20-40 rows)", "median/doc", "mean", "median CPU", "CER kept", "CER removed", "exact rows")
	coreDoc.row(w, "sealocr core (document mode)")
	peerDoc.row(w, "@gutenye/ocr-node "+peerVer)
	fmt.Fprintf(w, "%-44s %11.2fx  (gutenye median / core median; >1: core faster; means: %.2fx; median CPU: %.2fx)\n", "speed ratio", peerDoc.median().Seconds()/coreDoc.median().Seconds(), peerDoc.mean().Seconds()/coreDoc.mean().Seconds(), median(peerDoc.cpu).Seconds()/median(coreDoc.cpu).Seconds())
	if len(set.Lines) > 0 {
		fmt.Fprintf(w, "\n%-44s %12s %11s %11s %10s %12s %14s\n", "single lines (margins, degradations)", "median/line", "mean", "median CPU", "CER kept", "CER removed", "exact lines")
		coreLine.row(w, "sealocr core mode=line")
		coreLineDoc.row(w, "sealocr core document mode")
		peerLine.row(w, "@gutenye/ocr-node "+peerVer)
	}
	if len(set.EnglishLines) > 0 {
		fmt.Fprintf(w, "\n%-44s %12s %11s %11s %10s %12s %14s %14s\n", "English lines (Latin fonts, 18-36 px)", "median/line", "mean", "median CPU", "strict CER", "CER removed", "exact lines", "exact, spaces")
		enCoreLine.rowKept(w, "sealocr core mode=line")
		enCoreDoc.rowKept(w, "sealocr core document mode")
		if *tessBin != "" {
			enTess.rowKept(w, tess.version()+" (eng, --psm 7)")
		}
		enPeer.rowKept(w, "@gutenye/ocr-node "+peerVer)
	}
	if len(set.EnglishDocuments) > 0 {
		fmt.Fprintf(w, "\n%-44s %12s %11s %11s %10s %12s %14s %14s\n", "English invoices (1000x1400)", "median/doc", "mean", "median CPU", "CER kept", "CER removed", "exact rows", "exact, spaces")
		enCoreDocs.rowKept(w, "sealocr core (document mode)")
		enPeerDocs.rowKept(w, "@gutenye/ocr-node "+peerVer)
	}
	rot.print(w)
	return w.Flush()
}

// measure collects one engine's times and scores on one kind of image.
type measure struct {
	times, cpu []time.Duration
	t          ocreval.Tally
}

func (m *measure) addDoc(w io.Writer, verbose bool, who, name string, rows []ocreval.RefRow, r result) {
	m.times = append(m.times, r.d)
	m.cpu = append(m.cpu, r.cpu)
	m.t.Merge(ocreval.ScoreDocument(rows, r.preds))
	if verbose {
		got, spurious := ocreval.AssignRows(rows, r.preds)
		for i, row := range rows {
			if ocreval.Kept(got[i]) != ocreval.Kept(row.Text) {
				fmt.Fprintf(w, "%s %s row %d: got %q, want %q\n", who, name, i, got[i], row.Text)
			}
		}
		for _, s := range spurious {
			fmt.Fprintf(w, "%s %s: spurious %q\n", who, name, s)
		}
	}
}

func (m *measure) addLine(w io.Writer, verbose bool, who string, l synth.Line, r result) {
	m.times = append(m.times, r.d)
	m.cpu = append(m.cpu, r.cpu)
	got := ocreval.LineText(r.preds)
	if !m.t.Add(got, l.Text) && verbose {
		fmt.Fprintf(w, "%s %s [%s]: got %q, want %q\n", who, l.Name, l.Degradations, got, l.Text)
	}
}

func (m *measure) median() time.Duration { return median(m.times) }

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func (m *measure) mean() time.Duration {
	var sum time.Duration
	for _, d := range m.times {
		sum += d
	}
	return sum / time.Duration(len(m.times))
}

func (m *measure) row(w io.Writer, name string) {
	fmt.Fprintf(w, "%-44s %10.3f s %9.3f s %9.3f s %9.2f%% %11.2f%% %8d/%d %5.1f%%\n", name, m.median().Seconds(), m.mean().Seconds(), median(m.cpu).Seconds(),
		100*m.t.CERKept(), 100*m.t.CERRemoved(), m.t.Exact, m.t.Lines, 100*m.t.ExactRate())
}

// rowKept is row with the exact lines with spaces kept as well.
func (m *measure) rowKept(w io.Writer, name string) {
	fmt.Fprintf(w, "%-44s %10.3f s %9.3f s %9.3f s %9.2f%% %11.2f%% %8d/%d %5.1f%% %8d/%d %5.1f%%\n", name, m.median().Seconds(), m.mean().Seconds(), median(m.cpu).Seconds(),
		100*m.t.CERKept(), 100*m.t.CERRemoved(), m.t.Exact, m.t.Lines, 100*m.t.ExactRate(), m.t.ExactKept, m.t.Lines, 100*m.t.ExactKeptRate())
}

type result struct {
	preds []ocreval.Pred
	d     time.Duration // wall time
	cpu   time.Duration // the process's CPU time (all threads) during the call
}

// timeCore times what a request costs the core: reading the file,
// decoding it and running the pipeline.
func timeCore(ctx context.Context, c *ocreval.Core, path string, line bool) (result, error) {
	c0 := cpuTime()
	t := time.Now()
	data, err := os.ReadFile(path)
	if err != nil {
		return result{}, err
	}
	preds, err := c.Read(ctx, data, line)
	return result{preds, time.Since(t), cpuTime() - c0}, err
}

// cpuTime is the process's user and system CPU time, all threads (ONNX
// Runtime's included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
