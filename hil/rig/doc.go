// Package rig is the hardware-in-the-loop rig: it runs a simulated plant (hil.Plant) on its own clock
// and presents its devices over the protocols real hardware speaks, so that the unmodified daemon
// can be tested against it:
//
//   - the hybrid inverter as a SunSpec register map (models 1, 103, 120-124, 160, 802, 701-704) on
//     a Modbus TCP listener, unit id 1, whose registers follow the plant and whose control registers
//     (123, 124, 704: active power limits, battery set-point, reactive power by 704 VarSet or 123
//     VArWMaxPct, and 123 Conn, the connect/disconnect a black start goes through) drive it, with
//     the inverter's own revert timers;
//   - the PCC meter, the EV charger and the load circuits' power over MQTT (an embedded broker by
//     default, or any broker such as Mosquitto);
//   - the PCC breaker, the load relays and the grid-present input as GPIO lines on a pin server
//     (der/gpio's line protocol), with feedback contacts;
//   - when Config.HostapdSocket is set, the access point's hostapd control interface (a unix
//     datagram socket) and the IGFS storage node's HTTP API, protocol state only.
//
// Faults are injected per device: offline, slow replies, Modbus exception codes, garbage registers,
// broker down, stuck relay, and a trip of the inverter's grid-forming stage (a full blackout of the
// island until the controller black-starts it). The plant's truth is served as JSON for assertions.
//
// The rig never imports the controller (fractals) or the runtime (firmware): it sees the controller
// only through the protocols.
package rig
