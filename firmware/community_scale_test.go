//go:build community

package firmware

import (
	"fmt"
	"testing"
	"time"
)

// go test -tags community -run TestCommunityDay -v ./firmware/ : 10 and 50 units over a simulated day
// (about half a minute and several minutes on one core).
func TestCommunityDay(t *testing.T) {
	for _, n := range []int{10, 50} {
		t.Run(fmt.Sprintf("%dunits", n), func(t *testing.T) {
			r := communityRunFor(t, 24*time.Hour, func(o *CommunityOptions) { o.Sim.Units = n })
			checkCommunity(t, r, 96)
			t.Logf("%d units: wall %.1f s, market %+v, payments %+v, feeder %+v", n, r.WallSeconds, r.Market, r.Payments, *r.Feeder)
		})
	}
}
