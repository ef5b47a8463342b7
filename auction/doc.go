// Package auction holds the markets in which units trade energy: bids and bid curves, curve aggregation
// for hierarchical clusters, uniform-price double-auction clearing, prosumer agents derived from
// service-level agreements, and multi-period welfare maximisation both centralised (a linear program)
// and distributed (primal-dual ADMM exchange, one agent per unit). It is a pure package: no clock, no
// network, no disk.
//
// What is where:
//
//   - bid.go, clear.go: step bids and the uniform-price clearing of one interval with GridLAB-D's
//     outcomes (exact, marginal seller/buyer/price, null, failure), price cap, bid offset, pro-rata
//     sharing at the margin. Market.Clear is the fast path (select.go: a histogram over prices and an
//     exact walk of only the buckets around the crossing, no full sort); Market.ClearReference sorts
//     everything and is the oracle the tests hold Clear to.
//   - curve.go: PowerMatcher-style curves on a price grid; Aggregate sums members into a cluster and
//     Curve.Bids turns the cluster back into bids for the auction above (the fractal structure).
//   - agent.go, lpmodel.go: the SLA agents (load, flexible load, battery, PV, grid) and their block of the
//     welfare linear program, in kW, kWh and money per period.
//   - central.go, solve.go: the centralised reference, a Mehrotra interior-point method that eliminates
//     each agent's block and solves a T×T Schur complement per step (linear in the number of agents).
//   - prox.go, battery.go, admm.go, warmstart.go: the distributed method. Each agent's step is an exact
//     proximal operator of its own cost (closed form; bisection to adjacent floats for the flexible
//     load's budget; a taut string through the energy tube for the battery) and a pure function of its
//     state and the coordinator's Signal; the coordinator's update is a pure function of the responses.
//   - restore.go: the stop. Each agent also reports its dual value at the broadcast prices (their sum
//     bounds the welfare from above) and its single-period moves with their costs; the coordinator
//     closes each period's imbalance with the cheapest moves and stops when that exactly balanced
//     schedule is certified within 0.09 % of the bound, measured against the welfare without the value
//     of unresponsive demand served (which would otherwise dwarf what prices decide). The reported
//     prices are those of the best bound, kept with the certificate.
//   - json.go: the strict readers and writers behind `fractals auction clear|solve`. Each bid and agent
//     is decoded on its own, so every error names its index, id and field in JSON's terms; every field
//     an agent's kind takes is required (but a battery's initial_wh) and no other is accepted.
//
// Conventions: a schedule is net power in W per period, consumption positive (a charging battery and an
// exporting grid connection are positive); prices are per kWh.
//
// What it must not do: import anything above internal and gonum, read the clock, do I/O beyond the
// io.Reader handed to the JSON readers, or loop forever: every iterative method has an iteration limit
// and reports ErrNotConverged.
package auction
