// Oblivious HTTP client (RFC 9458) over HPKE (RFC 9180, @hpke/*): parses an
// application/ohttp-keys list (RFC 9540), picks a configuration, seals a
// Binary HTTP request and opens the matching response.

import { Aes128Gcm, Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { XWing } from "@hpke/hybridkem-x-wing";

export const KEYS_MEDIA_TYPE = "application/ohttp-keys";
export const REQUEST_MEDIA_TYPE = "message/ohttp-req";
export const RESPONSE_MEDIA_TYPE = "message/ohttp-res";

/**
 * The RFC 9457 problem type of RFC 9458 Section 6.5.2: the gateway refused
 * the request because of its Date field.
 */
export const DATE_PROBLEM_TYPE = "https://iana.org/assignments/http-problem-types#date";

const REQUEST_LABEL = "message/bhttp request";
const RESPONSE_LABEL = "message/bhttp response";

/** KEMs this client implements, by identifier, preferred first. */
const KEMS = new Map([
  [0x647a, { name: "ML-KEM-768+X25519 (X-Wing)", npk: 1216, make: () => new XWing() }],
  [0x0020, { name: "X25519", npk: 32, make: () => new DhkemX25519HkdfSha256() }],
]);
const KDF_HKDF_SHA256 = 0x0001;
/** AEADs this client implements, preferred first. */
const AEADS = new Map([
  [0x0002, { name: "AES-256-GCM", nk: 32, nn: 12, make: () => new Aes256Gcm() }],
  [0x0003, { name: "ChaCha20-Poly1305", nk: 32, nn: 12, make: () => new Chacha20Poly1305() }],
  [0x0001, { name: "AES-128-GCM", nk: 16, nn: 12, make: () => new Aes128Gcm() }],
]);

const utf8 = new TextEncoder();

function u16(b, o) {
  return (b[o] << 8) | b[o + 1];
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Parses an application/ohttp-keys body: a sequence of u16 length and key
 * configuration. Configurations with a KEM this client does not implement
 * are kept with publicKey null (they cannot be parsed further).
 * @param {Uint8Array} b
 */
export function parseKeyList(b) {
  const out = [];
  let o = 0;
  while (o < b.length) {
    if (o + 2 > b.length) throw new Error("ohttp-keys: truncated length");
    const n = u16(b, o);
    o += 2;
    if (n < 3 || o + n > b.length) throw new Error("ohttp-keys: truncated configuration");
    out.push(parseKeyConfig(b.subarray(o, o + n)));
    o += n;
  }
  return out;
}

/** Parses one key configuration (RFC 9458 Section 3.1). */
export function parseKeyConfig(raw) {
  const keyId = raw[0];
  const kemId = u16(raw, 1);
  const kem = KEMS.get(kemId);
  if (!kem) return { raw, keyId, kemId, publicKey: null, suites: [] };
  let o = 3 + kem.npk;
  if (o + 2 > raw.length) throw new Error("ohttp-keys: short public key");
  const publicKey = raw.slice(3, o);
  const sl = u16(raw, o);
  o += 2;
  if (sl === 0 || sl % 4 !== 0 || o + sl !== raw.length) throw new Error("ohttp-keys: bad suite list");
  const suites = [];
  for (; o < raw.length; o += 4) suites.push({ kdf: u16(raw, o), aead: u16(raw, o + 2) });
  return { raw, keyId, kemId, publicKey, suites };
}

/**
 * Picks the preferred configuration and suite this client implements, or
 * returns null.
 */
export function selectConfig(configs) {
  for (const kemId of KEMS.keys()) {
    for (const cfg of configs) {
      if (cfg.kemId !== kemId || !cfg.publicKey) continue;
      for (const aeadId of AEADS.keys()) {
        if (cfg.suites.some((s) => s.kdf === KDF_HKDF_SHA256 && s.aead === aeadId)) {
          return { config: cfg, kdf: KDF_HKDF_SHA256, aead: aeadId };
        }
      }
    }
  }
  return null;
}

/** Human-readable names of a selection, for the page. */
export function describe(sel) {
  return { kem: KEMS.get(sel.config.kemId).name, aead: AEADS.get(sel.aead).name, keyId: sel.config.keyId };
}

/**
 * The fingerprint shown to the user: SHA-256 of the encoded key
 * configuration, first 16 hex digits in groups of four.
 */
export async function fingerprint(raw) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
  const hex = Array.from(d.subarray(0, 8), (x) => x.toString(16).padStart(2, "0")).join("");
  return hex.match(/.{4}/g).join(" ");
}

/**
 * Encapsulates one Binary HTTP request for the selected configuration.
 * Returns the message/ohttp-req body and a function that opens the
 * message/ohttp-res body answering it. ekm (ephemeral key pair) is for
 * known-answer tests only.
 * @param {{config: any, kdf: number, aead: number}} sel
 * @param {Uint8Array} bhttpRequest
 */
export async function encapsulate(sel, bhttpRequest, ekm) {
  const { config, kdf, aead } = sel;
  const ap = AEADS.get(aead);
  const suite = new CipherSuite({ kem: KEMS.get(config.kemId).make(), kdf: new HkdfSha256(), aead: ap.make() });
  const hdr = new Uint8Array([config.keyId, config.kemId >> 8, config.kemId & 0xff, kdf >> 8, kdf & 0xff, aead >> 8, aead & 0xff]);
  const info = concat(utf8.encode(REQUEST_LABEL), new Uint8Array([0]), hdr);
  const recipientPublicKey = await suite.kem.deserializePublicKey(config.publicKey.buffer.slice(
    config.publicKey.byteOffset, config.publicKey.byteOffset + config.publicKey.byteLength));
  const sender = await suite.createSenderContext({ recipientPublicKey, info: info.buffer, ekm });
  const ct = new Uint8Array(await sender.seal(bhttpRequest.slice().buffer));
  const enc = new Uint8Array(sender.enc);
  const secretLen = Math.max(ap.nk, ap.nn);
  const secret = await sender.export(utf8.encode(RESPONSE_LABEL).buffer, secretLen);
  const body = concat(hdr, enc, ct);

  /** Opens the encapsulated response (RFC 9458 Section 4.4). */
  async function open(res) {
    if (res.length < secretLen + 16) throw new Error("ohttp: short response");
    const nonce = res.subarray(0, secretLen);
    const salt = concat(enc, nonce);
    const ikm = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveBits"]);
    const hkdf = (label, n) => crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info: utf8.encode(label) }, ikm, n * 8);
    const key = await hkdf("key", ap.nk);
    const aeadNonce = await hkdf("nonce", ap.nn);
    const ctx = suite.aead.createEncryptionContext(key);
    const pt = await ctx.open(aeadNonce, res.slice(secretLen).buffer, new ArrayBuffer(0));
    return new Uint8Array(pt);
  }
  return { body, open };
}

/**
 * Formats a time (milliseconds since the epoch) as an HTTP-date in the
 * IMF-fixdate form (RFC 9110 Section 5.6.7), e.g.
 * "Sun, 06 Nov 1994 08:49:37 GMT": the inner request's Date field, which
 * the gateway checks against replays (RFC 9458 Section 6.5).
 * @param {number} ms
 */
export function httpDate(ms) {
  return new Date(ms).toUTCString();
}

/**
 * Returns the gateway's clock (milliseconds since the epoch, from its Date
 * field) when a decoded inner response is the date problem of RFC 9458
 * Section 6.5.2 (400, application/problem+json of DATE_PROBLEM_TYPE), and
 * null for any other response. The answer is authenticated by the
 * encapsulation, so a relay cannot forge it.
 * @param {{status: number, headers: [string, string][], content: Uint8Array}} answer
 */
export function dateProblemTime(answer) {
  if (answer.status !== 400) return null;
  const field = (n) => answer.headers.find(([name]) => name.toLowerCase() === n)?.[1] ?? "";
  if (field("content-type").split(";")[0].trim().toLowerCase() !== "application/problem+json") return null;
  let problem;
  try {
    problem = JSON.parse(new TextDecoder().decode(answer.content));
  } catch {
    return null;
  }
  if (problem?.type !== DATE_PROBLEM_TYPE) return null;
  const t = Date.parse(field("date"));
  return Number.isFinite(t) ? t : null;
}
