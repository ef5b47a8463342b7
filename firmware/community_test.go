package firmware

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/auction"
)

// communityRunFor is the default three-unit community on case33bw for d, cleared by the in-process
// exchange (whose pro-rata trades the payment tests rely on) unless mutate picks another method.
func communityRunFor(t *testing.T, d time.Duration, mutate func(*CommunityOptions)) CommunityResult {
	t.Helper()
	o := DefaultCommunityOptions()
	o.Method = auction.Distributed
	o.Sim.Duration = d
	o.Feeder = "../grid/testdata/case33bw.m"
	o.LedgerDir = t.TempDir()
	if mutate != nil {
		mutate(&o)
	}
	r, err := SimulateCommunity(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkCommunity asserts what every honest community run must show.
func checkCommunity(t *testing.T, r CommunityResult, intervals int) {
	t.Helper()
	m := r.Market
	if m.Intervals != intervals || m.Cleared != intervals {
		t.Errorf("%d of %d intervals cleared, want all %d", m.Cleared, m.Intervals, intervals)
	}
	if m.MaxGap > 0.005 {
		t.Errorf("an interval's welfare %.4f %% from the central optimum of the same bids, want within 0.5 %%", 100*m.MaxGap)
	}
	if m.Trades == 0 {
		t.Errorf("no trades")
	}
	p := r.Payments
	if p.Paid != p.Received {
		t.Errorf("channels sent %.6f, received %.6f: want equal", p.Paid, p.Received)
	}
	if p.Failed != 0 {
		t.Errorf("%d payments failed: %v", p.Failed, p.Disagreements)
	}
	if r.MaxImbalanceW > 1e-6 {
		t.Errorf("a plant's energy balance off by %g W", r.MaxImbalanceW)
	}
	if r.Energy.CriticalUnserved > 0 {
		t.Errorf("critical load unserved %.0f Wh with the grid on", r.Energy.CriticalUnserved)
	}
}

func TestCommunityOfThreeTradesAndPays(t *testing.T) {
	r := communityRunFor(t, 6*time.Hour, nil)
	checkCommunity(t, r, 24)
	if r.Payments.Held != 0 || len(r.Payments.Disagreements) != 0 {
		t.Fatalf("honest community: %d held, %v", r.Payments.Held, r.Payments.Disagreements)
	}
	if r.Payments.Transfers == 0 || r.Payments.Paid <= 0 {
		t.Fatalf("no payments over the channels: %+v", r.Payments)
	}
	if ms := r.Mesh; ms == nil || ms.Messages == 0 || ms.Missing != 0 || ms.Refused != 0 || ms.BytesPerUnitPerInterval == 0 {
		t.Fatalf("mesh %+v", ms)
	}
	f := r.Feeder
	if f == nil || f.Periods != 24 || !(f.MinVoltage > 0.9 && f.MaxVoltage <= 1.0+1e-9) || f.LossesWh <= 0 {
		t.Fatalf("feeder %+v", f)
	}
}

func TestCommunityFollowsItsSchedules(t *testing.T) {
	// A night (no PV, the EVs charging) and a morning: each unit's metered exchange over a period stays
	// near its commitment; what deviates is the forecast error of loads and PV within the quarter hour.
	r := communityRunFor(t, 10*time.Hour, nil)
	if r.Market.MaxImbalanceWh > 1000 {
		t.Fatalf("a unit missed its commitment by %.0f Wh in a quarter hour", r.Market.MaxImbalanceWh)
	}
}

func TestCommunityLiarIsHeldAndRecorded(t *testing.T) {
	r := communityRunFor(t, 3*time.Hour, func(o *CommunityOptions) { o.Liars = []int{1} })
	if r.Payments.Held == 0 {
		t.Fatalf("a unit lying about its meter: nothing held (%+v)", r.Payments)
	}
	found := false
	for _, d := range r.Payments.Disagreements {
		found = found || strings.Contains(d, "feeder head")
	}
	if !found {
		t.Fatalf("the lie is not recorded: %v", r.Payments.Disagreements)
	}
	if r.Payments.Paid != r.Payments.Received {
		t.Fatalf("sent %.6f, received %.6f", r.Payments.Paid, r.Payments.Received)
	}
}

func TestCommunityIsDeterministic(t *testing.T) {
	a := communityRunFor(t, time.Hour, nil)
	b := communityRunFor(t, time.Hour, nil)
	a.WallSeconds, b.WallSeconds = 0, 0
	if !reflect.DeepEqual(a.Market, b.Market) || a.Energy != b.Energy || math.Abs(a.Payments.Paid-b.Payments.Paid) != 0 {
		t.Fatalf("same seed, different runs:\n%+v\n%+v", a.Market, b.Market)
	}
}

func TestRouteAlongTheTree(t *testing.T) {
	cases := []struct {
		a, b int
		want []int
	}{{1, 0, []int{0}}, {0, 1, []int{1}}, {3, 4, []int{1, 4}}, {3, 2, []int{1, 0, 2}}, {6, 5, []int{2, 5}}, {7, 9, []int{3, 1, 4, 9}}}
	for _, c := range cases {
		got := paymentRoute(c.a, c.b)
		if len(got) != len(c.want) {
			t.Fatalf("route %d→%d %v, want %v", c.a, c.b, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("route %d→%d %v, want %v", c.a, c.b, got, c.want)
			}
		}
	}
}

func TestCommunityOptionsRefused(t *testing.T) {
	o := DefaultCommunityOptions()
	o.Sim.Units = 1
	if _, err := SimulateCommunity(context.Background(), o); err == nil || !strings.Contains(err.Error(), "--units") {
		t.Fatalf("one unit: %v", err)
	}
	o = DefaultCommunityOptions()
	o.Liars = []int{5}
	if _, err := SimulateCommunity(context.Background(), o); err == nil || !strings.Contains(err.Error(), "liar") {
		t.Fatalf("liar 5 of 3: %v", err)
	}
}

func TestCommunityLossyMeshHoldsWhatItCannotCheck(t *testing.T) {
	r := communityRunFor(t, 3*time.Hour, func(o *CommunityOptions) { o.MeshDrop, o.MeshJitter = 0.2, 200*time.Millisecond })
	if r.Mesh.Lost == 0 || r.Mesh.Missing == 0 {
		t.Fatalf("20 %% loss lost nothing: %+v", r.Mesh)
	}
	if r.Payments.Held == 0 {
		t.Fatalf("readings missing, nothing held: %+v", r.Payments)
	}
	if r.Market.Cleared != r.Market.Intervals || r.Payments.Paid != r.Payments.Received || r.Payments.Failed != 0 {
		t.Fatalf("market %+v payments %+v", r.Market, r.Payments)
	}
}
