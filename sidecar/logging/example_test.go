package logging_test

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/logging"
)

func ExampleNew() {
	var buf bytes.Buffer
	log, err := logging.New(logging.Options{Output: &buf, HashKey: []byte("example key, 32 bytes long......")})
	if err != nil {
		panic(err)
	}
	log.Info("ocr done for 13812345678",
		zap.String("path", "/v1/ocr/idcard"),
		zap.String("text", "张三 11010519491231002X"),
		zap.Binary("image", []byte{0xff, 0xd8}),
		zap.String("authorization", "Bearer abc"),
		logging.KeyID("psk-2024-01"),
	)

	var entry map[string]any
	if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
		panic(err)
	}
	for _, k := range []string{"msg", "path", "text", "image", "authorization", "key_id"} {
		fmt.Printf("%s: %v\n", k, entry[k])
	}
	// Output:
	// msg: ocr done for [phone]
	// path: /v1/ocr/idcard
	// text: [redacted]
	// image: [redacted]
	// authorization: [masked]
	// key_id: kid:286ea927b64276c7
}

func ExampleRedact() {
	fmt.Println(logging.Redact("id 11010519491231002X, card 4111 1111 1111 1111, mail li@example.com"))
	fmt.Println(logging.Redact("id 110105194912310021 (bad checksum), card 4111111111111112 (bad Luhn)"))
	// Output:
	// id [id-number], card [card], mail [email]
	// id 110105194912310021 (bad checksum), card 4111111111111112 (bad Luhn)
}
