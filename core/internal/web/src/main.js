// sealocr's page: pick, drop or paste an image, send it to POST /v1/ocr and
// show the boxes and lines. Behind the sidecar the request is sealed in the
// browser with Oblivious HTTP (RFC 9458); served by the core alone it is a
// plain request, and the page says so. Which of the two serves it, and what
// credentials the sidecar requires, it learns from GET /v1/auth-info; when
// that or the key list cannot be fetched it retries and then refuses to
// send: never plaintext by accident. An API key or token is kept in memory
// for the tab and sent only inside the encapsulated request. When the
// sidecar names an OpenID Provider the page also offers "Sign in with
// <provider>": the authorization code flow with PKCE (oidc.js), whose ID
// token is then held and sent like a typed one.

import { decodeResponse, encodeRequest } from "./bhttp.js";
import { STRINGS, initialLang, lang, say, setLang, t } from "./i18n.js";
import * as ohttp from "./ohttp.js";
import * as oidc from "./oidc.js";

const GATEWAY = "/.well-known/ohttp-gateway";
const AUTH_INFO = "/v1/auth-info";
const $ = (id) => document.getElementById(id);

/**
 * An OpenID authorization response (code, state) in the address: taken out
 * of the address bar and the history entry before anything else runs, so
 * that it is never shown, bookmarked, sent as a referrer or reused.
 */
let oidcCallback = oidc.callbackParams(location.href);
if (oidcCallback) history.replaceState(null, "", location.pathname);

/**
 * The transport in use: {kind, sel, fingerprint}. kind is "checking",
 * "ohttp" (behind the sidecar), "plain" (the core alone, on loopback),
 * "plainRefused" (the core alone, elsewhere: nothing is sent), "none" (no
 * usable key) or "unreachable" (who serves the page, or its keys, could not
 * be learnt: nothing is sent).
 */
let transport = { kind: "checking" };
let transportReady;
/** What GET /v1/auth-info said: {server, transport, auth: {mode, methods}}. */
let info = null;
/**
 * The API key or token, held in this module's memory only (never in
 * localStorage, sessionStorage, a cookie or a URL) and sent only inside the
 * OHTTP-encapsulated request. "" when signed out.
 */
let credential = "";
/** When credential is an ID token: its exp (seconds since the epoch); else 0. */
let credentialExp = 0;
/** The last result and the name of its file. */
let result = null;
let baseName = "ocr";
let imageURL = null;
/** What the last recognised file was sent as, for the searchable PDF. */
let sent = null;

/** Attempts at fetching the page's configuration, and the first backoff (ms). */
const CONFIG_ATTEMPTS = 4;
const CONFIG_BACKOFF = 500;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * GETs url and returns the response when it is 2xx with the media type
 * want; retries a network error, 408, 429 and 5xx with a growing random
 * backoff, CONFIG_ATTEMPTS times in all; returns null when it never got one.
 */
async function fetchConfig(url, want) {
  for (let attempt = 1; ; attempt++) {
    let res = null;
    try {
      res = await fetch(url, { cache: "no-store", credentials: "omit" });
    } catch {
      // a network error: retried
    }
    if (res) {
      const ct = (res.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
      if (res.ok) return ct === want ? res : null;
      if (res.status !== 408 && res.status !== 429 && res.status < 500) return null;
    }
    if (attempt >= CONFIG_ATTEMPTS) return null;
    await sleep(CONFIG_BACKOFF * 2 ** (attempt - 1) * (1 + Math.random()));
  }
}

/** Reports whether this page was loaded from this computer. */
function onLoopback() {
  const h = location.hostname.toLowerCase();
  return h === "localhost" || h === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Learns who serves the page (GET /v1/auth-info: the sidecar answers it
 * itself) and, behind the sidecar, fetches the gateway's keys. Plain
 * requests only on the core's own answer and on loopback: any failure
 * leaves the page unable to send, never sending in the clear.
 */
async function detectTransport() {
  const res = await fetchConfig(AUTH_INFO, "application/json");
  let got = null;
  try {
    got = res && (await res.json());
  } catch {
    got = null;
  }
  if (got?.server === "core" && got.transport === "plain") {
    info = got;
    return { kind: onLoopback() ? "plain" : "plainRefused" };
  }
  if (got?.server !== "sidecar" || got.transport !== "ohttp") return { kind: "unreachable" };
  info = got;
  const keys = await fetchConfig(GATEWAY, ohttp.KEYS_MEDIA_TYPE);
  if (!keys) return { kind: "unreachable" };
  try {
    const sel = ohttp.selectConfig(ohttp.parseKeyList(new Uint8Array(await keys.arrayBuffer())));
    if (!sel) return { kind: "none" };
    return { kind: "ohttp", sel, fingerprint: await ohttp.fingerprint(sel.config.raw) };
  } catch {
    return { kind: "none" };
  }
}

/** The OHTTP auth mode the sidecar announced: "off", "optional" or "required". */
const authMode = () => (transport.kind === "ohttp" && info?.auth?.mode) || "off";

/** Shows the sign-in form or the signed-in bar, and hides the upload while a required credential is missing. */
function showAuth() {
  const mode = authMode();
  const signedIn = credential !== "";
  $("signin").hidden = mode === "off" || signedIn;
  $("signed-in").hidden = mode === "off" || !signedIn;
  $("input").hidden = mode === "required" && !signedIn;
  say($("signin-intro"), mode === "required" ? "signInRequired" : "signInOptional");
  const cfg = oidcConfig();
  $("oidc").hidden = !cfg;
  if (cfg) say($("oidc-signin"), "signInWith", { host: oidc.issuerHost(cfg.issuer) });
}

/**
 * The OpenID Provider the sidecar announced, once it knows its endpoints;
 * null when there is none.
 */
function oidcConfig() {
  const o = info?.auth?.oidc;
  if (authMode() === "off" || !info.auth.methods?.includes("oidc")) return null;
  return o?.issuer && o.client_id && o.authorization_endpoint && o.token_endpoint ? o : null;
}

/** Goes to the provider's sign-in page; it comes back to this page. */
async function signInOIDC() {
  const cfg = oidcConfig();
  if (!cfg) return;
  location.assign(await oidc.begin(cfg, location.origin + location.pathname));
}

/**
 * Completes a sign-in the provider sent back: the state must be the one
 * this tab sent, the provider the one the sidecar names; the code is
 * exchanged for the ID token, whose issuer, audience, nonce and expiry are
 * checked before it becomes the credential.
 */
async function finishOIDC() {
  const cb = oidcCallback;
  oidcCallback = null;
  if (!cb) return;
  const pending = oidc.takePending();
  const cfg = oidcConfig();
  const failed = () => {
    say($("signin-message"), "oidcFailed", { host: oidc.issuerHost(cfg?.issuer || pending?.issuer || "") });
    showAuth();
  };
  if (cb.error || !pending || !cfg || cb.state !== pending.state || pending.issuer !== cfg.issuer ||
      pending.clientID !== cfg.client_id || pending.tokenEndpoint !== cfg.token_endpoint) {
    failed();
    return;
  }
  const msg = $("message");
  msg.dataset.kind = "busy";
  say(msg, "oidcFinishing");
  try {
    const got = await oidc.exchange(pending, cb.code, Date.now() / 1000);
    credential = got.token;
    credentialExp = got.exp;
    msg.dataset.kind = "";
    say(msg, "signedInMsg");
    say($("signin-message"), "");
    showAuth();
  } catch {
    msg.dataset.kind = "";
    say(msg, "");
    failed();
  }
}

function signIn(e) {
  e.preventDefault();
  const field = $("credential");
  const v = field.value.trim();
  field.value = "";
  if (!v) return;
  credential = v;
  credentialExp = 0;
  say($("signin-message"), "");
  const msg = $("message");
  msg.dataset.kind = "";
  say(msg, "signedInMsg");
  showAuth();
}

function signOut() {
  credential = "";
  credentialExp = 0;
  oidc.clearPending();
  $("credential").value = "";
  const msg = $("message");
  msg.dataset.kind = "";
  say(msg, "signedOut");
  showAuth();
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
  } else if (transport.kind === "plainRefused") {
    say($("transport-title"), "plainRefused");
    say($("transport-detail"), "plainRefusedDetail");
  } else if (transport.kind === "none") {
    say($("transport-title"), "noKeys");
    say($("transport-detail"), "noKeysDetail");
  } else if (transport.kind === "unreachable") {
    say($("transport-title"), "unreachable");
    say($("transport-detail"), "unreachableDetail");
  }
  showAuth();
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
    headers: [
      ["content-type", "application/octet-stream"],
      ["date", ohttp.httpDate(Date.now() + clockOffset)],
      // The credential travels only here, inside the encapsulated request.
      ...(credential ? [["authorization", `Bearer ${credential}`]] : []),
    ],
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
  return answer.content;
}

/** Sends the image as a plain request to the core (only when the core alone serves the page on loopback). */
async function ocrPlain(bytes, path) {
  if (transport.kind !== "plain") throw new OCRError("unreachableDetail");
  const res = await post(path, { headers: { "content-type": "application/octet-stream" }, body: bytes });
  const raw = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw answerError(res.status, raw, res.headers.get("retry-after"));
  return raw;
}

/** Whether the browser can show the file itself (a PDF or a TIFF it cannot: the core sends the pages). */
const showable = (file) => file.type.startsWith("image/") && !/tiff/.test(file.type);

/** Whether the file is one the core reads: an image or a PDF. */
const acceptable = (file) => !file.type || file.type.startsWith("image/") || file.type === "application/pdf";

/** Sends bytes to /v1/ocr with the query q, encrypted or plain as the transport says, with retries; returns the answer's bytes. */
function send(bytes, q, msg, workingKey) {
  const path = `/v1/ocr?${new URLSearchParams(q)}`;
  const encrypted = transport.kind === "ohttp";
  return withRetries(() => (encrypted ? ocrOHTTP(bytes, path) : ocrPlain(bytes, path)), msg, workingKey);
}

async function recognise(file) {
  const msg = $("message");
  if (!acceptable(file)) {
    say(msg, "notImage");
    msg.dataset.kind = "error";
    return;
  }
  await transportReady;
  if (transport.kind === "unreachable") {
    // Ask once more, with the same retries, before giving up.
    msg.dataset.kind = "busy";
    say(msg, "checking");
    transportReady = detectTransport().then((tr) => {
      transport = tr;
      showTransport();
    });
    await transportReady;
  }
  const refusal = { none: "noKeysDetail", unreachable: "unreachableDetail", plainRefused: "plainRefusedDetail" }[transport.kind];
  if (refusal || (transport.kind !== "ohttp" && transport.kind !== "plain")) {
    say(msg, refusal || "unreachableDetail");
    msg.dataset.kind = "error";
    return;
  }
  if (credential && credentialExp && Date.now() / 1000 >= credentialExp - 10) {
    // The provider's token has expired (or is about to): sign in again.
    credential = "";
    credentialExp = 0;
    say(msg, "sessionExpired");
    msg.dataset.kind = "error";
    showAuth();
    say($("signin-message"), "sessionExpired");
    return;
  }
  if (authMode() === "required" && !credential) {
    say(msg, "signInFirst");
    msg.dataset.kind = "error";
    showAuth();
    return;
  }
  baseName = (file.name || "ocr").replace(/\.[^.]*$/, "") || "ocr";
  if (imageURL) URL.revokeObjectURL(imageURL);
  imageURL = null;
  const own = showable(file);
  if (own) imageURL = URL.createObjectURL(file);
  $("image").src = imageURL || "";
  $("image").hidden = !own;
  $("boxes").replaceChildren();
  $("more-pages").replaceChildren();
  $("lines").replaceChildren();
  $("result").hidden = false;
  $("result").setAttribute("aria-busy", "true");
  msg.dataset.kind = "busy";
  const encrypted = transport.kind === "ohttp";
  const workingKey = encrypted ? "encrypting" : "working";
  say(msg, workingKey);
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const q = { mode: $("mode").value };
    // What the browser cannot show (a PDF, a TIFF), the core sends back
    // as one picture per page for the boxes.
    if (!own) q.page_images = "jpeg";
    const raw = await send(bytes, q, msg, workingKey);
    result = JSON.parse(new TextDecoder().decode(raw));
    sent = { bytes, mode: q.mode };
    render(result);
    msg.dataset.kind = "done";
    const pages = result.pages?.length || 1;
    const n = (result.pages || [result]).reduce((a, p) => a + p.lines.length, 0);
    const key = (pages > 1 ? "donePages" : n === 1 ? "doneOne" : "done") + (encrypted ? "Encrypted" : "");
    say(msg, key, { n, pages, ms: Math.round(result.elapsed_ms) });
  } catch (e) {
    result = null;
    msg.dataset.kind = "error";
    if (e instanceof OCRError) say(msg, e.key, e.vars);
    else say(msg, "err_http", { status: "?" });
    if (e instanceof OCRError && e.key === "err_unauthorized" && encrypted) {
      // The key or token was refused: forget it and ask again.
      credential = "";
      credentialExp = 0;
      showAuth();
      say($("signin-message"), "err_unauthorized");
      $("credential").focus();
    }
  } finally {
    $("result").removeAttribute("aria-busy");
  }
}

const SVG = "http://www.w3.org/2000/svg";

/** Page pictures shown now (blob: URLs, revoked with the next result). */
let pictureURLs = [];

/**
 * Turns a page picture (a data: URL of a JPEG) into a blob: URL: the
 * page's Content-Security-Policy allows images from blob: and 'self' only.
 */
function pictureURL(dataURL) {
  const b64 = dataURL.slice(dataURL.indexOf(",") + 1);
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: "image/jpeg" }));
  pictureURLs.push(url);
  return url;
}

/** Draws the boxes of one page's lines into svg and lists its lines in list. */
function renderPage(page, svg, list) {
  svg.setAttribute("viewBox", `0 0 ${page.width} ${page.height}`);
  page.lines.forEach((line) => {
    const p = document.createElementNS(SVG, "polygon");
    p.setAttribute("points", line.box.map(([x, y]) => `${x},${y}`).join(" "));
    p.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(p);

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
}

function render(r) {
  pictureURLs.forEach((u) => URL.revokeObjectURL(u));
  pictureURLs = [];
  const pages = r.pages?.length ? r.pages : [{ page: 1, width: r.width, height: r.height, lines: r.lines }];
  const list = $("lines");
  pages.forEach((page, i) => {
    let svg = $("boxes");
    let img = $("image");
    if (i > 0) {
      // Pages after the first: a stage of their own under the first.
      const stage = document.createElement("div");
      stage.className = "stage";
      img = document.createElement("img");
      img.alt = t("pageHeading", { n: page.page });
      svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("class", "boxes");
      svg.setAttribute("aria-hidden", "true");
      svg.setAttribute("preserveAspectRatio", "none");
      stage.append(img, svg);
      $("more-pages").append(stage);
    }
    if (page.image) {
      img.src = pictureURL(page.image);
      img.hidden = false;
    }
    if (pages.length > 1) {
      const h = document.createElement("li");
      h.className = "page-heading";
      say(h, "pageHeading", { n: page.page });
      list.append(h);
    }
    renderPage(page, svg, list);
  });
  if (pages.every((p) => p.lines.length === 0)) {
    const li = document.createElement("li");
    li.className = "empty";
    say(li, "noLines");
    list.append(li);
  }
  $("text").value = r.text;
}

/** Asks the core for the searchable PDF of what was last recognised (sent again, sealed afresh) and downloads it. */
async function downloadPDF() {
  if (!sent) return;
  const msg = $("message");
  msg.dataset.kind = "busy";
  say(msg, "makingPDF");
  try {
    const pdf = await send(sent.bytes, { mode: sent.mode, output: "pdf" }, msg, "makingPDF");
    download(`${baseName}.searchable.pdf`, "application/pdf", pdf);
    msg.dataset.kind = "done";
    say(msg, "downloadPDF");
  } catch (e) {
    msg.dataset.kind = "error";
    if (e instanceof OCRError) say(msg, e.key, e.vars);
    else say(msg, "err_http", { status: "?" });
  }
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
    if (f && f.type && acceptable(f)) return f;
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
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("oidc-signin").addEventListener("click", () => {
    signInOIDC().catch(() => say($("signin-message"), "oidcFailed", { host: "" }));
  });
  $("copy-text").addEventListener("click", () => result && copy(result.text));
  $("copy-json").addEventListener("click", () => result && copy(json()));
  $("download-text").addEventListener("click", () => result && download(`${baseName}.txt`, "text/plain;charset=utf-8", result.text + "\n"));
  $("download-json").addEventListener("click", () => result && download(`${baseName}.json`, "application/json", json()));
  $("download-pdf").addEventListener("click", () => result && downloadPDF());
}

function start() {
  setLang(initialLang());
  wire();
  transportReady = detectTransport().then((tr) => {
    transport = tr;
    showTransport();
    return finishOIDC();
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
