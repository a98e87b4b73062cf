// SM4-CBC with PKCS#7 padding from an independent JavaScript implementation
// (sm-crypto, pinned in package.json), for the cross-checks in
// sidecar/internal/envelope/sm4. It reads a JSON array of
//   {"op": "encrypt"|"decrypt", "key": HEX, "iv": HEX, "data": HEX}
// on stdin and writes a JSON array of result hex strings to stdout.
// Test keys only.
import smCrypto from 'sm-crypto';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map(({ op, key, iv, data }) => {
  const opts = { mode: 'cbc', iv, padding: 'pkcs#7', output: 'array' };
  const bytes = Array.from(Buffer.from(data, 'hex'));
  if (op === 'encrypt') return Buffer.from(smCrypto.sm4.encrypt(bytes, key, opts)).toString('hex');
  if (op === 'decrypt') return Buffer.from(smCrypto.sm4.decrypt(bytes, key, opts)).toString('hex');
  throw new Error(`unknown op ${op}`);
});
process.stdout.write(JSON.stringify(out) + '\n');
