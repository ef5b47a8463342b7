package firmware

import "github.com/fractals-energy/fractals/firmware/simchain"

// The tests run units on the embedded chain, as the development daemon does.
func init() { RegisterEmbeddedChain(simchain.New) }
