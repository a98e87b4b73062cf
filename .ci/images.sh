#!/usr/bin/env bash
# Builds Dockerfile.core and Dockerfile.sidecar with podman, without a Docker
# engine or a registry, then smoke-runs both images (`make images`).
#
# Base images are made locally with debootstrap (Debian bookworm, from the
# mirror apt uses) and tagged with the names the Dockerfiles use:
#   docker.io/library/debian:bookworm-slim    minbase
#   docker.io/library/golang:1.26-bookworm    minbase + gcc + this host's Go
#   docker.io/library/node:22-bookworm-slim   minbase + Debian's npm
# so the Dockerfiles stay the ones a registry-backed build uses.
#
# Podman runs rootful with runc, cgroupfs, file events, host networking and
# overlay storage (vfs when overlay cannot mount), from a containers.conf
# written under $WORK. The host's CA bundle is mounted into build steps that
# reach the module proxy or the npm registry.
#
# Environment: SEALOCR_IMAGES_WORK (default ~/.cache/sealocr/images),
# VERSION (image tag, default: git describe), DEBIAN_MIRROR, PODMAN_STORAGE
# (overlay|vfs), SMOKE=0 to skip the smoke runs.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${SEALOCR_IMAGES_WORK:-$HOME/.cache/sealocr/images}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
MIRROR=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
CORE_IMAGE=localhost/sealocr/core:$VERSION
SIDECAR_IMAGE=localhost/sealocr/sidecar:$VERSION

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'images: %s\n' "$*" >&2; exit 1; }

need=()
for c in podman runc debootstrap; do command -v "$c" >/dev/null || need+=("$c"); done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${need[*]}; install podman runc debootstrap fuse-overlayfs uidmap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap fuse-overlayfs uidmap >/dev/null
fi
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, rootful podman)"
mkdir -p "$WORK"

# --- podman configuration -------------------------------------------------
# Ulimits no higher than the hard limits conmon hands to runc, which cannot
# raise them without CAP_SYS_RESOURCE (a sandbox may withhold it): nofile is
# this shell's (podman's default, 1048576, can be far above it), nproc at most
# 32768 (conmon runs with that even when the shell allows more).
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
{ [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
netns = "host"
cgroupns = "host"
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
export CONTAINERS_CONF="$WORK/containers.conf"
driver=${PODMAN_STORAGE:-}
if [ -z "$driver" ]; then
  driver=vfs
  probe="$WORK/overlay-probe"
  mkdir -p "$probe"/{l,u,w,m}
  if mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" 2>/dev/null; then
    umount "$probe/m"; driver=overlay
  fi
  rm -rf "$probe"
fi
PODMAN=(podman --cgroup-manager=cgroupfs --runtime=runc --events-backend=file --storage-driver="$driver")
log "podman $(podman --version | awk '{print $3}'), storage $driver"

# --- base images ----------------------------------------------------------
have_image() { "${PODMAN[@]}" image exists "$1"; }

# rootfs NAME [PACKAGE...]: a bookworm minbase tree with the packages
# installed by apt inside it (apt resolves npm's many dependencies, which
# debootstrap --include does not), cached under $WORK.
rootfs() {
  local name=$1; shift
  local dir="$WORK/rootfs-$name" min="$WORK/rootfs-minbase"
  if [ ! -f "$min/.done" ]; then
    rm -rf "$min"
    log "debootstrap minbase from $MIRROR"
    debootstrap --variant=minbase bookworm "$min" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $WORK/debootstrap.log"
    touch "$min/.done"
  fi
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir" && cp -a "$min" "$dir" && rm -f "$dir/.done"
    if [ $# -gt 0 ]; then
      log "apt-get install $* in $name"
      cp /etc/resolv.conf "$dir/etc/resolv.conf"
      mount -t proc proc "$dir/proc"
      if ! { chroot "$dir" apt-get update -qq &&
             DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -qq --no-install-recommends "$@"; } \
             >"$WORK/apt-$name.log" 2>&1; then
        umount "$dir/proc"; die "apt-get install in $name failed; see $WORK/apt-$name.log"
      fi
      umount "$dir/proc"
      : >"$dir/etc/resolv.conf"
    fi
    chroot "$dir" apt-get clean
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/var/cache/debconf/*-old
    touch "$dir/.done"
  fi
  printf '%s' "$dir"
}

# import NAME DIR CHANGES...: tar DIR into the image NAME.
import() {
  local name=$1 dir=$2; shift 2
  local changes=()
  for c in "$@"; do changes+=(--change "$c"); done
  tar -C "$dir" --exclude=./.done --numeric-owner -cf - . | "${PODMAN[@]}" import "${changes[@]}" - "$name" >/dev/null
  log "imported $name"
}

base=docker.io/library/debian:bookworm-slim
if ! have_image "$base"; then
  dir=$(rootfs slim)
  import "$base" "$dir" 'CMD ["bash"]'
fi

base=docker.io/library/golang:1.26-bookworm
if ! have_image "$base"; then
  dir=$(rootfs golang ca-certificates gcc libc6-dev git)
  goroot=$(go env GOROOT)
  rm -rf "$dir/usr/local/go" && cp -a "$goroot" "$dir/usr/local/go"
  rm -rf "$dir/usr/local/go/pkg/obj" "$dir/usr/local/go/pkg/tool/"*/*.a 2>/dev/null || true
  import "$base" "$dir" 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV GOPATH=/go' 'ENV GOTOOLCHAIN=local' 'WORKDIR /go'
fi

base=docker.io/library/node:22-bookworm-slim
if ! have_image "$base"; then
  # Debian's node uses its own CA list; the sandbox's bundle is mounted at
  # build time and named here.
  dir=$(rootfs node ca-certificates npm)
  import "$base" "$dir" \
    'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' 'CMD ["node"]'
fi

# --- build ----------------------------------------------------------------
build() {
  local file=$1 tag=$2
  log "build $file -> $tag"
  "${PODMAN[@]}" build --format docker --network host --pull=never \
    --volume "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro" \
    --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
    --build-arg GOPROXY="$(go env GOPROXY)" \
    -f "$file" -t "$tag" .
}
build Dockerfile.sidecar "$SIDECAR_IMAGE"
build Dockerfile.core "$CORE_IMAGE"
"${PODMAN[@]}" images --filter reference='localhost/sealocr/*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'

[ "${SMOKE:-1}" = 1 ] || exit 0

# --- smoke runs -----------------------------------------------------------
# Both containers share the host network namespace; the core binds loopback
# as it does in a pod. Root filesystems are read-only, users non-root.
CORE_PORT=${SMOKE_CORE_PORT:-18081}
TLS_PORT=${SMOKE_TLS_PORT:-18443}
run_dir=$(mktemp -d)
state="$run_dir/state"
mkdir -p "$state" && chown 65532:65532 "$state" && chmod 700 "$state"
names=()
cleanup() {
  for n in "${names[@]}"; do "${PODMAN[@]}" rm -f -t 2 "$n" >/dev/null 2>&1 || true; done
  rm -rf "$run_dir"
}
trap cleanup EXIT
# --no-healthcheck: podman runs HEALTHCHECK through systemd timers, and there
# is no systemd here; the smoke run calls `core healthcheck` itself.
RUN=("${PODMAN[@]}" run --network host --read-only --cap-drop ALL --security-opt no-new-privileges --no-healthcheck)

log "smoke: --version"
"${RUN[@]}" --rm "$CORE_IMAGE" --version
"${RUN[@]}" --rm "$SIDECAR_IMAGE" --version
"${RUN[@]}" --rm --entrypoint /usr/local/bin/sealctl "$SIDECAR_IMAGE" version

log "smoke: core on 127.0.0.1:$CORE_PORT"
n=sealocr-smoke-core-$$; names+=("$n")
"${RUN[@]}" -d --name "$n" --tmpfs /tmp -e SEALOCR_CORE_LISTEN=127.0.0.1:$CORE_PORT -e SEALOCR_CORE_THREADS=2 "$CORE_IMAGE" >/dev/null
for _ in $(seq 1 120); do
  "${PODMAN[@]}" exec "$n" core healthcheck >/dev/null 2>&1 && break
  sleep 1
done
"${PODMAN[@]}" exec "$n" core healthcheck || { "${PODMAN[@]}" logs "$n" >&2; die "core did not become ready"; }
out=$(curl -sS --fail --max-time 60 --data-binary @core/testdata/ocr/paddleocr/pages/11.jpg \
  -H 'Content-Type: image/jpeg' "http://127.0.0.1:$CORE_PORT/v1/ocr")
text=$(printf '%s' "$out" | sed -n 's/^{"text":"\([^"]*\)".*/\1/p')
[ -n "$text" ] || die "core OCR returned no text: ${out:0:300}"
printf 'core OCR text: %s\n' "${text:0:120}"

log "smoke: sidecar on 127.0.0.1:$TLS_PORT -> core"
n=sealocr-smoke-sidecar-$$; names+=("$n")
"${RUN[@]}" -d --name "$n" -v "$state:/var/lib/sealocr" \
  -e SEALOCR_LISTEN=127.0.0.1:$TLS_PORT -e SEALOCR_METRICS_LISTEN=127.0.0.1:$((TLS_PORT + 1)) \
  -e SEALOCR_HTTP_LISTEN=off -e SEALOCR_UPSTREAM=http://127.0.0.1:$CORE_PORT "$SIDECAR_IMAGE" >/dev/null
for _ in $(seq 1 30); do [ -f "$state/ca.pem" ] && curl -s --cacert "$state/ca.pem" "https://localhost:$TLS_PORT/healthz" >/dev/null && break; sleep 1; done
curl -sS --fail --cacert "$state/ca.pem" "https://localhost:$TLS_PORT/healthz" || { "${PODMAN[@]}" logs "$n" >&2; die "sidecar did not answer"; }
echo
curl -sS --fail --cacert "$state/ca.pem" "https://localhost:$TLS_PORT/readyz"; echo

log "smoke: sealctl (sidecar image) -> sidecar -> core, Oblivious HTTP"
"${RUN[@]}" --rm --tmpfs /tmp -e HOME=/tmp -v "$state/ca.pem:/ca.pem:ro" \
  -v "$PWD/core/testdata/ocr/paddleocr/lines/en_word_336.png:/sample.png:ro" \
  --entrypoint /usr/local/bin/sealctl "$SIDECAR_IMAGE" \
  ocr --server "https://localhost:$TLS_PORT" --ca /ca.pem --mode ohttp /sample.png
log "images ok: $CORE_IMAGE $SIDECAR_IMAGE"
