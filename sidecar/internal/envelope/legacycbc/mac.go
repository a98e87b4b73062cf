package legacycbc

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
)

// MACSize is the length of the "mac" member once base64-decoded.
const MACSize = sha256.Size

// MACInfo is the HKDF-SHA256 info string that derives a key's MAC key:
// k_mac = HKDF-SHA256(IKM = key, salt = "" (empty), info = MACInfo, L = 32).
const MACInfo = "sealocr legacy-cbc mac v1"

// responseMACLabel starts the MAC input of a response, which binds the
// response to its request's MAC: HMAC(k_mac, "response" ‖ request mac ‖
// algorithm ‖ iv' ‖ ciphertext'). No algorithm name starts with it, so a
// request MAC can never pass as a response MAC or the other way round.
const responseMACLabel = "response"

// deriveMACKey returns k_mac for a key.
func deriveMACKey(key []byte) [MACSize]byte {
	var out [MACSize]byte
	b, err := hkdf.Key(sha256.New, key, nil, MACInfo, MACSize)
	if err != nil { // only for a length above 255*32
		panic("legacycbc: hkdf: " + err.Error())
	}
	copy(out[:], b)
	clear(b)
	return out
}

// requestMAC returns HMAC-SHA256(k_mac, algorithm ‖ iv ‖ ciphertext).
func requestMAC(kmac []byte, alg string, iv, ct []byte) []byte {
	m := hmac.New(sha256.New, kmac)
	m.Write([]byte(alg))
	m.Write(iv)
	m.Write(ct)
	return m.Sum(nil)
}

// responseMAC returns HMAC-SHA256(k_mac, "response" ‖ reqMAC ‖ algorithm ‖
// iv ‖ ciphertext).
func responseMAC(kmac []byte, reqMAC []byte, alg string, iv, ct []byte) []byte {
	m := hmac.New(sha256.New, kmac)
	m.Write([]byte(responseMACLabel))
	m.Write(reqMAC)
	m.Write([]byte(alg))
	m.Write(iv)
	m.Write(ct)
	return m.Sum(nil)
}
