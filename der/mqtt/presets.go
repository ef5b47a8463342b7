package mqtt

import (
	"fmt"
	"time"
)

// Victron is the mapping of a Victron Venus OS (GX device) system in ESS mode: N/ topics carry
// {"value": ...} payloads, W/ topics take writes, and R/<portal>/keepalive must be sent at least
// every minute for N/ topics to keep coming. The battery set-point is the ESS mode-3 set-point of
// the Multi (Hub4 L1 AcPowerSetpoint, positive charges); vebus is its instance (often 276).
func Victron(portalID string, vebus int) Mapping {
	n := func(path string) Binding {
		return Binding{Topic: fmt.Sprintf("N/%s/%s", portalID, path), Field: "value"}
	}
	return Mapping{
		Points: map[string]Binding{
			BatterySoC:     n("system/0/Dc/Battery/Soc"),
			BatteryPower:   n("system/0/Dc/Battery/Power"),
			PVPower:        n("system/0/Dc/Pv/Power"),
			MeterPower:     n("system/0/Ac/Grid/L1/Power"),
			MeterVoltage:   n(fmt.Sprintf("vebus/%d/Ac/ActiveIn/L1/V", vebus)),
			MeterFrequency: n(fmt.Sprintf("vebus/%d/Ac/ActiveIn/L1/F", vebus)),
		},
		Commands: map[string]Binding{
			CmdBatterySetting: {Topic: fmt.Sprintf("W/%s/vebus/%d/Hub4/L1/AcPowerSetpoint", portalID, vebus), Field: "value"},
		},
		Keepalive: &Keepalive{Topic: fmt.Sprintf("R/%s/keepalive", portalID), Every: 30 * time.Second},
	}
}

// OpenDTU is the mapping of one Hoymiles micro-inverter behind OpenDTU: bare-number payloads under
// <prefix><serial>/, channel 0 is the AC side, and the non-persistent absolute limit (W) is the
// command (persistent limits wear the inverter's flash). OpenDTU publishes retained values and
// refreshes them every few seconds, so retained messages are trusted.
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
		TrustRetained: true,
	}
}
