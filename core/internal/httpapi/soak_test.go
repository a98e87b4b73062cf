package httpapi

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/core/internal/enginetest"
)

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data))
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize())
}

// BenchmarkSoak sends b.N line images through the API and reports how much
// the Go heap and the process's resident memory (ONNX Runtime included)
// grew after the first 20 requests: flat memory shows as ~0 growth.
func BenchmarkSoak(b *testing.B) {
	eng := enginetest.Engine(b)
	img, err := os.ReadFile(enginetest.Testdata(b, "paddleocr/lines/p11_line13.png"))
	if err != nil {
		b.Fatal(err)
	}
	a := New(eng, Options{})
	warm := func(n int) {
		for i := 0; i < n; i++ {
			if res, body := do(b, a, "POST", "/v1/ocr?mode=line", "image/png", img); res.StatusCode != 200 {
				b.Fatalf("status %d %s", res.StatusCode, body)
			}
		}
	}
	warm(20)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	rss0 := rssBytes(b)
	b.ResetTimer()
	warm(b.N)
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	b.ReportMetric((float64(m1.HeapInuse)-float64(m0.HeapInuse))/(1<<20), "heap-growth-MiB")
	b.ReportMetric((rssBytes(b)-rss0)/(1<<20), "rss-growth-MiB")
	b.ReportMetric(rss0/(1<<20), "rss-start-MiB")
}
