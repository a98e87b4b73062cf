#!/usr/bin/python3
"""A legacy AES-256-CBC client written only with pycryptodome's AES (Debian's
python3-pycryptodome, which installs it as Cryptodome.Cipher.AES; pip's
pycryptodome names it Crypto.Cipher.AES) and the standard library, as an existing
client of the legacy endpoint would be. sealocr's end-to-end tests run it
against the sidecar.

    AES_SECRET_KEY=... [LEGACY_MAC=1] legacy_client.py URL CA_FILE IMAGE

URL is the sidecar's legacy endpoint (https://HOST:PORT/ocr), CA_FILE the only
trusted certificate authority. The key is the UTF-8 bytes of AES_SECRET_KEY
(32 bytes). With LEGACY_MAC=1 the request carries the optional encrypt-then-MAC
member (PROTOCOL.md section 3.2, written here with the standard library's hmac
and hashlib only) and the response's MAC is checked before decryption. Prints
the decrypted response (the core's JSON) on stdout; exits 1 with the HTTP
status and body on stderr when the sidecar refuses.
"""

import base64
import hashlib
import hmac
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

try:
    from Cryptodome.Cipher import AES  # Debian's python3-pycryptodome
except ImportError:
    from Crypto.Cipher import AES  # pip's pycryptodome

BLOCK = 16


def pkcs7_pad(data):
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def pkcs7_unpad(data):
    if not data or len(data) % BLOCK:
        raise ValueError("bad length")
    n = data[-1]
    if n < 1 or n > BLOCK or data[-n:] != bytes([n]) * n:
        raise ValueError("bad padding")
    return data[:-n]


MAC_INFO = b"sealocr legacy-cbc mac v1"


def mac_key(key):
    """HKDF-SHA256(IKM=key, salt=empty, info=MAC_INFO, L=32), RFC 5869."""
    prk = hmac.new(b"\x00" * 32, key, hashlib.sha256).digest()
    return hmac.new(prk, MAC_INFO + b"\x01", hashlib.sha256).digest()


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, ca_file, image_file = sys.argv[1:]
    key = os.environ["AES_SECRET_KEY"].encode("utf-8")
    if len(key) != 32:
        print("AES_SECRET_KEY must be 32 bytes", file=sys.stderr)
        return 2
    with open(image_file, "rb") as f:
        image = f.read()

    iv = os.urandom(BLOCK)
    ct = AES.new(key, AES.MODE_CBC, iv).encrypt(pkcs7_pad(image))
    msg = {"data": base64.b64encode(iv + ct).decode("ascii"), "algorithm": "AES-256-CBC"}
    use_mac = os.environ.get("LEGACY_MAC") == "1"
    if use_mac:
        kmac = mac_key(key)
        req_mac = hmac.new(kmac, b"AES-256-CBC" + iv + ct, hashlib.sha256).digest()
        msg["mac"] = base64.b64encode(req_mac).decode("ascii")
    body = json.dumps(msg).encode()

    ctx = ssl.create_default_context(cafile=ca_file)
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=60) as res:
            answer = json.loads(res.read())
    except urllib.error.HTTPError as e:
        print("HTTP %d %s" % (e.code, e.read().decode("utf-8", "replace")), file=sys.stderr)
        return 1
    if answer.get("status") != "success":
        print("status %r" % answer.get("status"), file=sys.stderr)
        return 1
    raw = base64.b64decode(answer["result"], validate=True)
    if use_mac:
        want = hmac.new(kmac, b"response" + req_mac + b"AES-256-CBC" + raw, hashlib.sha256).digest()
        got = base64.b64decode(answer.get("mac", ""), validate=True)
        if not hmac.compare_digest(got, want):
            print("response MAC does not verify", file=sys.stderr)
            return 1
    plain = pkcs7_unpad(AES.new(key, AES.MODE_CBC, raw[:BLOCK]).decrypt(raw[BLOCK:]))
    sys.stdout.write(plain.decode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
