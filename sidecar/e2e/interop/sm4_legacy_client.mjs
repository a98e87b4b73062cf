// A legacy SM4-CBC client written with an independent SM4 implementation
// (sm-crypto, pinned in package.json) and Node's own HKDF and HMAC
// (node:crypto), as an existing client of the legacy endpoint would be.
// sealocr's end-to-end tests (sidecar/e2e/sm4legacy_test.go) run it against
// the sidecar.
//
//   LEGACY_SM4_KEY=HEX [LEGACY_MAC=1] node sm4_legacy_client.mjs URL CA_FILE IMAGE
//
// URL is the sidecar's legacy endpoint (https://HOST:PORT/ocr), CA_FILE the
// only trusted certificate authority, LEGACY_SM4_KEY the 16-byte SM4 key in
// hex. With LEGACY_MAC=1 the request carries the encrypt-then-MAC member
// (PROTOCOL.md section 3.2) and the response's MAC is checked before
// decryption. Prints the decrypted response (the core's JSON) on stdout;
// exits 1 with the HTTP status and body on stderr when the sidecar refuses.
// Test keys only.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import smCrypto from 'sm-crypto';

const ALGORITHM = 'SM4-CBC';
const MAC_INFO = 'sealocr legacy-cbc mac v1';

const [url, caFile, imageFile] = process.argv.slice(2);
if (!url || !caFile || !imageFile) {
  process.stderr.write('usage: LEGACY_SM4_KEY=HEX [LEGACY_MAC=1] node sm4_legacy_client.mjs URL CA_FILE IMAGE\n');
  process.exit(2);
}
const keyHex = process.env.LEGACY_SM4_KEY ?? '';
if (!/^[0-9a-fA-F]{32}$/.test(keyHex)) {
  process.stderr.write('LEGACY_SM4_KEY must be 16 bytes in hex\n');
  process.exit(2);
}
const useMAC = process.env.LEGACY_MAC === '1';

const sm4cbc = (op, data, iv) =>
  Buffer.from(smCrypto.sm4[op](Array.from(data), keyHex, { mode: 'cbc', iv: iv.toString('hex'), padding: 'pkcs#7', output: 'array' }));

// k_mac = HKDF-SHA256(IKM = key, salt = empty, info, L = 32).
const kmac = Buffer.from(hkdfSync('sha256', Buffer.from(keyHex, 'hex'), Buffer.alloc(0), MAC_INFO, 32));
const hmac = (...parts) => {
  const h = createHmac('sha256', kmac);
  for (const p of parts) h.update(p);
  return h.digest();
};

const iv = randomBytes(16);
const ct = sm4cbc('encrypt', readFileSync(imageFile), iv);
const msg = { data: Buffer.concat([iv, ct]).toString('base64'), algorithm: ALGORITHM };
let reqMAC;
if (useMAC) {
  reqMAC = hmac(Buffer.from(ALGORITHM, 'ascii'), iv, ct);
  msg.mac = reqMAC.toString('base64');
}
const body = Buffer.from(JSON.stringify(msg));

const { status, text } = await new Promise((resolve, reject) => {
  const req = https.request(url, {
    method: 'POST',
    ca: readFileSync(caFile),
    headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
    timeout: 60000,
  }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', reject);
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', reject);
  req.end(body);
});
if (status !== 200) {
  process.stderr.write(`HTTP ${status} ${text}\n`);
  process.exit(1);
}
const answer = JSON.parse(text);
if (answer.status !== 'success') {
  process.stderr.write(`status ${JSON.stringify(answer.status)}\n`);
  process.exit(1);
}
const raw = Buffer.from(answer.result, 'base64');
if (raw.length < 32 || raw.length % 16 !== 0) {
  process.stderr.write(`result of ${raw.length} bytes\n`);
  process.exit(1);
}
if (useMAC) {
  const want = hmac(Buffer.from('response', 'ascii'), reqMAC, Buffer.from(ALGORITHM, 'ascii'), raw);
  const got = Buffer.from(answer.mac ?? '', 'base64');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    process.stderr.write('response MAC does not verify\n');
    process.exit(1);
  }
} else if ('mac' in answer) {
  process.stderr.write('a response MAC without a request MAC\n');
  process.exit(1);
}
process.stdout.write(sm4cbc('decrypt', raw.subarray(16), raw.subarray(0, 16)));
