// OpenID Connect sign-in for the page: the authorization code flow with
// PKCE (RFC 7636, S256) of a public client (no secret), state and nonce
// checked. The only thing kept across the redirect is the pending request
// (state, nonce, code verifier, where it went) in sessionStorage, removed
// as soon as the page comes back; the ID token itself is never stored.

const PENDING = "sealocr.oidc.pending";

/** base64url without padding of bytes. */
export function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A random base64url string of n bytes (crypto.getRandomValues). */
export function random(n = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** The S256 code challenge of verifier: base64url(SHA-256(verifier)). */
export async function challenge(verifier) {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(d));
}

/**
 * Reads an authorization response from href (code, state or error in the
 * query) and returns {code, state, error} or null. The caller removes it
 * from the address bar first thing.
 */
export function callbackParams(href) {
  const u = new URL(href);
  const q = u.searchParams;
  if (!q.has("state") || (!q.has("code") && !q.has("error"))) return null;
  return { code: q.get("code") || "", state: q.get("state") || "", error: q.get("error") || "" };
}

/**
 * Starts a sign-in: remembers a fresh state, nonce and code verifier for
 * this tab and returns the authorization URL to go to.
 */
export async function begin(cfg, redirectURI, storage = sessionStorage) {
  const pending = {
    state: random(), nonce: random(), verifier: random(48),
    issuer: cfg.issuer, clientID: cfg.client_id, tokenEndpoint: cfg.token_endpoint, redirectURI,
  };
  storage.setItem(PENDING, JSON.stringify(pending));
  const u = new URL(cfg.authorization_endpoint);
  const p = u.searchParams;
  p.set("response_type", "code");
  p.set("client_id", cfg.client_id);
  p.set("redirect_uri", redirectURI);
  p.set("scope", (cfg.scopes?.length ? cfg.scopes : ["openid"]).join(" "));
  p.set("state", pending.state);
  p.set("nonce", pending.nonce);
  p.set("code_challenge", await challenge(pending.verifier));
  p.set("code_challenge_method", "S256");
  return u.toString();
}

/** Takes (reads and removes) the pending sign-in of this tab, or null. */
export function takePending(storage = sessionStorage) {
  const raw = storage.getItem(PENDING);
  storage.removeItem(PENDING);
  try {
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

/** Forgets a pending sign-in (sign-out). */
export function clearPending(storage = sessionStorage) {
  storage.removeItem(PENDING);
}

/** The claims of a compact JWS, unverified (the sidecar verifies it). */
export function claims(jwt) {
  const parts = String(jwt).split(".");
  if (parts.length !== 3) throw new Error("not a JWT");
  const b = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(b, (c) => c.charCodeAt(0))));
}

/**
 * Checks an ID token against the pending request: the issuer and the
 * client (aud, and azp when several audiences), the nonce, and that it has
 * not expired. Returns its expiry (seconds since the epoch) or throws.
 */
export function checkIDToken(idToken, pending, nowSeconds) {
  const c = claims(idToken);
  const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
  if (c.iss !== pending.issuer) throw new Error("iss");
  if (!aud.includes(pending.clientID)) throw new Error("aud");
  if (aud.length > 1 && c.azp !== pending.clientID) throw new Error("azp");
  if (c.nonce !== pending.nonce) throw new Error("nonce");
  if (typeof c.exp !== "number" || c.exp <= nowSeconds) throw new Error("exp");
  return c.exp;
}

/**
 * Exchanges the code at the token endpoint (a public client: the code
 * verifier instead of a secret) and returns the checked ID token and its
 * expiry.
 */
export async function exchange(pending, code, nowSeconds) {
  const body = new URLSearchParams({
    grant_type: "authorization_code", code, redirect_uri: pending.redirectURI,
    client_id: pending.clientID, code_verifier: pending.verifier,
  });
  const res = await fetch(pending.tokenEndpoint, {
    method: "POST", body, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    headers: { accept: "application/json" },
  });
  if (!res.ok) throw new Error(`token endpoint ${res.status}`);
  const got = await res.json();
  if (typeof got.id_token !== "string") throw new Error("no id_token");
  return { token: got.id_token, exp: checkIDToken(got.id_token, pending, nowSeconds) };
}

/** The host name of an issuer URL, for "Sign in with <host>". */
export function issuerHost(issuer) {
  try {
    return new URL(issuer).host;
  } catch {
    return issuer;
  }
}
