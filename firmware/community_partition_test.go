package firmware

import (
	"strings"
	"testing"
	"time"
)

// partitionedMorning is six units over a morning with the mesh split in two from 10:00 to 12:00.
func partitionedMorning(t *testing.T, repeat bool) CommunityResult {
	return communityRunFor(t, 14*time.Hour, func(o *CommunityOptions) {
		o.Method = MethodConsensus
		o.Sim.Units = 6
		o.Sim.Step = 10 * time.Second
		o.Market.Interval, o.Market.Horizon = 30*time.Minute, 3*time.Hour
		o.Partition = &DayWindow{From: 10 * time.Hour, To: 12 * time.Hour}
		o.RecordIntervals = true
		o.RepeatPayments = repeat
	})
}

// TestPartitionedCommunityClearsInHalvesAndHeals: for two hours the mesh and the channels between the
// halves {1, 3, 4} and {0, 2, 5} are cut; each half clears its own market and pays over its own
// channels; before and after, the community clears as one; every trade is paid once (a second
// payment of every intent with the same id changes no balance) and no trade crosses the cut.
func TestPartitionedCommunityClearsInHalvesAndHeals(t *testing.T) {
	r := partitionedMorning(t, true)
	m := r.Market
	if m.Cleared != m.Intervals || m.TradeMismatches != 0 || m.Partitioned != 4 {
		t.Fatalf("market %+v: want every interval cleared, 4 of them in two parts", m)
	}
	left := map[string]bool{"u1": true, "u3": true, "u4": true}
	inHalf := map[bool]int{}
	for _, iv := range r.Intervals {
		h := iv.Start.Hour()
		want := 1
		if h >= 10 && h < 12 {
			want = 2
		}
		if iv.Parts != want {
			t.Errorf("%s: %d parts, want %d", iv.Start.Format("15:04"), iv.Parts, want)
		}
		for _, id := range iv.TradeIDs {
			seller, buyer, _ := strings.Cut(id, ">")
			if want == 2 && seller != "grid" && buyer != "grid" && left[seller] != left[buyer] {
				t.Errorf("%s: trade %s crosses the cut", iv.Start.Format("15:04"), id)
			}
			if want == 2 && seller != "grid" && buyer != "grid" {
				inHalf[left[seller]]++
			}
		}
	}
	if inHalf[true] == 0 || inHalf[false] == 0 {
		t.Errorf("trades inside the halves while cut: %v, want some in both", inHalf)
	}
	p := r.Payments
	if p.Paid != p.Received || p.Failed != 0 || p.Held != 0 || p.Transfers == 0 {
		t.Fatalf("payments %+v", p)
	}
	if p.Repeated != p.Transfers {
		t.Fatalf("%d intents repeated, %d transfers: want every transfer paid a second time", p.Repeated, p.Transfers)
	}
	for _, d := range p.Disagreements {
		if strings.HasPrefix(d, "repeated") {
			t.Errorf("a repeated payment failed: %s", d)
		}
	}
	once := partitionedMorning(t, false)
	if once.Payments.Paid != p.Paid || once.Payments.Transfers != p.Transfers {
		t.Fatalf("paid %.6f in %d transfers once, %.6f in %d with every intent repeated: want the same", once.Payments.Paid,
			once.Payments.Transfers, p.Paid, p.Transfers)
	}
	t.Logf("partition: market %+v; payments %d transfers, %.6f; mesh missing %d late %d; wall %.1f s", m, p.Transfers, p.Paid,
		r.Mesh.Missing, r.Mesh.Late, r.WallSeconds)
}
