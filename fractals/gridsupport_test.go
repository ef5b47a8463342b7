package fractals

import (
	"testing"

	"github.com/fractals-energy/fractals/internal/units"
)

// Volt-var, volt-watt and over-frequency droop reach the commands of a connected unit.
func TestGridSupportReachesTheCommands(t *testing.T) {
	cfg := DefaultConfig()
	st := bootedConnected(t, cfg)
	s := snap()
	s.PVRated = good[units.Watts](5000, s.At)
	s.PVAvailable = good[units.Watts](5000, s.At)
	_, c, _ := step(t, cfg, st, s)
	if c.ReactivePower != 0 || c.PVLimit < 5000 {
		t.Fatalf("at nominal voltage and frequency: want no reactive power and no curtailment, got %v var, %v W", c.ReactivePower, c.PVLimit)
	}
	s.GridVoltage = good[units.Volts](230*1.09, s.At) // above volt-var V4 (1.08) and inside volt-watt (1.06..1.10)
	_, c, _ = step(t, cfg, st, s)
	if c.ReactivePower != -0.44*5000 {
		t.Errorf("high voltage: want the volt-var absorption of 0.44 of rating (-2200 var), got %v", c.ReactivePower)
	}
	if c.PVLimit > 5000*0.45 || c.PVLimit < 5000*0.35 {
		t.Errorf("1.09 p.u.: want the volt-watt limit near 0.4 of rating, got %v W", c.PVLimit)
	}
	s.GridVoltage = good[units.Volts](230*0.93, s.At)
	_, c, _ = step(t, cfg, st, s)
	if c.ReactivePower <= 0 {
		t.Errorf("low voltage: want reactive power injected, got %v", c.ReactivePower)
	}
	s.GridVoltage = good[units.Volts](230, s.At)
	s.GridFrequency = good[units.Hertz](50.3, s.At)
	_, c, _ = step(t, cfg, st, s)
	if c.PVLimit >= 5000 || c.PVLimit <= 0 {
		t.Errorf("50.3 Hz: want PV curtailed by the over-frequency droop, got %v W", c.PVLimit)
	}
}
