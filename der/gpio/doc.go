// Package gpio drives the unit's relays and contactors and reads its digital inputs through
// periph.io's conn/v3 gpio pins: the point-of-common-coupling breaker and the load-shedding relays
// (each with a feedback contact and optional interlocks), and debounced inputs such as grid-present,
// door and fault. It adapts them to the der.Switch and der.Load interfaces.
//
// It also holds a small line protocol over TCP through which a gpio.PinIO reaches pins that live in
// another process (the HIL rig's pin server), so that the daemon's GPIO code runs unmodified
// against the rig. It makes no control decisions: it switches what it is told, refuses what an
// interlock forbids, and reports what the feedback contacts say.
package gpio
