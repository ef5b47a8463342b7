// Package firmware is the unit runtime: configuration, wiring devices (real or simulated) to the
// controller, the cycle loop on the injected clock, storage, telemetry, the HTTP API and the watchdog.
// Operations: observers see the status after every cycle (observe.go); the state file in the data
// directory (state.go, bbolt), with the market commitment in force and the ledger's store, account and
// channel nonces beside the counters, checked against the running ledger at start (staterefs.go); the dashboard at / with its in-memory history (dashboard.go,
// history.go, web/); systemd's READY and WATCHDOG from the loop (watchdog.go); operator settings
// applied between cycles (settings.go). The reporters (InfluxDB, MQTT, Prometheus) are in
// firmware/telemetry.
// The unit key and its mesh node (GET /api/mesh) are identity.go and mesh.go.
// The ledger (ledger.go, ledger_api.go): with a channels section the daemon runs the unit's payment
// channels (store, TCP listener for the neighbours, chain keeper; opens and tops up channels when the
// chain answers) and serves /api/ledger/; ledgermesh.go carries ledger frames over the mesh.
// It may import every package but cmd; it holds no control logic of its own.
//
// community*.go and feeder.go are the community simulator: SimulateCommunity runs N simulated units
// in lockstep on one simulated clock; every market interval their agents clear in one market (the
// CommunityMarket interface, today auction's ADMM exchange or central solve in this process, with the
// central optimum of the same bids computed for comparison); each unit's Step follows its schedule;
// after each period every unit signs its meter reading, settles (fractals.Settle) against the others'
// readings and the feeder's AC power flow and balance, and pays over real ledger nodes (a bbolt file
// each, the in-process transport, channels along a binary tree of the units, mediated beyond a
// partner). The signed meter readings travel over the in-memory mesh (package mesh's MemNetwork, the
// units linked along the same tree, with loss and jitter as options). With MethodConsensus the market
// runs over that mesh too (communityconsensus.go: an auction.ConsensusPeer per unit, trading with the
// neighbours it is linked to at that interval). The scenarios: a partition window cuts the mesh link
// and the channel between unit 1's half of the tree and the rest (each part clears alone); an
// Adversary (communityadversary.go) forges, replays or floods market envelopes; RepeatPayments pays
// every intent twice with its id; RecordIntervals keeps every interval's clearing and metered energy.
// MethodConsensus is the default method.
//
// communitypeer.go is the running unit's market: UnitMarket bids the unit's agents every interval,
// negotiates with its connected devp2p neighbours by an auction.ConsensusPeer, commits the first period
// as the unit's schedule and serves /api/market (fractalsd --community, and a unit file with mesh: and
// market:). It does not yet settle or pay the daemon's trades.
package firmware
