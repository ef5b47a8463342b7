package telemetry

import (
	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/fractals"
)

// reading is one numeric value of the snapshot with its quality, named as in the stable schema.
type reading struct {
	name    string
	value   float64
	quality fractals.Quality
}

// readingsOf lists the snapshot's numeric readings (booleans as 0/1) under the names the README's
// schema documents: powers in W, energy in Wh, SoC as a fraction, voltage in V, frequency in Hz.
func readingsOf(st *firmware.Status) []reading {
	s := &st.Snapshot
	out := make([]reading, 0, 16+3*fractals.NumLoads)
	out = append(out,
		num("pv_power_w", s.PVPower), num("pv_available_w", s.PVAvailable), num("pv_rated_w", s.PVRated),
		num("battery_power_w", s.BatteryPower), num("soc", s.SoC), flag("grid_forming", s.GridForming),
		num("grid_power_w", s.GridPower), num("grid_voltage_v", s.GridVoltage), num("grid_frequency_hz", s.GridFrequency),
		flag("grid_present", s.GridPresent), flag("pcc_closed", s.PCCClosed),
		flag("ev_connected", s.EVConnected), num("ev_power_w", s.EVPower), num("ev_max_power_w", s.EVMaxPower),
		num("ev_delivered_wh", s.EVDelivered), num("ev_needed_wh", s.EVNeeded),
	)
	for k := range s.Loads {
		n := &loadNames[k]
		out = append(out, num(n.power, s.Loads[k].Power), num(n.demand, s.Loads[k].Demand), flag(n.on, s.Loads[k].On))
	}
	return out
}

// loadNames are the reading names of each load circuit, made once.
var loadNames = func() (names [fractals.NumLoads]struct{ power, demand, on string }) {
	for k := range names {
		l := fractals.LoadKind(k).String()
		names[k].power, names[k].demand, names[k].on = l+"_power_w", l+"_demand_w", l+"_on"
	}
	return names
}()

func num[T ~float64](name string, r fractals.Reading[T]) reading {
	return reading{name, float64(r.Value), r.Quality}
}

func flag(name string, r fractals.Reading[bool]) reading {
	v := 0.0
	if r.Value {
		v = 1
	}
	return reading{name, v, r.Quality}
}

// energyOf lists the energy counters in Wh.
func energyOf(e *fractals.Energy) []reading {
	return []reading{{"pv", float64(e.PV), fractals.Good}, {"load", float64(e.Load), fractals.Good},
		{"battery_charge", float64(e.BatteryCharge), fractals.Good}, {"battery_discharge", float64(e.BatteryDischarge), fractals.Good},
		{"grid_import", float64(e.GridImport), fractals.Good}, {"grid_export", float64(e.GridExport), fractals.Good}}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
