// Package firmware is the unit runtime: configuration, wiring devices (real or simulated) to the
// controller, the cycle loop on the injected clock, storage, telemetry, the HTTP API and the watchdog.
// It may import every package but cmd; it holds no control logic of its own.
//
// community*.go and feeder.go are the community simulator: SimulateCommunity runs N simulated units
// in lockstep on one simulated clock; every market interval their agents clear in one market (the
// CommunityMarket interface, today auction's ADMM exchange or central solve in this process, with the
// central optimum of the same bids computed for comparison); each unit's Step follows its schedule;
// after each period every unit signs its meter reading, settles (fractals.Settle) against the others'
// readings and the feeder's AC power flow and balance, and pays over real ledger nodes (a bbolt file
// each, the in-process transport, channels along a binary tree of the units, mediated beyond a
// partner). There is no mesh in it yet.
package firmware
