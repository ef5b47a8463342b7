// Package gpio drives the unit's relays and contactors and reads its digital inputs through
// periph.io's conn/v3 gpio pins: the point-of-common-coupling breaker and the load-shedding relays
// (each with a feedback contact and optional interlocks), and debounced inputs such as grid-present,
// door and fault. It adapts them to the der.Switch and der.Load interfaces.
//
// It also holds a small line protocol over TCP through which a gpio.PinIO reaches pins that live in
// another process (the HIL rig's pin server), so that the daemon's GPIO code runs unmodified
// against the rig.
//
// It is the `gpio` driver of the unit file (driver.go, der.Register): DriverConfig (pins,
// debounce, interlock, meter, nominal_w) opens a relay (pcc, load<k>; lent to others' interlocks)
// or a debounced input (grid_present, door, fault) on the pin server or the host's lines (periph's
// host drivers), claims its lines, and links interlocks and load meters once every device is open.
//
// It makes no control decisions: it switches what it is told, refuses what an interlock forbids,
// and reports what the feedback contacts say.
package gpio
