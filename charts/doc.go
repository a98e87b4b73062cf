// Package charts holds the tests of sealocr's deployables: the Helm chart in
// sealocr/ (strict lint, rendering with several values files, strict decoding
// into Kubernetes API types, and the security properties the chart promises)
// and the Dockerfiles at the repository root (buildkit's parser and linter).
// It has no code of its own.
package charts
