package legacycbc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// encryptCBC returns AES-CBC(key, iv, PKCS#7(plaintext)) without the IV.
// key is 16, 24 or 32 bytes; iv is 16 bytes.
func encryptCBC(key, iv, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != aes.BlockSize {
		return nil, errCBC
	}
	n := aes.BlockSize - len(plaintext)%aes.BlockSize
	buf := make([]byte, len(plaintext)+n)
	copy(buf, plaintext)
	for i := len(plaintext); i < len(buf); i++ {
		buf[i] = byte(n)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return buf, nil
}

// decryptCBC decrypts ciphertext (without IV) and removes PKCS#7 padding.
// The padding check runs in constant time with respect to the padding
// bytes; every failure is errCBC. key is 16, 24 or 32 bytes.
func decryptCBC(key, iv, ciphertext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil || len(iv) != aes.BlockSize || len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, errCBC
	}
	buf := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(buf, ciphertext)
	n, ok := unpadLen(buf[len(buf)-aes.BlockSize:])
	if ok != 1 {
		clear(buf)
		return nil, errCBC
	}
	return buf[:len(buf)-n], nil
}

// unpadLen inspects the last block and returns the PKCS#7 padding length and
// 1 if the padding is valid, or 0 otherwise. It examines all 16 bytes with
// the same sequence of operations whatever their values.
func unpadLen(last []byte) (int, int) {
	pad := int(last[aes.BlockSize-1])
	// 1 <= pad <= 16
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 0; i < aes.BlockSize; i++ {
		// Byte i from the end belongs to the padding when i < pad.
		inPad := subtle.ConstantTimeLessOrEq(i+1, pad)
		eq := subtle.ConstantTimeByteEq(last[aes.BlockSize-1-i], byte(pad))
		// Outside the padding anything goes; inside it must equal pad.
		good &= eq | (inPad ^ 1)
	}
	return subtle.ConstantTimeSelect(good, pad, 0), good
}
