package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sealocr/sealocr/core/internal/ocreval"
)

// peer is a running @gutenye/ocr-node (core/bench/gutenye/ocr.mjs): it
// takes an image path per line on stdin and answers one JSON line each.
type peer struct {
	dir string
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

type peerAnswer struct {
	Ready bool    `json:"ready"`
	Path  string  `json:"path"`
	MS    float64 `json:"ms"`
	CPUMS float64 `json:"cpuMs"`
	Lines []struct {
		Text string       `json:"text"`
		Box  [][2]float64 `json:"box"`
	} `json:"lines"`
}

func startPeer(dir string) (*peer, error) {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@gutenye", "ocr-node", "package.json")); err != nil {
		return nil, fmt.Errorf("%s: @gutenye/ocr-node not installed (make bench runs npm ci there): %w", dir, err)
	}
	cmd := exec.Command("node", "ocr.mjs")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	p := &peer{dir: dir, cmd: cmd, in: in, out: bufio.NewScanner(outp)}
	p.out.Buffer(make([]byte, 1<<20), 16<<20)
	a, err := p.next()
	if err != nil || !a.Ready {
		p.close()
		return nil, fmt.Errorf("@gutenye/ocr-node did not start: %v", err)
	}
	return p, nil
}

func (p *peer) next() (peerAnswer, error) {
	var a peerAnswer
	if !p.out.Scan() {
		if err := p.out.Err(); err != nil {
			return a, err
		}
		return a, errors.New("peer exited")
	}
	err := json.Unmarshal(p.out.Bytes(), &a)
	return a, err
}

// read has the peer OCR one image file; the time is the peer's own
// measure of its call (decode, detection, recognition), without the pipe.
func (p *peer) read(path string) (result, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return result{}, err
	}
	if _, err := fmt.Fprintln(p.in, abs); err != nil {
		return result{}, err
	}
	a, err := p.next()
	if err != nil {
		return result{}, err
	}
	if a.Path != abs {
		return result{}, fmt.Errorf("peer answered for %q", a.Path)
	}
	preds := make([]ocreval.Pred, len(a.Lines))
	for i, l := range a.Lines {
		preds[i].Text = l.Text
		for k := 0; k < 4 && k < len(l.Box); k++ {
			preds[i].Box[k] = l.Box[k]
		}
	}
	return result{preds, time.Duration(a.MS * float64(time.Millisecond)), time.Duration(a.CPUMS * float64(time.Millisecond))}, nil
}

// versions reads the installed versions of @gutenye/ocr-node and
// onnxruntime-node.
func (p *peer) versions() (gutenye, ortNode string) {
	v := func(pkg string) string {
		b, err := os.ReadFile(filepath.Join(p.dir, "node_modules", pkg, "package.json"))
		if err != nil {
			return "?"
		}
		var m struct{ Version string }
		if json.Unmarshal(b, &m) != nil {
			return "?"
		}
		return m.Version
	}
	return v("@gutenye/ocr-node"), v("onnxruntime-node")
}

func (p *peer) close() {
	_ = p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
