// Command synthset writes a generated benchmark set (receipts, invoices and
// single-line images with their labels) to a folder, to look at or to feed
// another OCR engine:
//
//	go run ./core/bench/synthset -out /tmp/set -seed 1 -documents 20 -lines 200 -english-documents 10 -english-lines 200
//
// The same flags give byte-identical files (see package synth).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/sealocr/sealocr/core/internal/synth"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "synthset:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("synthset", flag.ContinueOnError)
	out := fs.String("out", "", "folder to write the set to (required)")
	seed := fs.Uint64("seed", 1, "random seed")
	docs := fs.Int("documents", 20, "number of receipts and invoices")
	lines := fs.Int("lines", 200, "number of single-line images")
	enDocs := fs.Int("english-documents", 0, "number of English invoices in Latin fonts")
	enLines := fs.Int("english-lines", 0, "number of English single-line images in Latin fonts")
	fonts := fs.String("fonts", "", "folder with the Noto CJK collections (default $"+synth.FontDirEnv+", else "+synth.DefaultFontDir+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *docs < 0 || *lines < 0 || *enDocs < 0 || *enLines < 0 {
		return fmt.Errorf("need -out and non-negative counts")
	}
	f, err := synth.LoadFonts(*fonts)
	if err != nil {
		return err
	}
	spec := synth.Spec{Seed: *seed, Documents: *docs, Lines: *lines, EnglishDocuments: *enDocs, EnglishLines: *enLines}
	if err := synth.Generate(f, spec).Write(*out); err != nil {
		return err
	}
	fmt.Printf("wrote %s to %s\n", spec, *out)
	return nil
}
