package httpapi

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"testing"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/enginetest"
)

// TestOCRAngleField sends a real page upright and turned a quarter turn
// clockwise through the HTTP API: the JSON answer carries "angle" (0, then
// 90), the width and height of the image as sent, and the same lines in the
// same reading order.
func TestOCRAngleField(t *testing.T) {
	a := New(enginetest.Engine(t), Options{})
	f, err := os.Open(enginetest.Testdata(t, "paddleocr/pages/11.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := jpeg.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	turned := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			turned.Set(b.Dy()-1-(y-b.Min.Y), x-b.Min.X, src.At(x, y))
		}
	}
	read := func(img image.Image) (api.Response, map[string]json.RawMessage) {
		t.Helper()
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		res, body := do(t, a, "POST", "/v1/ocr", "image/png", buf.Bytes())
		if res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		var r api.Response
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatal(err)
		}
		return r, raw
	}
	up, rawUp := read(src)
	side, rawSide := read(turned)
	if string(rawUp["angle"]) != "0" || string(rawSide["angle"]) != "90" {
		t.Errorf(`"angle" %s upright and %s turned, want 0 and 90`, rawUp["angle"], rawSide["angle"])
	}
	if side.Width != b.Dy() || side.Height != b.Dx() {
		t.Errorf("turned page answered %d×%d, want the image as sent, %d×%d", side.Width, side.Height, b.Dy(), b.Dx())
	}
	if len(up.Lines) < 5 || noSpace(side.Text) != noSpace(up.Text) {
		t.Errorf("turned page read\n%s\nupright\n%s", side.Text, up.Text)
	}
	for _, l := range side.Lines {
		for _, p := range l.Box {
			if p[0] < 0 || p[1] < 0 || p[0] > b.Dy() || p[1] > b.Dx() {
				t.Fatalf("box %v outside the image as sent", l.Box)
			}
		}
	}
}
