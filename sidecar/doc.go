// Package sidecar is the root of sealocr's security front. The deployable is
// sidecar/cmd/sidecar; sidecar/client and sidecar/cmd/sealctl are its Go
// client and command line; sidecar/internal holds the parts. PROTOCOL.md
// specifies the envelope formats.
//
// The sidecar never parses what it forwards, never imports the core's
// internals and builds without cgo; boundary_test.go keeps that true.
package sidecar
