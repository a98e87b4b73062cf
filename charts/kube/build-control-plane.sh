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

# build NAME MODULE_DIR PACKAGE [LDFLAGS]: go build into $dir/NAME unless it is there.
build() {
	local name="$1" moddir="$2" pkg="$3" ldflags="${4:-}"
	if [[ -x "$dir/$name" ]]; then
		echo "kube-test: $name: cached in $dir" >&2
		return
	fi
	echo "kube-test: $name: building $pkg (cold: several minutes)..." >&2
	local start=$SECONDS
	(cd "$moddir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$dir/$name.tmp" "$pkg")
	mv "$dir/$name.tmp" "$dir/$name"
	echo "kube-test: $name: built in $((SECONDS - start)) s ($(du -h "$dir/$name" | cut -f1))" >&2
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
build kube-apiserver "$here/tools" k8s.io/kubernetes/cmd/kube-apiserver "$kubeflags"
build kube-controller-manager "$here/tools" k8s.io/kubernetes/cmd/kube-controller-manager "$kubeflags"
build etcd "$here/tools/etcd" . "-X go.etcd.io/etcd/api/v3/version.GitSHA=$etcd_version"
echo "kube-test: control plane ready in $((SECONDS - total)) s" >&2
echo "$dir"
