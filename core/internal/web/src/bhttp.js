// Binary HTTP (RFC 9292): known-length encoding of a request and decoding of
// a response. Only what the page needs: one request with content, and a
// response that may be preceded by informational responses, may be
// truncated (Section 3.8) and may carry zero padding.

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Appends a QUIC variable-length integer (RFC 9000 Section 16). */
export function appendVarint(out, n) {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("varint out of range");
  if (n < 0x40) {
    out.push(n);
  } else if (n < 0x4000) {
    out.push(0x40 | (n >>> 8), n & 0xff);
  } else if (n < 0x40000000) {
    out.push(0x80 | (n >>> 24), (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  } else {
    const hi = Math.floor(n / 0x100000000);
    const lo = n >>> 0;
    out.push(0xc0 | (hi >>> 24), (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff,
      lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  }
  return out;
}

function appendBytes(out, b) {
  appendVarint(out, b.length);
  for (const x of b) out.push(x);
}

/**
 * Encodes a request in the known-length framing (indicator 0), without
 * truncation.
 * @param {{method: string, scheme: string, authority: string, path: string,
 *          headers?: [string, string][], content?: Uint8Array}} r
 * @returns {Uint8Array}
 */
export function encodeRequest(r) {
  const head = [0];
  for (const s of [r.method, r.scheme, r.authority, r.path]) appendBytes(head, enc.encode(s));
  const fields = [];
  for (const [name, value] of r.headers ?? []) {
    if (name === "") throw new Error("empty field name");
    appendBytes(fields, enc.encode(name.toLowerCase()));
    appendBytes(fields, enc.encode(value));
  }
  appendVarint(head, fields.length);
  const content = r.content ?? new Uint8Array(0);
  const mid = appendVarint([], content.length);
  const tail = [0]; // empty trailer section
  const out = new Uint8Array(head.length + fields.length + mid.length + content.length + tail.length);
  let o = 0;
  for (const part of [head, fields, mid, content, tail]) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

class Reader {
  constructor(b) {
    this.b = b;
    this.o = 0;
  }
  get done() {
    return this.o >= this.b.length;
  }
  varint() {
    if (this.done) throw new Error("bhttp: truncated varint");
    const first = this.b[this.o];
    const len = 1 << (first >> 6);
    if (this.o + len > this.b.length) throw new Error("bhttp: truncated varint");
    let n = first & 0x3f;
    for (let i = 1; i < len; i++) n = n * 256 + this.b[this.o + i];
    this.o += len;
    if (!Number.isSafeInteger(n)) throw new Error("bhttp: varint too large");
    return n;
  }
  bytes(n) {
    if (n > this.b.length - this.o) throw new Error("bhttp: truncated");
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  // fields reads a known-length field section; an absent section at the
  // end of the message (truncation) is empty.
  fields() {
    const out = [];
    if (this.done) return out;
    const r = new Reader(this.bytes(this.varint()));
    while (!r.done) {
      const name = dec.decode(r.bytes(r.varint()));
      const value = dec.decode(r.bytes(r.varint()));
      out.push([name, value]);
    }
    return out;
  }
}

/**
 * Decodes a known-length response (indicator 1).
 * @param {Uint8Array} b
 * @returns {{status: number, headers: [string, string][], content: Uint8Array}}
 */
export function decodeResponse(b) {
  const r = new Reader(b);
  const framing = r.varint();
  if (framing !== 1) throw new Error(`bhttp: unsupported framing ${framing}`);
  let status;
  for (let i = 0; ; i++) {
    status = r.varint();
    if (status < 100 || status > 599) throw new Error("bhttp: bad status");
    if (status >= 200) break;
    if (i >= 8) throw new Error("bhttp: too many informational responses");
    r.fields();
  }
  const headers = r.fields();
  const content = r.done ? new Uint8Array(0) : r.bytes(r.varint());
  r.fields(); // trailer
  for (; !r.done; r.o++) if (r.b[r.o] !== 0) throw new Error("bhttp: non-zero padding");
  return { status, headers, content };
}
