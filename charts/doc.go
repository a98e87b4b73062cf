// Package charts holds the tests of sealocr's deployables: the Helm chart in
// sealocr/ (strict lint, rendering with several values files, strict decoding
// into Kubernetes API types, and the security properties the chart promises)
// and the Dockerfiles at the repository root (buildkit's parser and linter).
// Behind the build tag kubetest (`make kube-test`), kube_test.go installs,
// upgrades, tests and uninstalls the chart on a real control plane built by
// kube/build-control-plane.sh. It has no code of its own.
package charts
