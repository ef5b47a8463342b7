package mqtt

import (
	"fmt"
	"time"
)

// Victron is the mapping of a Victron Venus OS (GX device) system in ESS mode 3 (external
// control): N/ topics carry {"value": ...} payloads, W/ topics take writes, and
// R/<portal>/keepalive must be sent at least every minute for N/ topics to keep coming. vebus is
// the Multi's VE.Bus instance (276 on many systems, but it differs: the unit file's
// vebus_instance).
//
// The only power command of ESS mode 3, Hub4/L1/AcPowerSetpoint, is the power at the Multi's AC
// input (positive imports), not the battery's: AC-in = battery charge + AC-out consumption − DC
// PV. The mapping therefore gives it as CmdACInSetpoint with the points needed to convert a
// battery target into it (AC-out consumption, DC PV, the ESS mode); Inverter.SetBatteryPower does
// the conversion. AC-coupled PV on the Multi's output is not accounted for (a system with a PV
// inverter on AC-out needs it in the consumption figure, which Venus OS does not do).
func Victron(portalID string, vebus int) Mapping {
	n := func(path string) Binding {
		return Binding{Topic: fmt.Sprintf("N/%s/%s", portalID, path), Field: "value"}
	}
	return Mapping{
		Points: map[string]Binding{
			BatterySoC:     n("system/0/Dc/Battery/Soc"),
			BatteryPower:   n("system/0/Dc/Battery/Power"),
			PVPower:        n("system/0/Dc/Pv/Power"),
			ACOutPower:     n("system/0/Ac/ConsumptionOnOutput/L1/Power"),
			ESSMode:        n("settings/0/Settings/CGwacs/Hub4Mode"),
			MeterPower:     n("system/0/Ac/Grid/L1/Power"),
			MeterVoltage:   n(fmt.Sprintf("vebus/%d/Ac/ActiveIn/L1/V", vebus)),
			MeterFrequency: n(fmt.Sprintf("vebus/%d/Ac/ActiveIn/L1/F", vebus)),
		},
		Commands: map[string]Binding{
			CmdACInSetpoint: {Topic: fmt.Sprintf("W/%s/vebus/%d/Hub4/L1/AcPowerSetpoint", portalID, vebus), Field: "value"},
		},
		Keepalive:  &Keepalive{Topic: fmt.Sprintf("R/%s/keepalive", portalID), Every: VictronKeepalive},
		StaleAfter: VictronStaleAfter(VictronKeepalive),
	}
}

// VictronKeepalive is how often the Victron preset sends its keepalive (Venus OS stops publishing
// a minute after the last one); each keepalive makes Venus OS republish every N/ topic.
const VictronKeepalive = 30 * time.Second

// VictronStaleAfter is how long a Venus OS value lasts: Venus OS publishes a value only when it
// changes, plus a full republish on every keepalive, so a steady value is renewed once per
// keepalive; two intervals allow one republish to be late.
func VictronStaleAfter(keepalive time.Duration) time.Duration { return 2 * keepalive }

// OpenDTUPublishInterval is OpenDTU's default MQTT publish interval.
const OpenDTUPublishInterval = 5 * time.Second

// OpenDTUStaleAfter is how long an OpenDTU value lasts: OpenDTU republishes every value each
// publish interval, and three intervals allow two to be missed (the inverter's radio link to the
// DTU drops polls now and then).
func OpenDTUStaleAfter(publishInterval time.Duration) time.Duration { return 3 * publishInterval }

// OpenDTU is the mapping of one Hoymiles micro-inverter behind OpenDTU: bare-number payloads under
// <prefix><serial>/, channel 0 is the AC side, and the non-persistent absolute limit (W) is the
// command (persistent limits wear the inverter's flash). OpenDTU publishes retained values and
// refreshes them each publish interval while the inverter is awake; but a Hoymiles inverter
// sleeps at night (and its radio link drops), and then the broker keeps handing out its last
// reading, retained, to every (re)connecting client: the power of the afternoon would read as
// fresh at midnight. So retained messages count as stale until a live one arrives, as with
// Victron; set TrustRetained on the mapping (trust_retained in the unit file) to accept them.
func OpenDTU(prefix, serial string) Mapping {
	if prefix == "" {
		prefix = "solar/"
	}
	t := func(path string) Binding { return Binding{Topic: prefix + serial + "/" + path} }
	return Mapping{
		Points: map[string]Binding{
			PVPower:        t("0/power"),
			MeterVoltage:   t("0/voltage"),
			MeterFrequency: t("0/frequency"),
		},
		Commands: map[string]Binding{
			CmdPVLimit: t("cmd/limit_nonpersistent_absolute"),
		},
		StaleAfter: OpenDTUStaleAfter(OpenDTUPublishInterval),
	}
}
