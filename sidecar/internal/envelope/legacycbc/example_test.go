package legacycbc_test

import (
	"bytes"
	"fmt"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
)

func Example() {
	key, err := legacycbc.NewKey(bytes.Repeat([]byte{7}, legacycbc.KeySize))
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := legacycbc.SealRequest(nil, key, []byte("PNG...")) // what an old client sends
	img, err := legacycbc.Open(key, body)
	if err != nil {
		fmt.Println("request could not be opened") // same answer for every failure
		return
	}
	resp, _ := legacycbc.Seal(nil, key, []byte(`{"text":"hi"}`))
	out, _ := legacycbc.OpenResponse(key, resp)
	fmt.Println(string(img), string(out))
	// Output: PNG... {"text":"hi"}
}
