package decode

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// withPHYs inserts a pHYs chunk (pixels per metre, unit 1) after a PNG's
// IHDR.
func withPHYs(t *testing.T, ppm uint32) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	ihdrEnd := 8 + 12 + 13
	chunk := binary.BigEndian.AppendUint32(nil, 9)
	body := []byte("pHYs")
	body = binary.BigEndian.AppendUint32(body, ppm)
	body = binary.BigEndian.AppendUint32(body, ppm)
	body = append(body, 1)
	chunk = append(chunk, body...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(body))
	return append(append(append([]byte{}, data[:ihdrEnd]...), chunk...), data[ihdrEnd:]...)
}

// TestDPI reads the resolution a file states: a PNG's pHYs, a JPEG's JFIF
// density in dots per inch or per centimetre; 0 when none is stated.
func TestDPI(t *testing.T) {
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ocr", rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var plain bytes.Buffer
	if err := png.Encode(&plain, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want float64
	}{
		{"PNG with pHYs 11811 px/m", withPHYs(t, 11811), 300},
		{"PNG without pHYs", plain.Bytes(), 0},
		{"JPEG, JFIF 72 dpi", read("paddleocr/pages/11.jpg"), 72},
		{"JPEG, JFIF 37 dots per cm", read("tesseract_js/pages/simple-90.jpg"), 93.98},
		{"not an image", []byte("hello"), 0},
	} {
		if got := DPI(tc.data); math.Abs(got-tc.want) > 0.1 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := Inspect(withPHYs(t, 11811), Limits{}); err != nil {
		t.Errorf("the PNG with pHYs is not valid: %v", err)
	}
}
