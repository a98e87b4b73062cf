package pipeline_test

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/enginetest"
	"github.com/sealocr/sealocr/core/internal/pipeline"
)

func loadImage(b *testing.B, rel string) image.Image {
	b.Helper()
	data, err := os.ReadFile(enginetest.Testdata(b, rel))
	if err != nil {
		b.Fatal(err)
	}
	img, _, err := decode.Decode(data, decode.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return img
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// runSet runs every image once per iteration and reports the median
// latency per image, throughput in lines/s and the share of time spent
// outside ONNX Runtime.
func runSet(b *testing.B, imgs []image.Image, o pipeline.Options) {
	e := enginetest.Engine(b)
	ctx := context.Background()
	if _, err := e.Run(ctx, imgs[0], o); err != nil { // warm
		b.Fatal(err)
	}
	var per []time.Duration
	var total, model time.Duration
	lines := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, img := range imgs {
			t := time.Now()
			res, err := e.Run(ctx, img, o)
			if err != nil {
				b.Fatal(err)
			}
			d := time.Since(t)
			per = append(per, d)
			total += d
			model += res.Timings.Model
			lines += len(res.Lines)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(median(per).Microseconds())/1000, "median-ms/image")
	b.ReportMetric(float64(lines)/total.Seconds(), "lines/s")
	b.ReportMetric(float64(total-model)/float64(total)*100, "overhead-%")
	b.ReportMetric(float64(total-model)/float64(model), "overhead/onnx")
}

// BenchmarkPage runs full-page OCR on the shared page images.
func BenchmarkPage(b *testing.B) {
	for _, rel := range []string{"paddleocr/pages/11.jpg", "cnocr/pages/multi-line_cn2.png",
		"tesseract_js/pages/testocr.png", "tesseract_js/pages/bill.png", "rapidocr/pages/ch_en_num.jpg"} {
		b.Run(filepath.Base(rel), func(b *testing.B) {
			runSet(b, []image.Image{loadImage(b, rel)}, pipeline.Options{Mode: pipeline.ModeDocument})
		})
	}
}

// BenchmarkPageBatching compares recognition batch sizes on the shared
// receipt-like page (PaddleOCR's 11.jpg, 16 lines) and the bank statement
// (tesseract.js bill.png, ~60 lines).
func BenchmarkPageBatching(b *testing.B) {
	for _, rel := range []string{"paddleocr/pages/11.jpg", "tesseract_js/pages/bill.png"} {
		img := loadImage(b, rel)
		for _, batch := range []int{1, 6} {
			b.Run(filepath.Base(rel)+"/batch="+string(rune('0'+batch)), func(b *testing.B) {
				runSet(b, []image.Image{img}, pipeline.Options{Mode: pipeline.ModeDocument, RecBatch: batch})
			})
		}
	}
}

// BenchmarkLine recognizes the shared line crops one at a time (mode=line).
func BenchmarkLine(b *testing.B) {
	var imgs []image.Image
	for _, r := range readTSV(b, "lines.tsv") {
		if r["source"] == "tesseract_js" {
			continue // whole images with margins, not line crops
		}
		imgs = append(imgs, loadImage(b, r["path"]))
	}
	runSet(b, imgs, pipeline.Options{Mode: pipeline.ModeLine})
}
