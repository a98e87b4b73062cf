// The page's OpenID Connect helpers: the PKCE S256 known answer of RFC 7636
// Appendix B, the authorization request, the callback and the ID token
// checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { b64url, begin, callbackParams, challenge, checkIDToken, takePending } from "../oidc.js";

class Store {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

const jwt = (claims) => `${b64url(new TextEncoder().encode('{"alg":"RS256"}'))}.${b64url(new TextEncoder().encode(JSON.stringify(claims)))}.sig`;

test("RFC 7636 Appendix B: S256 challenge", async () => {
  assert.equal(await challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
});

test("begin: a code request with PKCE S256, state and nonce remembered for the tab only", async () => {
  const store = new Store();
  const cfg = { issuer: "https://op.example", client_id: "webui", scopes: ["openid", "email"],
    authorization_endpoint: "https://op.example/authorize?tenant=a", token_endpoint: "https://op.example/token" };
  const u = new URL(await begin(cfg, "https://ocr.example/", store));
  const q = u.searchParams;
  assert.equal(u.origin + u.pathname, "https://op.example/authorize");
  assert.equal(q.get("tenant"), "a");
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("client_id"), "webui");
  assert.equal(q.get("redirect_uri"), "https://ocr.example/");
  assert.equal(q.get("scope"), "openid email");
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.equal(q.has("client_secret"), false);
  const p = takePending(store);
  assert.equal(q.get("state"), p.state);
  assert.equal(q.get("nonce"), p.nonce);
  assert.equal(q.get("code_challenge"), await challenge(p.verifier));
  assert.ok(p.verifier.length >= 43 && p.state.length >= 32 && p.nonce.length >= 32);
  assert.equal(takePending(store), null, "taken once");
});

test("callbackParams", () => {
  assert.deepEqual(callbackParams("https://x/?code=c&state=s"), { code: "c", state: "s", error: "" });
  assert.deepEqual(callbackParams("https://x/?error=access_denied&state=s"), { code: "", state: "s", error: "access_denied" });
  assert.equal(callbackParams("https://x/?code=c"), null);
  assert.equal(callbackParams("https://x/"), null);
});

test("checkIDToken: issuer, audience, azp, nonce, expiry", () => {
  const pending = { issuer: "https://op.example", clientID: "webui", nonce: "n1" };
  const good = { iss: "https://op.example", aud: "webui", nonce: "n1", exp: 2000, sub: "u" };
  assert.equal(checkIDToken(jwt(good), pending, 1000), 2000);
  assert.equal(checkIDToken(jwt({ ...good, aud: ["webui", "api"], azp: "webui" }), pending, 1000), 2000);
  for (const [name, c] of Object.entries({
    iss: { ...good, iss: "https://evil.example" },
    aud: { ...good, aud: "other" },
    azp: { ...good, aud: ["webui", "api"], azp: "api" },
    nonce: { ...good, nonce: "n2" },
    exp: { ...good, exp: 999 },
  })) {
    assert.throws(() => checkIDToken(jwt(c), pending, 1000), new RegExp(name), name);
  }
  assert.throws(() => checkIDToken("opaque-token", pending, 1000));
});
