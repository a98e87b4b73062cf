// sealocr's page: pick, drop or paste an image, send it to POST /v1/ocr and
// show the boxes and lines. Behind the sidecar the request is sealed in the
// browser with Oblivious HTTP (RFC 9458); served by the core alone it is a
// plain request, and the page says so.

import { decodeResponse, encodeRequest } from "./bhttp.js";
import { STRINGS, initialLang, lang, say, setLang, t } from "./i18n.js";
import * as ohttp from "./ohttp.js";

const GATEWAY = "/.well-known/ohttp-gateway";
const $ = (id) => document.getElementById(id);

/** The transport in use: {kind: "checking" | "ohttp" | "plain" | "none", sel}. */
let transport = { kind: "checking" };
let transportReady;
/** The last result and the name of its file. */
let result = null;
let baseName = "ocr";
let imageURL = null;

async function detectTransport() {
  let res;
  try {
    res = await fetch(GATEWAY, { cache: "no-store", credentials: "omit" });
  } catch {
    return { kind: "plain" };
  }
  const ct = (res.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
  if (!res.ok || ct !== ohttp.KEYS_MEDIA_TYPE) return { kind: "plain" };
  try {
    const sel = ohttp.selectConfig(ohttp.parseKeyList(new Uint8Array(await res.arrayBuffer())));
    if (!sel) return { kind: "none" };
    return { kind: "ohttp", sel, fingerprint: await ohttp.fingerprint(sel.config.raw) };
  } catch {
    return { kind: "none" };
  }
}

function showTransport() {
  const box = $("transport");
  box.dataset.mode = transport.kind;
  const info = $("key-info");
  info.hidden = transport.kind !== "ohttp";
  if (transport.kind === "ohttp") {
    const d = ohttp.describe(transport.sel);
    say($("transport-title"), "encrypted");
    say($("transport-detail"), "encryptedDetail");
    $("key-desc").textContent = `#${d.keyId} · ${d.kem} · HKDF-SHA256 · ${d.aead}`;
    $("fingerprint").textContent = transport.fingerprint;
  } else if (transport.kind === "plain") {
    say($("transport-title"), "plain");
    say($("transport-detail"), "plainDetail");
  } else if (transport.kind === "none") {
    say($("transport-title"), "noKeys");
    say($("transport-detail"), "noKeysDetail");
  }
}

class OCRError extends Error {
  constructor(key, vars) {
    super(key);
    this.key = key;
    this.vars = vars;
    /** "busy" or "rate_limited" when the server asked to come back later. */
    this.wait = "";
    /** The server's Retry-After in seconds, or 0. */
    this.retryAfter = 0;
  }
}

/** Parses a Retry-After value in seconds (the date form counts as absent). */
function retryAfterSeconds(v) {
  const n = Number.parseInt(String(v ?? "").trim(), 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * Maps an error answer (status, JSON body, Retry-After) to a message key;
 * 429 and 503 "busy" (or 503 with Retry-After) are marked for a retry.
 */
function answerError(status, body, retryAfter) {
  let code = "";
  try {
    code = JSON.parse(new TextDecoder().decode(body))?.error?.code ?? "";
  } catch {
    // not JSON: fall through to the HTTP status
  }
  const e = code && STRINGS.en[`err_${code}`] ? new OCRError(`err_${code}`) : new OCRError("err_http", { status });
  e.retryAfter = retryAfterSeconds(retryAfter);
  if (status === 429) e.wait = "rate_limited";
  else if (status === 503 && (code === "busy" || e.retryAfter > 0)) e.wait = "busy";
  return e;
}

/** Retries after a busy or rate-limited answer, then gives up with a clear message. */
const MAX_RETRIES = 4;
/** A Retry-After longer than this (seconds) is not waited for. */
const MAX_WAIT = 30;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs send() and, while the answer is busy or rate-limited, waits the
 * server's Retry-After (or a random backoff of 1 to 2^n seconds) with a
 * countdown in msg and sends again, at most MAX_RETRIES times. Each send()
 * seals the request afresh.
 */
async function withRetries(send, msg, workingKey) {
  for (let retry = 1; ; retry++) {
    try {
      return await send();
    } catch (e) {
      if (!(e instanceof OCRError) || !e.wait) throw e;
      const wait = e.retryAfter || 1 + Math.floor(Math.random() * 2 ** Math.min(retry, 3));
      if (retry > MAX_RETRIES || wait > MAX_WAIT) {
        const final = new OCRError(e.wait === "busy" ? "busyGaveUp" : "rateLimitedGaveUp", { n: retry - 1 });
        throw final;
      }
      msg.dataset.kind = "retry";
      for (let left = wait; left > 0; left--) {
        say(msg, e.wait === "busy" ? "busyRetrying" : "rateLimitedRetrying", { s: left, n: retry, max: MAX_RETRIES });
        await sleep(1000);
      }
      msg.dataset.kind = "busy";
      say(msg, workingKey);
    }
  }
}

async function post(url, init) {
  try {
    return await fetch(url, { ...init, method: "POST", cache: "no-store", credentials: "omit" });
  } catch {
    throw new OCRError("err_network");
  }
}

/**
 * What to add to this device's clock to read the gateway's, in
 * milliseconds: learnt from a date problem (RFC 9458 section 6.5.2).
 */
let clockOffset = 0;

/**
 * Sends the image through the Oblivious HTTP gateway. The inner request
 * carries a Date field (the gateway refuses replays by it, RFC 9458 section
 * 6.5); retry allows one retry with the gateway's new key, dateRetry one
 * with the clock corrected from a date problem.
 */
async function ocrOHTTP(bytes, path, retry = true, dateRetry = true) {
  const inner = encodeRequest({
    method: "POST", scheme: location.protocol.replace(":", ""), authority: "", path,
    headers: [["content-type", "application/octet-stream"], ["date", ohttp.httpDate(Date.now() + clockOffset)]],
    content: bytes,
  });
  const { body, open } = await ohttp.encapsulate(transport.sel, inner);
  const res = await post(GATEWAY, { headers: { "content-type": ohttp.REQUEST_MEDIA_TYPE }, body });
  const raw = new Uint8Array(await res.arrayBuffer());
  const ct = (res.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
  if (res.status === 400 && ct === "application/problem+json" && retry) {
    // RFC 9458 section 5.3: the key changed; fetch the new one and retry once.
    transport = await detectTransport();
    showTransport();
    if (transport.kind !== "ohttp") throw new OCRError("err_encryption_required");
    return ocrOHTTP(bytes, path, false, dateRetry);
  }
  if (!res.ok || ct !== ohttp.RESPONSE_MEDIA_TYPE) throw answerError(res.status, raw, res.headers.get("retry-after"));
  let answer;
  try {
    answer = decodeResponse(await open(raw));
  } catch {
    throw new OCRError("err_open");
  }
  const serverTime = ohttp.dateProblemTime(answer);
  if (serverTime !== null && dateRetry) {
    // The gateway's clock and ours differ by more than it accepts: measure
    // the offset from its Date and send once more, sealed afresh.
    clockOffset = serverTime - Date.now();
    return ocrOHTTP(bytes, path, retry, false);
  }
  if (answer.status !== 200) {
    const ra = answer.headers.find(([name]) => name.toLowerCase() === "retry-after");
    throw answerError(answer.status, answer.content, ra?.[1]);
  }
  return JSON.parse(new TextDecoder().decode(answer.content));
}

/** Sends the image as a plain request to the core. */
async function ocrPlain(bytes, path) {
  const res = await post(path, { headers: { "content-type": "application/octet-stream" }, body: bytes });
  const raw = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw answerError(res.status, raw, res.headers.get("retry-after"));
  return JSON.parse(new TextDecoder().decode(raw));
}

async function recognise(file) {
  const msg = $("message");
  if (file.type && !file.type.startsWith("image/")) {
    say(msg, "notImage");
    msg.dataset.kind = "error";
    return;
  }
  await transportReady;
  if (transport.kind === "none") {
    say(msg, "noKeysDetail");
    msg.dataset.kind = "error";
    return;
  }
  baseName = (file.name || "ocr").replace(/\.[^.]*$/, "") || "ocr";
  if (imageURL) URL.revokeObjectURL(imageURL);
  imageURL = URL.createObjectURL(file);
  $("image").src = imageURL;
  $("boxes").replaceChildren();
  $("lines").replaceChildren();
  $("result").hidden = false;
  $("result").setAttribute("aria-busy", "true");
  msg.dataset.kind = "busy";
  const encrypted = transport.kind === "ohttp";
  const workingKey = encrypted ? "encrypting" : "working";
  say(msg, workingKey);
  const path = `/v1/ocr?mode=${encodeURIComponent($("mode").value)}`;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    result = await withRetries(() => (encrypted ? ocrOHTTP(bytes, path) : ocrPlain(bytes, path)), msg, workingKey);
    render(result);
    msg.dataset.kind = "done";
    const key = (result.lines.length === 1 ? "doneOne" : "done") + (encrypted ? "Encrypted" : "");
    say(msg, key, { n: result.lines.length, ms: Math.round(result.elapsed_ms) });
  } catch (e) {
    result = null;
    msg.dataset.kind = "error";
    if (e instanceof OCRError) say(msg, e.key, e.vars);
    else say(msg, "err_http", { status: "?" });
  } finally {
    $("result").removeAttribute("aria-busy");
  }
}

const SVG = "http://www.w3.org/2000/svg";

function render(r) {
  const svg = $("boxes");
  svg.setAttribute("viewBox", `0 0 ${r.width} ${r.height}`);
  const list = $("lines");
  const polys = [];
  r.lines.forEach((line, i) => {
    const p = document.createElementNS(SVG, "polygon");
    p.setAttribute("points", line.box.map(([x, y]) => `${x},${y}`).join(" "));
    p.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(p);
    polys.push(p);

    const li = document.createElement("li");
    li.tabIndex = 0;
    const text = document.createElement("span");
    text.className = "line-text";
    text.textContent = line.text;
    const conf = document.createElement("span");
    conf.className = "conf";
    if (line.confidence < 0.8) conf.classList.add("low");
    const pct = `${(line.confidence * 100).toFixed(1)}%`;
    conf.title = `${t("confidence")} ${pct}`;
    conf.textContent = pct;
    // Text and figure side by side in a row of their own: wrapped text
    // stays in its column and never runs under the figure.
    const row = document.createElement("div");
    row.className = "line-row";
    row.append(text, conf);
    li.append(row);
    const on = () => p.classList.add("hot");
    const off = () => p.classList.remove("hot");
    li.addEventListener("mouseenter", on);
    li.addEventListener("mouseleave", off);
    li.addEventListener("focus", on);
    li.addEventListener("blur", off);
    list.append(li);
  });
  if (r.lines.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    say(li, "noLines");
    list.append(li);
  }
  $("text").value = r.text;
}

function download(name, type, data) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function copy(s) {
  const msg = $("message");
  try {
    await navigator.clipboard.writeText(s);
    say(msg, "copied");
  } catch {
    say(msg, "copyFailed");
  }
}

const json = () => JSON.stringify(result, null, 2) + "\n";

function imageFrom(items) {
  for (const it of items ?? []) {
    const f = it.kind === "file" ? it.getAsFile() : it;
    if (f && f.type.startsWith("image/")) return f;
  }
  return null;
}

/** Sizes the image: its natural width, small images up to twice as wide. */
function fitImage() {
  const img = $("image");
  const w = Math.max(img.naturalWidth, Math.min(2 * img.naturalWidth, 640));
  img.parentElement.style.width = `${w}px`;
}

function wire() {
  $("image").addEventListener("load", fitImage);
  $("lang").addEventListener("click", () => setLang(lang() === "zh" ? "en" : "zh"));
  $("file").addEventListener("change", (e) => {
    const f = e.target.files?.[0];
    if (f) recognise(f);
    e.target.value = "";
  });
  const drop = $("drop");
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = imageFrom(e.dataTransfer?.files);
    if (f) recognise(f);
    else say($("message"), "notImage");
  });
  // A file dropped outside the zone must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  document.addEventListener("paste", (e) => {
    const f = imageFrom(e.clipboardData?.items);
    if (f) {
      e.preventDefault();
      recognise(f);
    }
  });
  $("copy-text").addEventListener("click", () => result && copy(result.text));
  $("copy-json").addEventListener("click", () => result && copy(json()));
  $("download-text").addEventListener("click", () => result && download(`${baseName}.txt`, "text/plain;charset=utf-8", result.text + "\n"));
  $("download-json").addEventListener("click", () => result && download(`${baseName}.json`, "application/json", json()));
}

function start() {
  setLang(initialLang());
  wire();
  transportReady = detectTransport().then((tr) => {
    transport = tr;
    showTransport();
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
