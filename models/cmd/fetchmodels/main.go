// Command fetchmodels fetches the pinned OCR models and ONNX Runtime library
// into the cache (`make models`), verifying every checksum. It is a no-op when
// everything is already present.
//
//	fetchmodels [--dir CACHE] [--verify]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/sealocr/sealocr/models"
)

func main() {
	if err := run(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "fetchmodels:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("fetchmodels", flag.ContinueOnError)
	dir := fs.String("dir", models.DefaultCacheDir(getenv), "cache directory (env SEALOCR_CACHE)")
	verify := fs.Bool("verify", false, "only verify the cache; fetch nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := models.Load()
	if err != nil {
		return err
	}
	if *verify {
		if err := m.Verify(*dir); err != nil {
			return err
		}
		fmt.Println("all files verified in", *dir)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := m.Fetch(ctx, *dir, nil, func(s string) { fmt.Println(s) }); err != nil {
		return err
	}
	fmt.Printf("models: %s\nonnx runtime: %s\n", models.ModelsDir(*dir), models.RuntimeLib(*dir))
	return nil
}
