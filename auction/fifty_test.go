//go:build marketlong

package auction

import (
	"math/rand/v2"
	"testing"
)

// TestConsensusFiftyUnits: 50 units on a ring and on a random geometric mesh, each interval held to the
// central optimum. Minutes of CPU, so behind the marketlong tag: go test -tags marketlong -run Fifty -v ./auction/
func TestConsensusFiftyUnits(t *testing.T) {
	for i, name := range []string{"ring", "geometric"} {
		radius := 0.12
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(50, uint64(i)))
			links := ringLinks(50)
			if name == "geometric" {
				links = geometricLinks(50, radius, rng)
			}
			c := testCommunity(50, 4, links, true, rng)
			clearAndCheck(t, c, newHarness(uint64(i)), nil)
		})
	}
}
