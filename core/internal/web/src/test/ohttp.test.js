// Known-answer tests: RFC 9292 Section 5 and RFC 9458 Appendix A, read from
// the sidecar's vector files (the same bytes its Go tests use).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { decodeResponse, encodeRequest } from "../bhttp.js";
import {
  DATE_PROBLEM_TYPE, dateProblemTime, encapsulate, fingerprint, httpDate, parseKeyConfig, parseKeyList, selectConfig,
} from "../ohttp.js";

const vectors = new URL("../../../../../sidecar/internal/envelope/testdata/", import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(name, vectors), "utf8"));
const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b) => Buffer.from(b).toString("hex");

test("RFC 9458 Appendix A: request and response", async () => {
  const v = load("ohttp_rfc9458_appendixA.json");
  const cfg = parseKeyConfig(hex(v.key_config));
  assert.equal(cfg.keyId, 1);
  assert.equal(cfg.kemId, 0x20);
  const sel = { config: cfg, kdf: v.suite.kdf_id, aead: v.suite.aead_id };
  const kem = new DhkemX25519HkdfSha256();
  const ekm = {
    privateKey: await kem.importKey("raw", hex(v.client_skE).buffer, false),
    publicKey: await kem.importKey("raw", hex(v.client_pkE_enc).buffer, true),
  };
  const { body, open } = await encapsulate(sel, hex(v.bhttp_request), ekm);
  assert.equal(toHex(body), v.encapsulated_request);
  const inner = await open(hex(v.encapsulated_response));
  assert.equal(toHex(inner), v.bhttp_response);
  assert.equal(decodeResponse(inner).status, 200);
  await assert.rejects(open(hex(v.encapsulated_response.slice(0, -2) + "00")));
});

test("key list parsing and selection", async () => {
  const v = load("ohttp_rfc9458_appendixA.json");
  const raw = hex(v.key_config);
  const unknown = Uint8Array.of(7, 0x00, 0x10, 1, 2, 3);
  const list = Uint8Array.of(0, unknown.length, ...unknown, raw.length >> 8, raw.length & 0xff, ...raw);
  const cfgs = parseKeyList(list);
  assert.equal(cfgs.length, 2);
  assert.equal(cfgs[0].publicKey, null);
  const sel = selectConfig(cfgs);
  assert.equal(sel.config.keyId, 1);
  assert.equal(sel.aead, 0x0003); // offered: AES-128-GCM and ChaCha20-Poly1305 (preferred)
  assert.match(await fingerprint(raw), /^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
  assert.throws(() => parseKeyList(Uint8Array.of(0, 9, 1)));
});

test("RFC 9292 examples", () => {
  const v = load("bhttp_rfc9292_examples.json");
  const chunked = decodeResponse(hex(v.known_length_response_chunked_trailer));
  assert.equal(chunked.status, 200);
  assert.ok(chunked.content.length > 0);
  assert.equal(decodeResponse(hex(v.ohttp_minimal_response_rfc9458)).status, 200);
  const hello = encodeRequest({
    method: "GET", scheme: "https", authority: "", path: "/hello.txt", headers: [
      ["user-agent", "curl/7.16.3 libcurl/7.16.3 OpenSSL/0.9.7l zlib/1.2.3"],
      ["host", "www.example.com"],
      ["accept-language", "en, mi"],
    ],
  });
  assert.equal(toHex(hello), v.known_length_request);
  assert.throws(() => decodeResponse(hex("0140c8000001")));
  const req = encodeRequest({ method: "GET", scheme: "https", authority: "example.com", path: "/" });
  // RFC 9458 Appendix A's request, untruncated: empty header, content and trailer.
  assert.equal(toHex(req), load("ohttp_rfc9458_appendixA.json").bhttp_request + "000000");
});

test("Date field and the date problem (RFC 9458 Section 6.5)", () => {
  // RFC 9110 Section 5.6.7's example IMF-fixdate.
  const t = Date.UTC(1994, 10, 6, 8, 49, 37);
  assert.equal(httpDate(t), "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(httpDate(t + 999), "Sun, 06 Nov 1994 08:49:37 GMT");

  const problem = (status, type, ct = "application/problem+json", date = "Sun, 06 Nov 1994 08:49:37 GMT") => ({
    status,
    headers: [["Content-Type", ct], ["date", date]],
    content: new TextEncoder().encode(JSON.stringify({ type, title: "date not acceptable" })),
  });
  assert.equal(dateProblemTime(problem(400, DATE_PROBLEM_TYPE)), t);
  assert.equal(DATE_PROBLEM_TYPE, "https://iana.org/assignments/http-problem-types#date");
  assert.equal(dateProblemTime(problem(400, DATE_PROBLEM_TYPE, "application/problem+json; charset=utf-8")), t);
  assert.equal(dateProblemTime(problem(401, DATE_PROBLEM_TYPE)), null);
  assert.equal(dateProblemTime(problem(400, "https://iana.org/assignments/http-problem-types#ohttp-key")), null);
  assert.equal(dateProblemTime(problem(400, DATE_PROBLEM_TYPE, "application/json")), null);
  assert.equal(dateProblemTime(problem(400, DATE_PROBLEM_TYPE, undefined, "yesterday")), null);
  assert.equal(dateProblemTime({ status: 400, headers: [["content-type", "application/problem+json"]], content: new Uint8Array([0x7b]) }), null);
});
