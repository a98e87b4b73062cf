// Package e2e holds sealocr's end-to-end tests: a client on 127.0.0.1 talks
// TLS to a real sidecar process, which forwards to a real core process running
// the real models. It covers the three envelope modes (PSK, Oblivious HTTP,
// legacy AES-CBC), their documented refusals, interoperability with
// independent implementations (Node's @hpke/core + bhttp-js, Python's
// pycryptodome; see interop/), and a canary that must never reach a log, a
// file or the wire in clear.
//
// TestMain builds both binaries once and starts one core; each test starts its
// own sidecar with its own state folder and ports. The tests fail, never skip,
// when the models or the interop tools are missing: run `make models` and
// `.ci/run` (which runs `npm ci` in interop/).
package e2e
