package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/internal/enginetest"
	"github.com/sealocr/sealocr/core/testkit"
)

// chartMemoryLimit is the core container's memory limit in the chart
// (core.resources.limits.memory: 1Gi), which the chart also hands to the
// core as GOMEMLIMIT.
const chartMemoryLimit = 1 << 30

// png16 writes a w×h 16-bit RGBA PNG, white with a few dark bars, row by
// row (no image in memory): a few hundred KB that decode to 8 bytes per
// pixel in image/png.
func png16(t *testing.T, w, h int) []byte {
	t.Helper()
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	row := make([]byte, 1+8*w)
	for y := 0; y < h; y++ {
		for i := 1; i < len(row); i++ {
			row[i] = 0xff
		}
		if y%600 >= 300 && y%600 < 360 {
			for x := w / 10; x < w*9/10; x++ {
				if (x/40)%2 == 0 {
					copy(row[1+8*x:], []byte{0, 0, 0, 0, 0, 0, 0xff, 0xff})
				}
			}
		}
		if _, err := zw.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	chunk := func(out []byte, typ string, body []byte) []byte {
		out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
		start := len(out)
		out = append(out, typ...)
		out = append(out, body...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 16, 6, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = chunk(out, "IHDR", ihdr)
	out = chunk(out, "IDAT", z.Bytes())
	return chunk(out, "IEND", nil)
}

// vmHWM is the peak resident set of process pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestAttackWidePNGs plays the second audit's finding 2 against a real core
// process limited as the chart limits it: four 16-bit RGBA PNGs of
// 6000×6600 (under max_pixels; a few hundred KB each, 317 MB each as
// image/png's NRGBA64) sent at once. Each must be served or answered 503
// busy, and the core's peak resident memory must stay under the chart's
// limit. The old core decoded all four before it took a worker slot
// (about 2.4 GB).
func TestAttackWidePNGs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a core and sends it 160 million pixels")
	}
	modelsDir, lib := enginetest.Paths()
	for _, f := range []string{lib, filepath.Join(modelsDir, "ch_PP-OCRv4_det_infer.onnx")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the models or ONNX Runtime are missing (run `make models`): %v", err)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "core")
	if err := testkit.GoBuild(bin, "./core/cmd/core", "CGO_ENABLED=1"); err != nil {
		t.Fatal(err)
	}
	addr := testkit.FreeAddr(t)

	var logs bytes.Buffer
	cmd := exec.Command(bin, "--listen", addr, "--metrics-listen", "", "--threads", "2",
		"--models", modelsDir, "--ort-lib", lib,
		// Room for all four one after another on a loaded machine: the test
		// is about memory, and a deadline would only turn some into busy.
		"--timeout", "2m")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GOMEMLIMIT=" + strconv.Itoa(chartMemoryLimit)}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("core output:\n%s", tail(logs.String()))
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(3 * time.Minute)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the core was not ready in time")
		}
		time.Sleep(200 * time.Millisecond)
	}
	idle := vmHWM(t, cmd.Process.Pid)

	img := png16(t, 6000, 6600)
	runtime.GC()
	var wg sync.WaitGroup
	type answer struct {
		status int
		code   string
		err    error
	}
	answers := make([]answer, 4)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Post(base+"/v1/ocr", "image/png", bytes.NewReader(img))
			if err != nil {
				answers[i].err = err
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(b, &e)
			answers[i] = answer{status: res.StatusCode, code: e.Error.Code}
		}()
	}
	wg.Wait()
	select {
	case err := <-exited:
		t.Fatalf("the core died under the attack (%v)", err)
	default:
	}
	peak := vmHWM(t, cmd.Process.Pid)
	served := 0
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("request %d: %v (the core dropped the connection)", i, a.err)
		case a.status == http.StatusOK:
			served++
		case a.status == http.StatusServiceUnavailable && a.code == "busy":
		default:
			t.Errorf("request %d: %d %q, want 200 or 503 busy", i, a.status, a.code)
		}
	}
	t.Logf("%d-byte PNGs of 6000x6600 16-bit RGBA, four at once: %d served, %d busy; core peak RSS %d MiB (idle %d MiB), limit %d MiB",
		len(img), served, 4-served, peak>>20, idle>>20, chartMemoryLimit>>20)
	if served == 0 {
		t.Error("none of the four was served; the memory figure would prove nothing")
	}
	if peak >= chartMemoryLimit {
		t.Errorf("the core's peak resident memory %d MiB reached the chart's limit of %d MiB: in the chart it would be OOM-killed",
			peak>>20, chartMemoryLimit>>20)
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
