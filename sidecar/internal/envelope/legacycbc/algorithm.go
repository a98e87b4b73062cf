package legacycbc

import (
	"crypto/aes"
	"crypto/cipher"
)

// algorithm is one accepted value of the request's "algorithm" member: the
// block cipher under CBC with PKCS#7 padding. Every entry goes through the
// same code (parse, MAC, decrypt under every key, constant-time unpadding),
// so adding a cipher adds no new way to fail.
type algorithm struct {
	// name is the "algorithm" value, also the first bytes of the MAC input.
	name string
	// newBlock returns the block cipher for a key. Block size must be 16.
	newBlock func(key []byte) (cipher.Block, error)
}

// algorithms is the table of accepted algorithms. SM4-CBC (issue 13) is
// one more entry here once an SM4 cipher.Block (github.com/emmansun/gmsm)
// is in the module: {"SM4-CBC", sm4.NewCipher on the key's first 16 bytes
// or a derived 16-byte key, as PROTOCOL.md will specify}.
var algorithms = []algorithm{
	{name: Algorithm, newBlock: aes.NewCipher},
}

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
