package legacycbc

import (
	"crypto/cipher"
	"crypto/subtle"
)

// encryptCBC returns CBC(block, iv, PKCS#7(plaintext)) without the IV. iv is
// one block long.
func encryptCBC(block cipher.Block, iv, plaintext []byte) ([]byte, error) {
	bs := block.BlockSize()
	if len(iv) != bs {
		return nil, errCBC
	}
	n := bs - len(plaintext)%bs
	buf := make([]byte, len(plaintext)+n)
	copy(buf, plaintext)
	for i := len(plaintext); i < len(buf); i++ {
		buf[i] = byte(n)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return buf, nil
}

// decryptRaw decrypts ciphertext (without IV) and returns the whole
// decrypted buffer with the PKCS#7 padding length n and ok = 1 when the
// padding is valid, or n = 0 and ok = 0 when it is not. The padding check
// runs in constant time; the buffer is returned either way so that callers
// can do the same work whatever the padding holds. ciphertext must be a
// positive multiple of the block size.
func decryptRaw(block cipher.Block, iv, ciphertext []byte) (buf []byte, n, ok int) {
	bs := block.BlockSize()
	buf = make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(buf, ciphertext)
	n, ok = unpadLen(buf[len(buf)-bs:])
	return buf, n, ok
}

// decryptCBC decrypts ciphertext (without IV) and removes PKCS#7 padding.
// The padding check runs in constant time with respect to the padding
// bytes; every failure is errCBC.
func decryptCBC(block cipher.Block, iv, ciphertext []byte) ([]byte, error) {
	bs := block.BlockSize()
	if len(iv) != bs || len(ciphertext) == 0 || len(ciphertext)%bs != 0 {
		return nil, errCBC
	}
	buf, n, ok := decryptRaw(block, iv, ciphertext)
	if ok != 1 {
		clear(buf)
		return nil, errCBC
	}
	return buf[:len(buf)-n], nil
}

// unpadLen inspects the last block (16 bytes: both ciphers of the table use
// 128-bit blocks) and returns the PKCS#7 padding length and 1 if the
// padding is valid, or 0 and 0 otherwise. It examines every byte with the
// same sequence of operations whatever their values.
func unpadLen(last []byte) (int, int) {
	bs := len(last)
	pad := int(last[bs-1])
	// 1 <= pad <= bs
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, bs)
	for i := 0; i < bs; i++ {
		// Byte i from the end belongs to the padding when i < pad.
		inPad := subtle.ConstantTimeLessOrEq(i+1, pad)
		eq := subtle.ConstantTimeByteEq(last[bs-1-i], byte(pad))
		// Outside the padding anything goes; inside it must equal pad.
		good &= eq | (inPad ^ 1)
	}
	return subtle.ConstantTimeSelect(good, pad, 0), good
}
