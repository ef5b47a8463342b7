//go:build !nosimchain

package main

import (
	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/firmware/simchain"
)

// The development build links the embedded simulated chain, the default of a unit file without a
// JSON-RPC chain (make run). The production builds (make cross, -tags nosimchain) leave it out.
func init() { firmware.RegisterEmbeddedChain(simchain.New) }
