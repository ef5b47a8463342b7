package fractals

import (
	"bytes"
	"crypto/ed25519"
	"math"
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/internal/units"
)

// community is three units with deterministic keys.
func community() (map[string]ed25519.PrivateKey, map[string]ed25519.PublicKey) {
	priv, pub := map[string]ed25519.PrivateKey{}, map[string]ed25519.PublicKey{}
	for i, u := range []string{"a", "b", "c"} {
		k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
		priv[u], pub[u] = k, k.Public().(ed25519.PublicKey)
	}
	return priv, pub
}

const interval = 1_830_000_000

// periodOfB: b buys 500 Wh from a at 0.2 and sells 200 Wh to c at 0.25; its meter says it imported 310 Wh.
func periodOfB(priv map[string]ed25519.PrivateKey, pub map[string]ed25519.PublicKey) Period {
	reading := func(u string, wh units.WattHours) SignedReading {
		return SignReading(MeterReading{Unit: u, Interval: interval, Seconds: 900, NetImport: wh}, priv[u])
	}
	return Period{Unit: "b", Interval: interval, Seconds: 900, Mode: Connected,
		Trades: []Trade{
			{Interval: interval, ID: "a>b", Seller: "a", Buyer: "b", Energy: 500, Price: 0.2, NetworkCharge: 0.01},
			{Interval: interval, ID: "b>c", Seller: "b", Buyer: "c", Energy: 200, Price: 0.25},
		},
		Own:      MeterReading{Unit: "b", Interval: interval, Seconds: 900, NetImport: 310},
		Readings: []SignedReading{reading("a", -500), reading("c", 200)},
		Keys:     pub, ImportPrice: 0.3, ExportPrice: 0.05, ClearingPrice: 0.22, Tolerance: 1,
		Feeder: &FeederBalance{HeadImport: 10 + 12, Losses: 12, Units: 3}}
}

func near6(a, b units.Money) bool { return math.Abs(float64(a-b)) < 1e-9 }

func TestSettlePaysTradesAndImbalanceWithTheGrid(t *testing.T) {
	priv, pub := community()
	p := periodOfB(priv, pub)
	s := Settle(&p, nil)
	if len(s.Held) != 0 || len(s.Disagreements) != 0 {
		t.Fatalf("held %v, disagreements %v", s.Held, s.Disagreements)
	}
	// Committed net import 300 Wh, metered 310: 10 Wh imbalance from the grid at 0.3.
	if s.Imbalance != 10 || s.ImbalancePrice != 0.3 {
		t.Fatalf("imbalance %v at %v", s.Imbalance, s.ImbalancePrice)
	}
	want := []PaymentIntent{
		{IntentKey{interval, "a>b"}, "b", "a", 0.1},
		{IntentKey{interval, "a>b/network"}, "b", NetworkAccount, 0.005},
		{IntentKey{interval, "b/imbalance"}, "b", GridAccount, 0.003},
	}
	if len(s.Intents) != len(want) {
		t.Fatalf("intents %+v", s.Intents)
	}
	for i := range want {
		if s.Intents[i].Key != want[i].Key || s.Intents[i].To != want[i].To || !near6(s.Intents[i].Amount, want[i].Amount) {
			t.Fatalf("intent %d %+v, want %+v", i, s.Intents[i], want[i])
		}
	}
	if len(s.Expect) != 1 || s.Expect[0].From != "c" || !near6(s.Expect[0].Amount, 0.05) {
		t.Fatalf("expected receipts %+v", s.Expect)
	}
}

func TestSettleIsIdempotentPerIntervalAndTrade(t *testing.T) {
	priv, pub := community()
	p := periodOfB(priv, pub)
	first := Settle(&p, nil)
	done := map[IntentKey]bool{}
	for _, in := range first.Intents {
		done[in.Key] = true
	}
	// A restart settles the same period again: nothing is paid twice.
	if again := Settle(&p, done); len(again.Intents) != 0 {
		t.Fatalf("paid again after a restart: %+v", again.Intents)
	}
}

func TestSettleIslandedImbalanceAtTheClearingPrice(t *testing.T) {
	priv, pub := community()
	p := periodOfB(priv, pub)
	p.Mode = Islanded
	p.Own.NetImport = 250 // 50 Wh less than committed: surplus to the island's pool
	p.Feeder.HeadImport = -50 + 12
	s := Settle(&p, nil)
	if s.Imbalance != -50 || s.ImbalancePrice != 0.22 {
		t.Fatalf("imbalance %v at %v", s.Imbalance, s.ImbalancePrice)
	}
	last := s.Expect[len(s.Expect)-1]
	if last.From != ImbalanceAccount || !near6(last.Amount, 0.011) {
		t.Fatalf("imbalance receipt %+v", last)
	}
}

func TestSettleHoldsWhatItCannotCheck(t *testing.T) {
	priv, pub := community()
	cases := map[string]func(p *Period){
		"missing reading": func(p *Period) { p.Readings = p.Readings[1:] },
		"signed by someone else": func(p *Period) {
			p.Readings[0] = SignReading(MeterReading{Unit: "a", Interval: interval, Seconds: 900, NetImport: -500}, priv["c"])
		},
		"replayed old reading": func(p *Period) {
			p.Readings[0] = SignReading(MeterReading{Unit: "a", Interval: interval - 900, Seconds: 900, NetImport: -500}, priv["a"])
		},
		"lies about its meter": func(p *Period) {
			p.Readings[0] = SignReading(MeterReading{Unit: "a", Interval: interval, Seconds: 900, NetImport: -900}, priv["a"])
		},
	}
	for name, mutate := range cases {
		p := periodOfB(priv, pub)
		mutate(&p)
		s := Settle(&p, nil)
		if len(s.Held) == 0 || s.Held[0].Key.Trade != "a>b" || len(s.Disagreements) == 0 && name != "missing reading" {
			t.Errorf("%s: held %+v, disagreements %v", name, s.Held, s.Disagreements)
		}
		for _, in := range s.Intents {
			if in.To == "a" {
				t.Errorf("%s: paid a blindly: %+v", name, in)
			}
		}
		if name == "lies about its meter" && !strings.Contains(strings.Join(s.Disagreements, ";"), "feeder head") {
			t.Errorf("lie not recorded against the feeder balance: %v", s.Disagreements)
		}
	}
}

func TestSignedReadingRoundTrip(t *testing.T) {
	priv, pub := community()
	s := SignReading(MeterReading{Unit: "a", Interval: interval, Seconds: 900, NetImport: -123.4567}, priv["a"])
	got, err := UnmarshalSignedReading(s.Marshal())
	if err != nil || got.Reading != s.Reading || !got.Verify(pub["a"]) || got.Verify(pub["b"]) {
		t.Fatalf("round trip %+v, %v", got, err)
	}
	if _, err := UnmarshalSignedReading(s.Marshal()[:20]); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("truncated reading: %v", err)
	}
}

func FuzzUnmarshalSignedReading(f *testing.F) {
	priv, _ := community()
	f.Add(SignReading(MeterReading{Unit: "a", Interval: interval, Seconds: 900, NetImport: 5}, priv["a"]).Marshal())
	f.Add([]byte("FRMR1"))
	f.Add([]byte("FRMR1\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalSignedReading(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes: a reading has one encoding.
		if !bytes.Equal(s.Marshal(), b) {
			t.Fatalf("%x decodes to %+v, which encodes as %x", b, s, s.Marshal())
		}
	})
}
