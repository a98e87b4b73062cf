package legacycbc

import (
	"crypto/aes"
	"crypto/cipher"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/sm4"
)

// algorithm is one accepted value of the request's "algorithm" member: the
// block cipher under CBC with PKCS#7 padding. Every entry goes through the
// same code (parse, MAC, decrypt under every key, constant-time unpadding),
// so adding a cipher adds no new way to fail.
type algorithm struct {
	// name is the "algorithm" value, also the first bytes of the MAC input.
	name string
	// keySize is the key length in bytes.
	keySize int
	// newBlock returns the block cipher for a key. Block size must be 16.
	newBlock func(key []byte) (cipher.Block, error)
}

// algorithms is the table of accepted algorithms: AES-256-CBC (the
// original format) and SM4-CBC (GB/T 32907 SM4, issue 13), a standard
// cipher.Block from github.com/emmansun/gmsm through package sm4.
var algorithms = []algorithm{
	{name: Algorithm, keySize: 32, newBlock: aes.NewCipher},
	{name: AlgorithmSM4, keySize: sm4.KeySize, newBlock: sm4.NewCipher},
}

// AlgorithmSM4 is the "algorithm" value of the SM4-CBC variant; its keys
// are 16 bytes ([NewAlgorithmKey]).
const AlgorithmSM4 = "SM4-CBC"

// lookup returns the table entry named name, or nil.
func lookup(name string) *algorithm {
	for i := range algorithms {
		if algorithms[i].name == name {
			return &algorithms[i]
		}
	}
	return nil
}

// blockSize is the block (and IV) size of every algorithm of the table.
const blockSize = aes.BlockSize
