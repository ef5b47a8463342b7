// Package simchain is the embedded development chain: go-ethereum's simulated backend (a whole
// in-process node) with the unit's account funded, for `make run`, tests and units whose unit
// file has no JSON-RPC chain. It does not import package firmware; a main package (or a test)
// hands New to firmware.RegisterEmbeddedChain, so binaries built without it (the ARM production
// builds, -tags nosimchain) do not link the node.
package simchain
