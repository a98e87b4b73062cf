#!/usr/bin/env bash
# Installs what the test suite's real outside parts need, only where missing,
# so that `make test` passes on a fresh machine: Debian packages (pebble,
# redis-server, chromium, CJK and Latin fonts, Tesseract, ocrmypdf, poppler-utils, qpdf, pycryptodome, openssl) and the interop clients' pinned npm
# packages. Idempotent; a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# sidecar/internal/envelope/sm4: SM4-CBC and SM4-CTR cross-checks against Debian's OpenSSL 3.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# sidecar/e2e: the legacy interop client uses Debian's pycryptodome (module Cryptodome).
/usr/bin/python3 -c 'import Cryptodome.Cipher.AES' >/dev/null 2>&1 || need_apt+=(python3 python3-pycryptodome)
# sidecar/internal/tlsterm, sidecar/cmd/sidecar: the ACME tests run Debian's pebble and pebble-challtestsrv.
command -v pebble-challtestsrv >/dev/null 2>&1 || need_apt+=(pebble)
# sidecar/internal/redisstate, sidecar/internal/certstore: the shared-state tests run Debian's redis-server.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# core/internal/web: the WebUI tests drive Debian's headless Chromium; CJK fonts for the screenshots.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fc-list 2>/dev/null | grep -i 'Noto Sans CJK' >/dev/null || need_apt+=(fonts-noto-cjk) # no -q: it would SIGPIPE fc-list under pipefail
# core/internal/synth, core/internal/ocreval, make bench: the generated benchmark set prints with the Noto CJK
# collections (Sans Regular and Bold, Serif Regular) from the same package, read from its files directly.
for f in NotoSansCJK-Regular.ttc NotoSansCJK-Bold.ttc NotoSerifCJK-Regular.ttc; do
  [ -f "/usr/share/fonts/opentype/noto/$f" ] || { need_apt+=(fonts-noto-cjk); break; }
done
# core/internal/synth, core/internal/ocreval, make bench: the English set prints with Debian's Latin fonts.
[ -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || need_apt+=(fonts-liberation)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
[ -f /usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf ] || need_apt+=(fonts-urw-base35)
# make bench: Debian's caddy, the TLS reverse proxy the sidecar's encrypted path is measured against.
command -v caddy >/dev/null 2>&1 || need_apt+=(caddy)
# make bench: Tesseract 5 with the English model reads the English lines beside @gutenye/ocr-node.
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr)
[ -n "$(find /usr/share/tesseract-ocr -name eng.traineddata 2>/dev/null | head -n1)" ] || need_apt+=(tesseract-ocr-eng)
# core/internal/render: the searchable PDF is read back with poppler (pdftotext, pdfinfo, pdffonts, pdfimages,
# pdftoppm) and checked with qpdf --check. make bench (core/bench/docbench): ocrmypdf 14 with Tesseract's Simplified
# Chinese model (and osd, for --rotate-pages) is the peer on multi-page scanned PDFs.
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
command -v qpdf >/dev/null 2>&1 || need_apt+=(qpdf)
command -v ocrmypdf >/dev/null 2>&1 || need_apt+=(ocrmypdf)
[ -n "$(find /usr/share/tesseract-ocr -name chi_sim.traineddata 2>/dev/null | head -n1)" ] || need_apt+=(tesseract-ocr-chi-sim)
[ -n "$(find /usr/share/tesseract-ocr -name osd.traineddata 2>/dev/null | head -n1)" ] || need_apt+=(tesseract-ocr-osd)

if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "testdeps: missing Debian packages: ${need_apt[*]}; install them as root (apt-get install ${need_apt[*]})" >&2
      exit 1
    fi
  fi
  echo "testdeps: installing ${need_apt[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need_apt[@]}"
fi

# sidecar/e2e: the OHTTP interop client's pinned npm packages (exact versions from package-lock.json);
# sidecar/internal/envelope/sm4: sm-crypto for the SM4-CBC cross-check.
if [ ! -d sidecar/e2e/interop/node_modules/@hpke/core ] || [ ! -d sidecar/e2e/interop/node_modules/sm-crypto ] || [ sidecar/e2e/interop/package-lock.json -nt sidecar/e2e/interop/node_modules/.package-lock.json ]; then
  (cd sidecar/e2e/interop && npm ci --no-audit --no-fund --loglevel=error)
fi
