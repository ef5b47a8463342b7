package rig

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fractals-energy/fractals/hil"
)

// UnitYAML is a unit configuration (firmware/config's format) that points the daemon at this rig's
// devices, as an installer would write it for the real unit; cycle is the daemon's control cycle.
// The site section copies the plant's nameplates.
func (r *Rig) UnitYAML(cycle time.Duration) string {
	pc := r.cfg.Plant
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# The unit as the HIL rig serves it (written by hilrig).")
	w("name: hil-unit")
	w("cycle: %v", cycle)
	w("gateways:")
	// A request must give up well inside a cycle, or a silent device costs the controller cycles.
	w("  - {name: rig, protocol: modbus-tcp, address: %q, timeout: %v, max_concurrent: 1,", r.ModbusAddr(), min(cycle/2, 300*time.Millisecond))
	w("     write_read_delay: 5ms, backoff_min: 200ms, backoff_max: 2s}")
	w("mqtt: {broker: %q, client_id: fractalsd}", r.BrokerURL())
	w("pin_server: {address: %q, timeout: 300ms}", r.PinAddr())
	w("site:")
	w("  stale_limit: %v", 4*cycle)
	w("  battery_capacity_wh: %g", float64(pc.Battery.Capacity))
	w("  battery_max_charge_w: %g", float64(pc.Battery.MaxCharge))
	w("  battery_max_discharge_w: %g", float64(pc.Battery.MaxDischarge))
	w("  soc_min: %g", float64(pc.Battery.SoCMin))
	w("  soc_max: %g", float64(pc.Battery.SoCMax))
	w("  reserve: %g", max(0.2, float64(pc.Battery.SoCMin)))
	w("  max_import_w: %g", float64(pc.Grid.MaxImport))
	w("  max_export_w: %g", float64(pc.Grid.MaxExport))
	w("  nominal_voltage: %g", float64(pc.Grid.NominalVoltage))
	w("  nominal_frequency: %g", float64(pc.Grid.NominalFrequency))
	// The rig's plant may run many times faster than the daemon: a 300 s enter-service delay would
	// keep the unit islanded for hours of plant time after a short outage.
	w("  reconnect_delay: %v", 10*cycle)
	w("devices:")
	w("  - name: inverter")
	w("    protocol: sunspec")
	w("    roles: [pv, battery]")
	w("    gateway: rig")
	w("    unit: %d", InverterUnit)
	w("    revert: 20s")
	w("    poll: {fast: [103, 124, 160, 802, 701], slow: [1, 120, 121, 123], slow_every: 60}")
	mqttDevice := func(name, role string, topics map[string]string, commands map[string]string) {
		w("  - name: %s", name)
		w("    protocol: mqtt")
		w("    roles: [%s]", role)
		w("    topics:")
		for _, k := range sortedKeys(topics) {
			w("      %s: %s", k, topics[k])
		}
		if len(commands) > 0 {
			w("    commands:")
			for _, k := range sortedKeys(commands) {
				w("      %s: %s", k, commands[k])
			}
		}
	}
	mqttDevice("meter", "meter", r.meterTopics(), nil)
	mqttDevice("ev", "ev", evTopics(r.cfg.Topic), map[string]string{"ev.setpoint": evCommandTopic(r.cfg.Topic)})
	for k := hil.LoadKind(0); k < hil.NumLoads; k++ {
		mqttDevice(fmt.Sprintf("%s-meter", k), fmt.Sprintf("load%d_power", k), loadTopics(r.cfg.Topic, k), nil)
	}
	w("  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: %s, feedback: %s}}", PinPCCCoil, PinPCCFeedback)
	w("  - {name: grid-present, protocol: gpio, roles: [grid_present], pins: {input: %s}, debounce: 50ms}", PinGridOK)
	for k := hil.LoadKind(0); k < hil.NumLoads; k++ {
		w("  - {name: %s, protocol: gpio, roles: [load%d], pins: {relay: %s, feedback: %s}}", k, k, LoadCoil(k), LoadFeedback(k))
	}
	r.servicesYAML(w)
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
