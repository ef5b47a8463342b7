package telemetry

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fractals-energy/fractals/fractals"
)

// haEntity is one Home Assistant entity of the unit, read from the state topic's JSON.
type haEntity struct {
	component   string // sensor, binary_sensor, number
	key         string // JSON key in the state payload, also the object id
	name        string
	deviceClass string
	stateClass  string
	unit        string
	group       string // "" every unit's; mesh or ledger: announced when the unit has one
}

// haEntities are the entities the discovery announces; the state payload carries every key.
var haEntities = []haEntity{
	{"sensor", "pv_power_w", "PV power", "power", "measurement", "W", ""},
	{"sensor", "battery_power_w", "Battery power (charging +)", "power", "measurement", "W", ""},
	{"sensor", "grid_power_w", "Grid power (import +)", "power", "measurement", "W", ""},
	{"sensor", "loads_power_w", "Loads power", "power", "measurement", "W", ""},
	{"sensor", "ev_power_w", "EV power", "power", "measurement", "W", ""},
	{"sensor", "soc_pct", "Battery state of charge", "battery", "measurement", "%", ""},
	{"sensor", "grid_voltage_v", "Grid voltage", "voltage", "measurement", "V", ""},
	{"sensor", "grid_frequency_hz", "Grid frequency", "frequency", "measurement", "Hz", ""},
	{"sensor", "energy_pv_wh", "PV energy", "energy", "total_increasing", "Wh", ""},
	{"sensor", "energy_load_wh", "Load energy", "energy", "total_increasing", "Wh", ""},
	{"sensor", "energy_battery_charge_wh", "Battery energy charged", "energy", "total_increasing", "Wh", ""},
	{"sensor", "energy_battery_discharge_wh", "Battery energy discharged", "energy", "total_increasing", "Wh", ""},
	{"sensor", "energy_grid_import_wh", "Grid energy imported", "energy", "total_increasing", "Wh", ""},
	{"sensor", "energy_grid_export_wh", "Grid energy exported", "energy", "total_increasing", "Wh", ""},
	{"sensor", "mode", "Mode", "enum", "", "", ""},
	{"binary_sensor", "safe_mode", "Safe mode", "problem", "", "", ""},
	{"binary_sensor", "grid_present", "Grid present", "power", "", "", ""},
	{"number", "reserve_soc_pct", "Reserve state of charge", "battery", "", "%", ""},
	{"switch", "planned_island", "Planned island", "switch", "", "", ""},
	{"select", "ev_mode", "EV charging mode", "", "", "", ""},
	{"sensor", "island_phase", "Island phase", "enum", "", "", ""},
	{"sensor", "market_net_exchange_w", "Market commitment, net exchange (import +)", "power", "measurement", "W", ""},
	{"sensor", "market_ev_w", "Market commitment, EV", "power", "measurement", "W", ""},
	{"sensor", "mesh_peers_connected", "Mesh peers connected", "", "measurement", "", "mesh"},
	{"sensor", "mesh_msgs_in", "Mesh messages in", "", "total_increasing", "", "mesh"},
	{"sensor", "mesh_msgs_out", "Mesh messages out", "", "total_increasing", "", "mesh"},
	{"sensor", "mesh_bytes_in", "Mesh bytes in", "data_size", "total_increasing", "B", "mesh"},
	{"sensor", "mesh_bytes_out", "Mesh bytes out", "data_size", "total_increasing", "B", "mesh"},
	{"sensor", "mesh_drops", "Mesh messages dropped", "", "total_increasing", "", "mesh"},
	{"sensor", "ledger_channels", "Payment channels", "", "measurement", "", "ledger"},
	{"sensor", "ledger_sent", "Paid over channels (micro-units)", "", "total_increasing", "", "ledger"},
	{"sensor", "ledger_received", "Received over channels (micro-units)", "", "total_increasing", "", "ledger"},
	{"sensor", "ledger_pending_chain_actions", "Chain actions pending", "", "measurement", "", "ledger"},
}

// commandEntity says whether e takes commands, and so is announced only when its target is set.
func (e haEntity) commandEntity() bool {
	return e.component == "number" || e.component == "switch" || e.component == "select"
}

// Topics is the unit's topic tree (documented in the README).
type Topics struct {
	Prefix, Discovery, Unit string
}

// Base is <prefix>/<unit>.
func (t Topics) Base() string { return t.Prefix + "/" + t.Unit }

// State carries the JSON state, retained.
func (t Topics) State() string { return t.Base() + "/state" }

// Availability is online or offline (the last will), retained.
func (t Topics) Availability() string { return t.Base() + "/availability" }

// Set is where a command for key arrives.
func (t Topics) Set(key string) string { return t.Base() + "/set/" + key }

// Config is the discovery topic of an entity.
func (t Topics) Config(e haEntity) string {
	return fmt.Sprintf("%s/%s/%s/%s/config", t.Discovery, e.component, objectID(t.Unit), e.key)
}

// objectID makes a unit name safe for discovery topics and unique ids ([a-zA-Z0-9_-]).
func objectID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// discoveryConfig is the retained config payload of entity e.
func discoveryConfig(t Topics, e haEntity, version string) []byte {
	id := objectID(t.Unit)
	c := map[string]any{
		"name":               e.name,
		"unique_id":          "fractals_" + id + "_" + e.key,
		"object_id":          "fractals_" + id + "_" + e.key,
		"state_topic":        t.State(),
		"value_template":     "{{ value_json." + e.key + " }}",
		"availability_topic": t.Availability(),
		"device": map[string]any{
			"identifiers":  []string{"fractals_" + id},
			"name":         "FRACTALS " + t.Unit,
			"manufacturer": "FRACTALS",
			"model":        "MeshBox++",
			"sw_version":   version,
		},
	}
	if e.deviceClass != "" {
		c["device_class"] = e.deviceClass
	}
	if e.stateClass != "" {
		c["state_class"] = e.stateClass
	}
	if e.unit != "" {
		c["unit_of_measurement"] = e.unit
	}
	switch e.component {
	case "binary_sensor":
		c["value_template"] = "{{ 'ON' if value_json." + e.key + " else 'OFF' }}"
	case "number":
		c["command_topic"] = t.Set(e.key)
		c["min"], c["max"], c["step"], c["mode"] = 0, 100, 1, "box"
	case "switch":
		c["command_topic"] = t.Set(e.key)
		c["value_template"] = "{{ 'ON' if value_json." + e.key + " else 'OFF' }}"
		c["payload_on"], c["payload_off"] = "ON", "OFF"
	case "select":
		c["command_topic"] = t.Set(e.key)
		c["options"] = fractals.EVModeNames()
	}
	if e.key == "mode" {
		c["options"] = []string{"connected", "islanded"}
	}
	out, _ := json.Marshal(c) // a map of strings, numbers and slices always encodes
	return out
}
