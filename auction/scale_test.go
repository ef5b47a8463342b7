//go:build scale

package auction

import "testing"

// TestDistributedTargetAtScale is the target on ten random markets of 1,000 agents × 24 periods
// (measured 110–223 iterations). It takes about two minutes, too long for the normal suite, so it sits
// behind the scale build tag: go test -tags scale -run TestDistributedTargetAtScale -v ./auction/
func TestDistributedTargetAtScale(t *testing.T) {
	checkIterationsOverSeeds(t, 1000, 10, 300)
}
