package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/sealocr/sealocr/core/internal/ocreval"
)

// tesseract runs Debian's Tesseract 5 (tesseract-ocr, tesseract-ocr-eng)
// on one single-line image: `tesseract IMAGE stdout -l eng --psm 7`, one
// process per image, timed from start to exit (model loading included,
// as a command-line user pays it).
type tesseract struct{ bin string }

func (t tesseract) version() string {
	out, err := exec.Command(t.bin, "--version").CombinedOutput()
	if err != nil {
		return "?"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

func (t tesseract) readLine(ctx context.Context, path string) (result, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, t.bin, path, "stdout", "-l", "eng", "--psm", "7")
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("tesseract: %w", err)
	}
	d := time.Since(start)
	var cpu time.Duration
	if ps := cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime()
	}
	text := strings.Join(strings.Fields(out.String()), " ")
	return result{preds: []ocreval.Pred{{Text: text}}, d: d, cpu: cpu}, nil
}
