package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/fractals"
)

// withMarket is the example unit file with a market section appended.
func withMarket(t *testing.T, section string) string {
	t.Helper()
	base, err := os.ReadFile("testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(base) + section
}

func TestMarketDefaultsWhenLeftOut(t *testing.T) {
	u, err := Load("testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := u.Market.Controller()
	if m.Interval != 15*time.Minute || m.Method != "consensus" || m.Validate() != nil {
		t.Fatalf("defaults %+v: %v", m, m.Validate())
	}
}

func TestMarketSectionOverridesDefaults(t *testing.T) {
	src := withMarket(t, `market:
  interval: 30m
  method: fractal
  import_tariff:
    - {from_hour: 0, price: 0.15}
    - {from_hour: 18, price: 0.45}
  export_price: 0.05
  values: {critical: 8, ev: 0.6}
  battery: {price: 4000, cycle_life: 4000, depth_of_discharge: 0.8}
  pv: {cost: 5000, lifetime_years: 20, yield_kwh_per_kw: 1100, kw: 4}
  feeder_bus: 7
`)
	u, err := Parse("unit.yaml", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	m := u.Market.Controller()
	d := fractals.DefaultMarketConfig()
	if m.Interval != 30*time.Minute || m.Horizon != d.Horizon || m.Method != "fractal" || len(m.ImportTariff) != 2 ||
		m.ImportTariff[1].Price != 0.45 || m.ExportPrice != 0.05 || m.CriticalValue != 8 || m.EVValue != 0.6 ||
		m.EssentialValue != d.EssentialValue || m.BatteryCycleLife != 4000 || m.PVKW != 4 || u.Market.FeederBus != 7 {
		t.Fatalf("%+v", m)
	}
}

func TestMarketErrorsNameLineAndField(t *testing.T) {
	base := withMarket(t, "")
	line := strings.Count(base, "\n") + 1 // the market: line
	cases := []struct{ section, want string }{
		{"market:\n  interval: 2m\n", "unit.yaml:%d: market.interval: 2m0s outside 5m..60m"},
		{"market:\n  method: central\n", "unit.yaml:%d: market.method: \"central\": want consensus, distributed or fractal"},
		{"market:\n  import_tariff:\n    - {from_hour: 3, price: 0.2}\n", "unit.yaml:%d: market.import_tariff[0].from_hour: 3: the first band starts at hour 0"},
		{"market:\n  battery: {depth_of_discharge: 0}\n", "unit.yaml:%d: market.battery.depth_of_discharge: 0 outside (0, 1]"},
		{"market:\n  export_price: 0.5\n", "unit.yaml:%d: market: market import tariff band 0 price 0.2 below the export price 0.5"},
		{"market:\n  intervall: 15m\n", "unit.yaml:%d: (yaml): field intervall not found"},
	}
	for _, c := range cases {
		_, err := Parse("unit.yaml", strings.NewReader(base+c.section))
		wantLine := line + 1
		if strings.Contains(c.section, "import_tariff") {
			wantLine = line + 2
		}
		want := fmt.Sprintf(c.want, wantLine)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("section %q: error %v, want %q", c.section, err, want)
		}
	}
}
