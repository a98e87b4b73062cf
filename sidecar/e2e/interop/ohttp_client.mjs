// ohttp_client.mjs is an Oblivious HTTP (RFC 9458) client built only from
// third-party packages — @hpke/core (+ @hpke/chacha20poly1305) for HPKE and
// bhttp-js for Binary HTTP — plus Node's own crypto for the response HKDF and
// AEAD. sealocr's end-to-end tests run it against the sidecar to show that an
// implementation nobody here wrote interoperates with the gateway.
//
//   node ohttp_client.mjs GATEWAY_URL CA_FILE IMAGE [AEAD]
//
// GATEWAY_URL is https://HOST:PORT/.well-known/ohttp-gateway; CA_FILE is the
// only certificate authority trusted; AEAD is aes-128-gcm (default),
// aes-256-gcm or chacha20-poly1305. It fetches the key list, picks the
// DHKEM(X25519) config, sends POST /v1/ocr with the image and a Date field
// inside, and prints the inner response status on stderr and its body on
// stdout. Exit status 0 only for an inner 200.
//
// bhttp-js 0.2.1 encodes only the URL's pathname as the :path, dropping the
// query, so the inner request carries no query and the core runs its default
// (document) mode.

import { readFileSync } from "node:fs";
import https from "node:https";
import { hkdfSync, createDecipheriv } from "node:crypto";

import {
  Aes128Gcm,
  Aes256Gcm,
  CipherSuite,
  DhkemX25519HkdfSha256,
  HkdfSha256,
} from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { BHttpDecoder, BHttpEncoder } from "bhttp-js";

const KEM_X25519 = 0x0020;
const KDF_HKDF_SHA256 = 0x0001;

// id, HPKE implementation, key and nonce sizes, Node cipher name.
const AEADS = {
  "aes-128-gcm": { id: 0x0001, impl: () => new Aes128Gcm(), nk: 16, nn: 12, node: "aes-128-gcm" },
  "aes-256-gcm": { id: 0x0002, impl: () => new Aes256Gcm(), nk: 32, nn: 12, node: "aes-256-gcm" },
  "chacha20-poly1305": { id: 0x0003, impl: () => new Chacha20Poly1305(), nk: 32, nn: 12, node: "chacha20-poly1305" },
};

function request(url, ca, method, headers, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, timeout: 60000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

// parseKeyList decodes application/ohttp-keys (RFC 9540): u16 length, then
// key_id u8, kem u16, public key, u16 length of suites, suites.
function parseKeyList(b) {
  const out = [];
  let off = 0;
  while (off < b.length) {
    const len = b.readUInt16BE(off);
    const cfg = b.subarray(off + 2, off + 2 + len);
    off += 2 + len;
    const keyId = cfg[0];
    const kem = cfg.readUInt16BE(1);
    if (kem !== KEM_X25519) continue; // clients skip KEMs they do not implement
    const pk = cfg.subarray(3, 3 + 32);
    const slen = cfg.readUInt16BE(35);
    const suites = [];
    for (let i = 0; i < slen; i += 4) {
      suites.push({ kdf: cfg.readUInt16BE(37 + i), aead: cfg.readUInt16BE(39 + i) });
    }
    out.push({ keyId, kem, pk, suites });
  }
  return out;
}

async function main() {
  const [gatewayURL, caFile, imageFile, aeadName = "aes-128-gcm"] = process.argv.slice(2);
  if (!gatewayURL || !caFile || !imageFile) {
    console.error("usage: node ohttp_client.mjs GATEWAY_URL CA_FILE IMAGE [AEAD]");
    process.exit(2);
  }
  const aead = AEADS[aeadName];
  if (!aead) throw new Error(`unknown AEAD ${aeadName}`);
  const ca = readFileSync(caFile);
  const image = readFileSync(imageFile);

  const keys = await request(gatewayURL, ca, "GET", {});
  if (keys.status !== 200) throw new Error(`key list: HTTP ${keys.status}`);
  const cfg = parseKeyList(keys.body).find((c) => c.suites.some((s) => s.kdf === KDF_HKDF_SHA256 && s.aead === aead.id));
  if (!cfg) throw new Error("no X25519 key configuration offers the suite");

  const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: aead.impl() });
  const pkR = await suite.kem.deserializePublicKey(cfg.pk);

  // The inner request, for the gateway's origin, with the Date field the
  // gateway checks against replays (RFC 9458 section 6.5; an IMF-fixdate).
  const origin = new URL(gatewayURL).origin;
  const inner = new Request(`${origin}/v1/ocr`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream", date: new Date().toUTCString() },
    body: image,
  });
  const bhttpReq = await new BHttpEncoder().encodeRequest(inner);

  // RFC 9458 section 4.3.
  const hdr = Buffer.alloc(7);
  hdr.writeUInt8(cfg.keyId, 0);
  hdr.writeUInt16BE(KEM_X25519, 1);
  hdr.writeUInt16BE(KDF_HKDF_SHA256, 3);
  hdr.writeUInt16BE(aead.id, 5);
  const info = Buffer.concat([Buffer.from("message/bhttp request"), Buffer.from([0]), hdr]);
  const sender = await suite.createSenderContext({ recipientPublicKey: pkR, info });
  const ct = Buffer.from(await sender.seal(bhttpReq));
  const enc = Buffer.from(sender.enc);
  const encRequest = Buffer.concat([hdr, enc, ct]);

  const res = await request(gatewayURL, ca, "POST", {
    "content-type": "message/ohttp-req",
    "content-length": String(encRequest.length),
  }, encRequest);
  if (res.status !== 200 || res.headers["content-type"] !== "message/ohttp-res") {
    throw new Error(`gateway: HTTP ${res.status} ${res.headers["content-type"]}: ${res.body.toString()}`);
  }

  // RFC 9458 section 4.4.
  const nSecret = Math.max(aead.nn, aead.nk);
  const secret = Buffer.from(await sender.export(new TextEncoder().encode("message/bhttp response"), nSecret));
  const responseNonce = res.body.subarray(0, nSecret);
  const sealed = res.body.subarray(nSecret);
  const salt = Buffer.concat([enc, responseNonce]);
  const key = Buffer.from(hkdfSync("sha256", secret, salt, "key", aead.nk));
  const nonce = Buffer.from(hkdfSync("sha256", secret, salt, "nonce", aead.nn));
  const tag = sealed.subarray(sealed.length - 16);
  const decipher = createDecipheriv(aead.node, key, nonce, { authTagLength: 16 });
  decipher.setAuthTag(tag);
  const bhttpRes = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);

  const out = new BHttpDecoder().decodeResponse(bhttpRes);
  const text = await out.text();
  console.error(`inner status ${out.status} ${out.headers.get("content-type")}`);
  process.stdout.write(text);
  process.exit(out.status === 200 ? 0 : 1);
}

main().catch((err) => {
  console.error(`ohttp_client: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
