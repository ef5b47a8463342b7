package firmware

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkCommunityInterval is one market interval of a community (bids, clearing in-process, the
// central reference, schedules, settlement and payments) with its 15 minutes of control cycles at 10 s
// steps, at midnight of the default day; the figure includes the setup of the units and their ledger
// nodes.
func BenchmarkCommunityInterval(b *testing.B) {
	for _, n := range []int{3, 10, 50} {
		b.Run(fmt.Sprintf("%dunits", n), func(b *testing.B) {
			for b.Loop() {
				o := DefaultCommunityOptions()
				o.Sim.Units, o.Sim.Duration, o.Sim.Step = n, 15*time.Minute, 10*time.Second
				o.Sim.Day = 172
				o.LedgerDir = b.TempDir()
				if _, err := SimulateCommunity(context.Background(), o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
