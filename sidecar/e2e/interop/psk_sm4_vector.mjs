// Independent implementation of the sealocr PSK envelope for the SM4 suites
// (sidecar/PROTOCOL.md, section 1), used to cross-check the vectors in
// sidecar/internal/envelope/testdata/psk_sm4_vectors.json. It shares no
// code with the Go implementation: the SM4 block comes from sm-crypto
// (pinned in package.json), HKDF, SHA-256 and SM3 from Node's crypto
// (OpenSSL), and GCM (CTR + GHASH, NIST SP 800-38D) is written out below.
// Usage: node psk_sm4_vector.mjs VECTORS.json — prints a JSON array of
// {"request_body": HEX, "response_body": HEX}, one per vector.
import { readFileSync } from 'node:fs';
import { createHash, hkdfSync } from 'node:crypto';
import smCrypto from 'sm-crypto';

const SUITES = { 'sm4-gcm': { id: 0x02, hash: 'sha256' }, 'sm4-gcm-sm3': { id: 0x03, hash: 'sm3' } };

const hex = (s) => Buffer.from(s, 'hex');
const u8 = (n) => Buffer.from([n]);
const u16 = (n) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };

// encryptBlock is one raw SM4 block encryption (ECB, no padding).
const encryptBlock = (key, block) =>
  Buffer.from(smCrypto.sm4.encrypt(Array.from(block), Array.from(key), { padding: 'none', output: 'array' }));

// gfMul multiplies in GF(2^128) with GCM's reflected bit order (SP 800-38D Algorithm 1).
const R = 0xe1n << 120n;
function gfMul(x, y) {
  let z = 0n, v = y;
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v;
    v = (v & 1n) ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}
const big = (b) => BigInt('0x' + (b.length ? b.toString('hex') : '0'));
const bytes16 = (n) => Buffer.from(n.toString(16).padStart(32, '0'), 'hex');

function ghash(h, a, c) {
  const H = big(h);
  let y = 0n;
  const absorb = (buf) => {
    for (let i = 0; i < buf.length; i += 16) {
      const blk = Buffer.alloc(16);
      buf.copy(blk, 0, i, Math.min(i + 16, buf.length));
      y = gfMul(y ^ big(blk), H);
    }
  };
  absorb(a);
  absorb(c);
  absorb(Buffer.concat([u64(a.length * 8), u64(c.length * 8)]));
  return bytes16(y);
}

// gcmSeal returns ciphertext ‖ tag for a 12-byte nonce.
function gcmSeal(key, nonce, plaintext, aad) {
  const h = encryptBlock(key, Buffer.alloc(16));
  const counter = (i) => Buffer.concat([nonce, (() => { const b = Buffer.alloc(4); b.writeUInt32BE(i); return b; })()]);
  const ct = Buffer.alloc(plaintext.length);
  for (let off = 0, i = 2; off < plaintext.length; off += 16, i++) {
    const ks = encryptBlock(key, counter(i));
    for (let j = 0; j < 16 && off + j < plaintext.length; j++) ct[off + j] = plaintext[off + j] ^ ks[j];
  }
  const s = ghash(h, aad, ct);
  const ekj0 = encryptBlock(key, counter(1));
  const tag = Buffer.alloc(16);
  for (let j = 0; j < 16; j++) tag[j] = s[j] ^ ekj0[j];
  return Buffer.concat([ct, tag]);
}

const file = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const vectors = file.vectors ?? file;
const out = vectors.map((v) => {
  const suite = SUITES[v.suite];
  if (!suite) throw new Error(`unknown suite ${v.suite}`);
  const key = hex(v.key), salt = hex(v.salt), nonce = hex(v.nonce);
  const header = Buffer.concat([
    Buffer.from('SP'), u8(0x02), u8(suite.id),
    u8(v.key_id.length), Buffer.from(v.key_id), u64(v.time), salt, nonce,
    u8(v.content_type.length), Buffer.from(v.content_type),
  ]);
  const aad = Buffer.concat([header, u8(v.method.length), Buffer.from(v.method), u16(v.target.length), Buffer.from(v.target)]);
  const reqKey = Buffer.from(hkdfSync(suite.hash, key, salt, 'sealocr psk v1 request', 16));
  const sealed = gcmSeal(reqKey, nonce, hex(v.plaintext), aad);
  const request = Buffer.concat([header, sealed]);

  const binding = createHash(suite.hash).update(aad).update(sealed.subarray(sealed.length - 16)).digest();
  const respKey = Buffer.from(hkdfSync(suite.hash, key, Buffer.concat([salt, nonce]), 'sealocr psk v1 response', 16));
  const respNonce = hex(v.response_nonce);
  const respHeader = Buffer.concat([Buffer.from('SR'), u8(0x02), u8(suite.id), respNonce]);
  const inner = Buffer.concat([u16(v.response_status), u8(v.response_content_type.length), Buffer.from(v.response_content_type), hex(v.response_plaintext)]);
  const response = Buffer.concat([respHeader, gcmSeal(respKey, respNonce, inner, Buffer.concat([respHeader, binding]))]);
  return { request_body: request.toString('hex'), response_body: response.toString('hex') };
});
process.stdout.write(JSON.stringify(out) + '\n');
