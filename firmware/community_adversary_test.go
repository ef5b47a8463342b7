package firmware

import (
	"testing"
	"time"
)

// adversaryMorning is four units trading over a sunny morning, unit 3 the adversary (nil: honest).
func adversaryMorning(t *testing.T, a *Adversary) CommunityResult {
	return communityRunFor(t, 2*time.Hour, func(o *CommunityOptions) {
		o.Sim.Day = 180
		o.Sim.Units = 4
		o.Sim.Step = 10 * time.Second
		o.Method = MethodConsensus
		o.Market.Horizon = time.Hour
		o.Adversary = a
	})
}

// checkHonestClear asserts that the community cleared every interval as it should.
func checkHonestClear(t *testing.T, name string, r CommunityResult) {
	t.Helper()
	m, p := r.Market, r.Payments
	if m.Cleared != m.Intervals || m.TradeMismatches != 0 || m.MaxGap > 0.005 {
		t.Errorf("%s: market %+v", name, m)
	}
	if p.Paid != p.Received || p.Failed != 0 {
		t.Errorf("%s: payments %+v", name, p)
	}
}

// TestAdversariesChangeNothingForHonestUnits: a unit that forges market envelopes in others' names,
// replays its old bids or floods its neighbours is refused and recorded; the honest units clear every
// interval within 0.5 % of the optimum, both sides of every trade agree, and what they pay is paid.
func TestAdversariesChangeNothingForHonestUnits(t *testing.T) {
	base := adversaryMorning(t, &Adversary{Unit: 3})
	checkHonestClear(t, "no attack", base)
	for name, a := range map[string]*Adversary{
		"forge":  {Unit: 3, Forge: true},
		"replay": {Unit: 3, Replay: true},
		"flood":  {Unit: 3, Flood: true},
	} {
		r := adversaryMorning(t, a)
		checkHonestClear(t, name, r)
		at := r.Attacks
		switch name {
		case "replay":
			// Old bids are validly signed: the mesh delivers them, the peers refuse them as another
			// interval's, and the market comes out bit for bit as without the attack.
			if at.Replayed == 0 || at.Refused < at.Replayed || r.Market.Welfare != base.Market.Welfare || r.Payments.Paid != base.Payments.Paid {
				t.Errorf("replay: attacks %+v, welfare %v against %v", *at, r.Market.Welfare, base.Market.Welfare)
			}
		case "forge":
			// A forged author fails the signature check: never delivered, and its sender is cut off.
			if at.Forged == 0 || at.Rejected < uint64(at.Forged) || !at.Disconnected || r.Market.Dropped == 0 {
				t.Errorf("forge: attacks %+v, dropped %d", *at, r.Market.Dropped)
			}
		case "flood":
			if at.Flooded == 0 || at.Rejected == 0 || !at.Disconnected {
				t.Errorf("flood: attacks %+v", *at)
			}
		}
		t.Logf("%s: attacks %+v market welfare %.6f (honest %.6f) dropped %d payments %.6f (honest %.6f)", name, *r.Attacks, r.Market.Welfare, base.Market.Welfare, r.Market.Dropped, r.Payments.Paid, base.Payments.Paid)
	}
}

// TestConsensusClearsOverALossySlowMesh: with 20 % of messages lost and 200 ms of jitter the honest
// community still clears every interval within 0.5 % of the optimum, more slowly (the peers resend).
func TestConsensusClearsOverALossySlowMesh(t *testing.T) {
	clean := adversaryMorning(t, nil)
	lossy := communityRunFor(t, 2*time.Hour, func(o *CommunityOptions) {
		o.Sim.Day, o.Sim.Units, o.Sim.Step = 180, 4, 10*time.Second
		o.Method, o.Market.Horizon = MethodConsensus, time.Hour
		o.MeshDrop, o.MeshJitter = 0.2, 200*time.Millisecond
	})
	checkHonestClear(t, "lossy", lossy)
	if lossy.Mesh.Lost == 0 || !(lossy.Market.NegotiationMeanS > clean.Market.NegotiationMeanS) {
		t.Fatalf("lossy mesh lost %d, negotiation %.3f s against %.3f s clean", lossy.Mesh.Lost, lossy.Market.NegotiationMeanS, clean.Market.NegotiationMeanS)
	}
	t.Logf("negotiation mean %.3f s max %.3f s (iterations mean %.1f) over the lossy mesh, %.3f s max %.3f s (%.1f) clean: %.1f× slower",
		lossy.Market.NegotiationMeanS, lossy.Market.NegotiationMaxS, lossy.Market.IterationsMean,
		clean.Market.NegotiationMeanS, clean.Market.NegotiationMaxS, clean.Market.IterationsMean, lossy.Market.NegotiationMeanS/clean.Market.NegotiationMeanS)
}
