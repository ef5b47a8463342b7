package units

import (
	"testing"
	"time"
)

func TestPowerEnergyRoundTrip(t *testing.T) {
	e := Watts(1500).Over(90 * time.Minute)
	if e != 2250 {
		t.Fatalf("1500 W over 90 min = %v, want 2250 Wh", e)
	}
	if p := e.Per(90 * time.Minute); p != 1500 {
		t.Fatalf("2250 Wh per 90 min = %v, want 1500 W", p)
	}
	if p := e.Per(0); p != 0 {
		t.Fatalf("energy per zero duration = %v, want 0", p)
	}
}

func TestPriceCost(t *testing.T) {
	if c := PricePerKWh(0.25).Cost(4000); c != 1 {
		t.Fatalf("0.25/kWh × 4 kWh = %v, want 1", c)
	}
}

func TestClampAndRatio(t *testing.T) {
	if got := Watts(-5).Clamp(0, 10); got != 0 {
		t.Fatalf("clamp low = %v", got)
	}
	if got := Watts(50).Clamp(0, 10); got != 10 {
		t.Fatalf("clamp high = %v", got)
	}
	if got := Ratio(2500, 10000); got != 0.25 {
		t.Fatalf("ratio = %v", got)
	}
	if got := Ratio(1, 0); got != 0 {
		t.Fatalf("ratio of zero capacity = %v", got)
	}
	if got := Fraction(0.2).Of(10000); got != 2000 {
		t.Fatalf("0.2 of 10 kWh = %v", got)
	}
	if got := Volts(253).PU(230); got < 1.0999 || got > 1.1001 {
		t.Fatalf("253 V on 230 V base = %v", got)
	}
	if got := PerUnit(1.1).Volts(230); got < 252.99 || got > 253.01 {
		t.Fatalf("1.1 pu of 230 V = %v", got)
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Watts(12.34).String(), "12.3 W"},
		{WattHours(5).String(), "5.0 Wh"},
		{Volts(230).String(), "230.0 V"},
		{Hertz(50).String(), "50.000 Hz"},
		{Fraction(0.5).String(), "50.0 %"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
