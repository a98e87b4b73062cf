#!/usr/bin/env bash
# Builds (or reuses) the control-plane binaries `make kube-test` runs: etcd,
# kube-apiserver and kube-controller-manager, compiled from the Go module proxy
# by the modules in charts/kube/tools. They are cached by version under
# $SEALOCR_CACHE/kube (default ~/.cache/sealocr/kube), never in the repository.
#
# Prints the directory holding the three binaries as its last line. Progress
# (what is built, how long it took) goes to stderr, so a cold CI run shows where
# its time goes: ~13 minutes and ~2.5 GB of RAM on 2 cores, seconds when warm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SEALOCR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealocr}/kube"
export GOWORK=off CGO_ENABLED=0

modversion() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
kube_version="$(modversion "$here/tools" k8s.io/kubernetes)"
etcd_version="$(modversion "$here/tools/etcd" go.etcd.io/etcd/server/v3)"
dir="$cache/$kube_version-etcd-$etcd_version"
mkdir -p "$dir"

# build MODULE_DIR LDFLAGS PACKAGE...: go build the main packages into $dir,
# named after their folders, unless they are all there.
build() {
	local moddir="$1" ldflags="$2"
	shift 2
	local names=() pkg missing=0
	for pkg in "$@"; do
		names+=("$(basename "$pkg")")
		[[ -x "$dir/$(basename "$pkg")" ]] || missing=1
	done
	if ((missing == 0)); then
		echo "kube-test: ${names[*]}: cached in $dir" >&2
		return
	fi
	echo "kube-test: ${names[*]}: building (cold: minutes)..." >&2
	local start=$SECONDS tmp="$dir/.build"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	(cd "$moddir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/" "$@")
	for name in "${names[@]}"; do
		mv "$tmp/$name" "$dir/$name"
		echo "kube-test: $name: built ($(du -h "$dir/$name" | cut -f1))" >&2
	done
	rmdir "$tmp"
	echo "kube-test: ${names[*]}: $((SECONDS - start)) s" >&2
}

v="${kube_version#v}"
major="${v%%.*}"
minor="${v#*.}"
minor="${minor%%.*}"
# Without these the servers report v0.0.0-master and the chart's kubeVersion refuses them.
kubeflags="-X k8s.io/component-base/version.gitVersion=$kube_version"
kubeflags+=" -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
kubeflags+=" -X k8s.io/component-base/version.gitTreeState=clean"

total=$SECONDS
build "$here/tools" "$kubeflags" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
build "$here/tools/etcd" "" github.com/sealocr/sealocr/charts/kube/tools/etcd
echo "kube-test: control plane ready in $((SECONDS - total)) s" >&2
echo "$dir"
