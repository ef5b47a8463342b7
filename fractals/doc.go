// Package fractals is the controller of one MeshBox++ unit: the control cycle (read every device into
// an immutable Snapshot, run the pure Step, write the resulting Commands, record), the controllers and
// their arbitration in a fixed priority order (protection › islanding › reserve state of charge ›
// critical loads › the unit's own services › market schedule › optimisation), protection and
// islanding: Protect is the protection tick (the IEEE 1547 relay, the PCC island detector and the
// enter-service wait from grid/, held as values in State.Protection) and moves the island state
// machine (connected, opening, islanded, synchronising, closing, stuck_closed, blackout), every
// transition an event with its reason; Step runs one tick on each cycle's snapshot, the firmware more
// between cycles. Islanded, the unit's services are degraded in steps (ServiceStep) before their
// relays are cut, and load relays are supervised against their feedback.
//
// The unit's side of the community market:
//
//   - forecast.go: PV from the PVWatts model of the unit's own array (internal/solar) scaled by a
//     clear-sky index learnt from its own production (recent near term, relaxing to a slow average
//     further ahead); loads from a per-slot-of-day profile of their recent demand.
//   - agents.go: MarketConfig (interval, horizon, TOU import tariff, export price, load values and
//     service tiers, battery wear from price, cycle life and depth of discharge, PV offer at its LCOE)
//     and BuildAgents, the unit's auction agents for one interval: critical circuit as unresponsive
//     demand, Wi-Fi and storage as essential and degradable tiers, the EV by its deadline, the battery
//     above the floor islanding needs, the grid agent only while connected.
//   - market.go: the market controller in Step, between services and optimisation. It steers EV,
//     battery and PV toward State.Schedule's committed net exchange inside what the higher controllers
//     allowed; islanded, in safe mode or outside the period it does nothing.
//   - settle.go: Settle, the pure settlement of one period for one unit: trades at their committed
//     prices, the metered deviation as imbalance (with the grid at its tariff when connected, with the
//     island's imbalance pool at the period's clearing price when islanded), Ed25519-signed meter
//     readings checked against their keys, the period and the feeder balance, held trades with a
//     reason, and payment intents keyed by (interval, trade) so none is issued twice.
//
// Step is a pure function of (state, snapshot, configuration): it reads no clock, does no I/O and
// allocates nothing on the steady path, so the same code runs on hardware, in the HIL rig and in the
// simulator. Reading and writing devices happens only in Read and Writer, through the der interfaces.
package fractals
